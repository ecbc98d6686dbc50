/**
 * The command-line spelling of every element field a person may change: one flag per schema
 * field (or per key of an object field such as `daily`), shared by `elements add`, `elements set`
 * and the CSV columns of `elements import|export`.
 *
 * The flags only turn text into the JSON value the document holds (`"250"` -> 250, `"80%"` ->
 * 0.8, `"1-5"` -> [1, 2, 3, 4, 5]); they never judge the value. Validation and its messages come
 * from the element schema (`src/store/schemas.ts`) when the store checks the document; a field in
 * a refusal is named with its flag by {@link flagOfField}.
 *
 * @module
 */
import { type Command, InvalidArgumentError, Option } from "commander";
import { isAbsolute, resolve } from "node:path";
import { RiskGuardError } from "../shared/errors.ts";
import { isRecord, type ParsedElement } from "../store/mod.ts";

/** How a flag's text becomes a document value. */
type Kind =
  | "string"
  | "number"
  | "limit"
  | "fraction"
  | "boolean"
  | "days"
  | "weekday"
  | "window";

/** One flag of one element field (or of one key of an object field). */
export interface FieldFlag {
  /** Flag name without dashes, also the CSV column (`max-daily-loss`, `daily-reset`). */
  name: string;
  /** Top-level document field. */
  field: string;
  /** Key inside an object field (`daily.reset` -> `reset`); absent for top-level values. */
  key?: string;
  /** How the text is read. */
  kind: Kind;
  /** Argument placeholder in the help. */
  arg: string;
  /** What the code does with it, for `--help`. */
  help: string;
  /** An example value for `--help`. */
  example: string;
}

/**
 * Every element field a person may set from the command line (except the password, the rules
 * and the unlock, which have their own flags). Order is the order of `--help` and of CSV columns.
 */
export const FIELD_FLAGS: readonly FieldFlag[] = [
  {
    name: "name",
    field: "name",
    kind: "string",
    arg: "<label>",
    help: "a label shown by list and status",
    example: "ftmo-100k",
  },
  {
    name: "server",
    field: "server",
    kind: "string",
    arg: "<name>",
    help: "MT5 trade server",
    example: "FTMO-Demo",
  },
  {
    name: "login",
    field: "login",
    kind: "number",
    arg: "<number>",
    help: "MT5 account number",
    example: "5012345",
  },
  {
    name: "max-daily-loss",
    field: "max_daily_loss",
    kind: "limit",
    arg: "<limit>",
    help: "loss of the trading day at which the day is locked and positions closed: money, or " +
      "percent of the day's baseline (--baseline)",
    example: "5%",
  },
  {
    name: "max-position-risk",
    field: "max_position_risk",
    kind: "limit",
    arg: "<limit>",
    help: "the most one position may lose at its stop loss: money, or percent of the current " +
      "balance",
    example: "1%",
  },
  {
    name: "max-profit",
    field: "max_profit",
    kind: "limit",
    arg: "<limit>",
    help: "daily profit at which the day is locked in: money, or percent of the day's baseline",
    example: "1000",
  },
  {
    name: "max-drawdown",
    field: "max_drawdown",
    key: "limit",
    kind: "limit",
    arg: "<limit>",
    help: "equity floor below the drawdown reference (--drawdown-mode); reaching it locks the " +
      "account permanently: money, or percent of the initial balance (--initial-balance, else " +
      "the first balance seen)",
    example: "10%",
  },
  {
    name: "drawdown-mode",
    field: "max_drawdown",
    key: "mode",
    kind: "string",
    arg: "<mode>",
    help: "static: floor = initial balance - limit; trailing_balance / trailing_equity: the " +
      "floor follows the highest balance / equity (default static)",
    example: "trailing_equity",
  },
  {
    name: "drawdown-stop-at-initial",
    field: "max_drawdown",
    key: "stop_at_initial",
    kind: "boolean",
    arg: "",
    help: "trailing modes: the floor stops rising once it reaches the initial balance " +
      "(--no-drawdown-stop-at-initial: it keeps trailing, the default)",
    example: "",
  },
  {
    name: "daily-reset",
    field: "daily",
    key: "reset",
    kind: "string",
    arg: "<HH:MM>",
    help: "time at which the trading day resets, in --timezone (default 00:00)",
    example: "17:00",
  },
  {
    name: "timezone",
    field: "daily",
    key: "timezone",
    kind: "string",
    arg: "<zone>",
    help: "time zone of --daily-reset: server (the trade server's clock, the default) or an " +
      "IANA name",
    example: "Europe/Prague",
  },
  {
    name: "baseline",
    field: "daily",
    key: "baseline",
    kind: "string",
    arg: "<baseline>",
    help: "the day's baseline, taken at the reset: balance (default), equity, or max (the " +
      "higher of both)",
    example: "max",
  },
  {
    name: "warn-at",
    field: "warn_at",
    kind: "fraction",
    arg: "<share>",
    help: "warn once a day when a limit is used up to this share: a percent or a fraction " +
      "(default 80%)",
    example: "80%",
  },
  {
    name: "require-stop-loss",
    field: "require_stop_loss",
    kind: "boolean",
    arg: "",
    help: "a position without a stop loss is a breach (--no-require-stop-loss: it is only " +
      "warned about when --max-position-risk is set, the default)",
    example: "",
  },
  {
    name: "position-risk-action",
    field: "position_risk_action",
    kind: "string",
    arg: "<action>",
    help: "what a --max-position-risk breach does: close the position (default) or notify only",
    example: "notify",
  },
  {
    name: "max-open-positions",
    field: "max_open_positions",
    kind: "number",
    arg: "<n>",
    help: "most positions open at once; the newest beyond it are closed",
    example: "5",
  },
  {
    name: "max-total-lots",
    field: "max_total_lots",
    kind: "number",
    arg: "<lots>",
    help: "most lots open in total; the newest positions are closed while above it",
    example: "10",
  },
  {
    name: "max-lots-per-symbol",
    field: "max_lots_per_symbol",
    kind: "number",
    arg: "<lots>",
    help: "most lots open per symbol; the newest position of the symbol is closed while above it",
    example: "2.5",
  },
  {
    name: "trading-hours",
    field: "trading_hours",
    kind: "window",
    arg: "<start-end>",
    help:
      "allowed trading window HH:MM-HH:MM in --trading-timezone (end before start: overnight; " +
      "outside it the day is locked and positions closed)",
    example: "08:00-21:00",
  },
  {
    name: "trading-timezone",
    field: "trading_hours",
    key: "timezone",
    kind: "string",
    arg: "<zone>",
    help: "time zone of --trading-hours: server (default) or an IANA name",
    example: "Europe/London",
  },
  {
    name: "trading-days",
    field: "trading_hours",
    key: "days",
    kind: "days",
    arg: "<days>",
    help: "weekdays the --trading-hours window starts on: 1 = Monday .. 7 = Sunday, a list or a " +
      "range (default every day)",
    example: "1-5",
  },
  {
    name: "close-before-weekend",
    field: "close_before_weekend",
    key: "time",
    kind: "string",
    arg: "<HH:MM>",
    help: "from this time on --close-before-weekend-day until Monday 00:00 the day is locked " +
      "and positions closed",
    example: "21:45",
  },
  {
    name: "close-before-weekend-day",
    field: "close_before_weekend",
    key: "day",
    kind: "weekday",
    arg: "<day>",
    help: "weekday of --close-before-weekend: 1 = Monday .. 7 = Sunday (default 5, Friday)",
    example: "5",
  },
  {
    name: "close-before-weekend-timezone",
    field: "close_before_weekend",
    key: "timezone",
    kind: "string",
    arg: "<zone>",
    help: "time zone of --close-before-weekend: server (default) or an IANA name",
    example: "America/New_York",
  },
  {
    name: "initial-balance",
    field: "initial_balance",
    kind: "number",
    arg: "<money>",
    help: "the account's starting balance: the static drawdown reference and the base of a " +
      "percent --max-drawdown (default: the first balance seen)",
    example: "100000",
  },
  {
    name: "pin-host",
    field: "pin_host",
    kind: "string",
    arg: "<host>",
    help: "the only host whose admin may claim this account (--no-pin-host or '' clears it)",
    example: "vps-1",
  },
];

/** Flags that `elements set` spells differently: there `--server` picks the account. */
const SET_NAMES: Readonly<Record<string, string>> = { server: "new-server", login: "new-login" };

/** The flag name of a field flag in `add` (and CSV) or in `set`. */
export function flagName(flag: FieldFlag, command: "add" | "set"): string {
  return command === "set" ? SET_NAMES[flag.name] ?? flag.name : flag.name;
}

/** Commander's camelCase key of a flag name (`max-daily-loss` -> `maxDailyLoss`). */
function optionKey(name: string): string {
  return name.replace(/-([a-z])/g, (_, letter: string) => letter.toUpperCase());
}

/**
 * Adds every field flag to `command` (except those in `skip`), each with its help and example,
 * plus `--rule <file>` / `--rule-options <json>` (repeatable, in pairs).
 */
export function addFieldOptions(
  command: Command,
  which: "add" | "set",
  skip: readonly string[] = [],
): Command {
  for (const flag of FIELD_FLAGS) {
    if (skip.includes(flag.name)) continue;
    const name = flagName(flag, which);
    const example = flag.example === "" ? "" : ` (e.g. --${name} ${shellQuote(flag.example)})`;
    if (flag.kind === "boolean") {
      command.addOption(new Option(`--${name}`, `${flag.help}`));
      command.addOption(new Option(`--no-${name}`).hideHelp());
    } else {
      command.addOption(new Option(`--${name} ${flag.arg}`, `${flag.help}${example}`));
      if (flag.field === "pin_host") command.addOption(new Option(`--no-${name}`).hideHelp());
    }
  }
  const rules: { module: string; options?: unknown }[] = [];
  command.addOption(
    new Option(
      "--rule <file>",
      "plugin rule file, stored as an absolute path (repeatable" +
        (which === "set" ? "; replaces the current list" : "") +
        "; check it first with `riskguard rules check <file>`) (e.g. --rule C:/rules/news.ts)",
    ).argParser((file: string) => {
      rules.push({ module: absolutePath(file) });
      return rules;
    }),
  );
  command.addOption(
    new Option(
      "--rule-options <json>",
      `options of the --rule before it, a JSON object (e.g. --rule-options '{"events":["08:30"]}')`,
    ).argParser((text: string) => {
      const last = rules.at(-1);
      if (last === undefined || last.options !== undefined) {
        throw new InvalidArgumentError("it must follow a --rule <file> (one per --rule)");
      }
      last.options = parseJsonText(text, "--rule-options");
      return true;
    }),
  );
  return command;
}

/** Quotes an example for a shell when it holds characters a shell would interpret. */
function shellQuote(text: string): string {
  return /^[\w:./%+-]+$/.test(text) ? text : `'${text}'`;
}

function absolutePath(file: string): string {
  return isAbsolute(file) || file.startsWith("file:") ? file : resolve(file);
}

/** Parses JSON typed by a person; a syntax error names where it came from. */
export function parseJsonText(text: string, where: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new RiskGuardError(
      "INPUT_INVALID",
      `${where} is not valid JSON: ${(error as Error).message}`,
    );
  }
}

const WEEKDAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
const NUMBER = /^\s*-?[0-9]+(\.[0-9]+)?\s*$/;

/**
 * Reads a flag's text into the value the document holds. Text that does not look like the kind
 * is passed on as typed, so that the schema names it in its own message.
 */
export function readFlagText(flag: FieldFlag, text: string): unknown {
  const trimmed = text.trim();
  switch (flag.kind) {
    case "string":
      return text;
    case "number":
      return NUMBER.test(trimmed) ? Number(trimmed) : text;
    case "limit":
      return NUMBER.test(trimmed) ? Number(trimmed) : trimmed;
    case "fraction": {
      const percent = /^([0-9]+(?:\.[0-9]+)?)\s*%$/.exec(trimmed);
      if (percent !== null) return Number((Number(percent[1]) / 100).toFixed(10));
      return NUMBER.test(trimmed) ? Number(trimmed) : text;
    }
    case "boolean": {
      const lower = trimmed.toLowerCase();
      if (["true", "yes", "1", "on"].includes(lower)) return true;
      if (["false", "no", "0", "off"].includes(lower)) return false;
      return text;
    }
    case "weekday":
      return readWeekday(trimmed);
    case "days":
      return trimmed.split(",").flatMap((part) => {
        const range = /^(\w+)\s*-\s*(\w+)$/.exec(part.trim());
        if (range === null) return [readWeekday(part.trim())];
        const from = readWeekday(range[1]!);
        const to = readWeekday(range[2]!);
        if (typeof from !== "number" || typeof to !== "number" || from > to) return [part.trim()];
        return Array.from({ length: to - from + 1 }, (_, index) => from + index);
      });
    case "window": {
      const match = /^(\S+)\s*-\s*(\S+)$/.exec(trimmed);
      if (match === null) {
        throw new RiskGuardError(
          "INPUT_INVALID",
          `--${flag.name} must be START-END like 08:00-21:00, got "${text}"`,
        );
      }
      return { start: match[1], end: match[2] };
    }
  }
}

/** `5` -> 5, `fri` / `friday` -> 5; anything else as typed (the schema says what is wrong). */
function readWeekday(text: string): unknown {
  if (NUMBER.test(text)) return Number(text);
  const index = WEEKDAYS.indexOf(text.slice(0, 3).toLowerCase());
  return index >= 0 && /^[a-z]+$/i.test(text) ? index + 1 : text;
}

/** Writes a document value back as flag text (export); `undefined` when absent. */
export function writeFlagText(flag: FieldFlag, doc: Record<string, unknown>): string | undefined {
  const top = doc[flag.field];
  if (top === undefined || top === null) return undefined;
  if (flag.kind === "window") {
    if (!isRecord(top)) return undefined;
    return `${String(top.start)}-${String(top.end)}`;
  }
  const value = flag.key === undefined ? top : isRecord(top) ? top[flag.key] : undefined;
  if (value === undefined || value === null) return undefined;
  if (Array.isArray(value)) return value.join(",");
  return String(value);
}

/**
 * Turns the values of one command (commander options, or a CSV row read into the same keys) into
 * document fields. Object fields are merged over `current` (the element's raw fields in `set`),
 * so that `--timezone` alone keeps the reset time. A new drawdown gets mode `static`.
 * `false` from `--no-pin-host` (or an empty pin) removes the field (`null`).
 */
export function fieldsFromValues(
  values: ReadonlyMap<FieldFlag, unknown>,
  current: Record<string, unknown> = {},
): Record<string, unknown> {
  const fields: Record<string, unknown> = {};
  for (const [flag, value] of values) {
    if (flag.field === "pin_host" && (value === false || value === "")) {
      fields.pin_host = null;
      continue;
    }
    if (flag.key === undefined && flag.kind !== "window") {
      fields[flag.field] = value;
      continue;
    }
    const now = fields[flag.field] ?? current[flag.field];
    const object: Record<string, unknown> = isRecord(now) ? { ...now } : {};
    if (flag.kind === "window") Object.assign(object, value);
    else object[flag.key!] = value;
    fields[flag.field] = object;
  }
  const drawdown = fields.max_drawdown;
  if (isRecord(drawdown) && drawdown.mode === undefined) drawdown.mode = "static";
  return fields;
}

/** The field flags given on a command line, with their values read. */
export function valuesFromOptions(
  options: Record<string, unknown>,
  which: "add" | "set",
): Map<FieldFlag, unknown> {
  const values = new Map<FieldFlag, unknown>();
  for (const flag of FIELD_FLAGS) {
    const value = options[optionKey(flagName(flag, which))];
    if (value === undefined) continue;
    if (typeof value === "string") values.set(flag, readFlagText(flag, value));
    else values.set(flag, value); // booleans, and false from --no-pin-host
  }
  return values;
}

/** The rules given with `--rule` / `--rule-options`, if any. */
export function rulesFromOptions(options: Record<string, unknown>): unknown[] | undefined {
  return Array.isArray(options.rule) ? options.rule : undefined;
}

/**
 * The command-line spelling of a document field for messages: `daily.timezone (--timezone)`.
 * Array indexes are ignored (`rules.0.options` is `--rule-options`).
 */
export function flagOfField(field: string, which: "add" | "set" | "csv"): string {
  const path = field.split(".").filter((part) => !/^\d+$/.test(part));
  const [top, key] = path;
  if (top === "rules") {
    if (which === "csv") return "column rules";
    return key === "options" ? "--rule-options" : "--rule";
  }
  if (top === "password" || top === "password_enc") {
    return which === "csv" ? "column password" : "--password";
  }
  const inField = FIELD_FLAGS.filter((item) => item.field === top);
  const flag = inField.find((item) => key !== undefined && item.key === key) ??
    inField.find((item) => item.kind === "window" && (key === "start" || key === "end")) ??
    inField.find((item) => item.key === undefined) ?? inField[0];
  if (flag === undefined) return "";
  if (which === "csv") return `column ${flag.name.replaceAll("-", "_")}`;
  return `--${flagName(flag, which)}`;
}

/** `daily.timezone (--timezone)`: a field named with its flag, when it has one. */
export function describeField(field: string, which: "add" | "set" | "csv"): string {
  const flag = flagOfField(field, which);
  return flag === "" ? field : `${field} (${flag})`;
}

/**
 * An element's configuration fields in the form a document holds them (limits as `250` or
 * `"5%"`, not parsed), for `set` to merge into and for `export`.
 */
export function rawFields(parsed: ParsedElement): Record<string, unknown> {
  if (!parsed.valid) return { ...parsed.raw };
  const out: Record<string, unknown> = { ...parsed.element };
  for (const key of ["max_daily_loss", "max_position_risk", "max_profit"]) {
    out[key] = rawLimit(out[key]);
  }
  if (isRecord(out.max_drawdown)) {
    out.max_drawdown = { ...out.max_drawdown, limit: rawLimit(out.max_drawdown.limit) };
  }
  return out;
}

/** A parsed limit back in its raw form: `{kind: "percent", value: 5}` -> `"5%"`. */
export function rawLimit(value: unknown): unknown {
  if (isRecord(value) && "kind" in value && "value" in value) {
    return value.kind === "percent" ? `${String(value.value)}%` : value.value;
  }
  return value;
}
