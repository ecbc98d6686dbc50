/**
 * The risk settings rules read, mirrored from the element's fields (see DESIGN.md), parsed by
 * hand from the raw element form (`500`, `"5%"`) into {@link Limit} objects with the defaults
 * filled in. The store validates the element; the risk runner maps it into this. Written by
 * hand, not with a schema library, because a risk process parses them and must stay small.
 *
 * @module
 */
import { RiskGuardError } from "../shared/errors.ts";
import { describeValue, isCount, isPositive, isRecord } from "../shared/validation.ts";
import {
  DAILY_BASELINES,
  type DailyBaseline,
  DRAWDOWN_MODES,
  type DrawdownMode,
} from "../shared/risk_modes.ts";
import { isValidTimeZone, parseClockTime } from "./wall_clock.ts";

/** A limit in account currency (`money`) or as a percentage of a base (`percent`). */
export interface Limit {
  /** How `value` is read. */
  kind: "money" | "percent";
  /** Amount in account currency, or percent (5 = 5%). */
  value: number;
}

const PERCENT = /^\s*(\d+(?:\.\d+)?)\s*%\s*$/;
const NUMBER = /^\s*(\d+(?:\.\d+)?)\s*$/;

/** Parses `500`, `"500"`, `"5%"` or `{kind, value}` into a {@link Limit}; throws on bad input. */
export function parseLimit(raw: unknown): Limit {
  const limit = limitOf(raw);
  if (typeof limit === "string") throw new RangeError(`Invalid limit: ${limit}`);
  return limit;
}

/** The limit `raw` stands for, or what was expected instead. */
function limitOf(raw: unknown): Limit | string {
  if (typeof raw === "number") {
    if (Number.isFinite(raw) && raw > 0) return { kind: "money", value: raw };
  } else if (typeof raw === "string") {
    const percent = PERCENT.exec(raw);
    if (percent !== null) {
      const value = Number(percent[1]);
      if (value > 0 && value <= 100) return { kind: "percent", value };
    }
    const number = NUMBER.exec(raw);
    if (number !== null && Number(number[1]) > 0) {
      return { kind: "money", value: Number(number[1]) };
    }
  } else if (isRecord(raw)) {
    const { kind, value } = raw;
    if ((kind === "money" || kind === "percent") && isPositive(value)) {
      if (kind === "percent" && value > 100) return `a percent limit must be at most 100`;
      return { kind, value };
    }
    const seen = JSON.stringify(raw);
    return `expected {"kind": "money" or "percent", "value": a number > 0}, got ${
      seen.length > 80 ? `${seen.slice(0, 80)}...` : seen
    }`;
  }
  return `expected a positive amount of money or "N%" with 0 < N <= 100, got ${describeValue(raw)}`;
}

/** The element's risk settings, parsed, with defaults applied. */
export interface RiskSettings {
  /** Daily loss limit; percent of the day baseline. */
  max_daily_loss?: Limit | undefined;
  /** Most one position may lose at its stop loss; percent of the balance. */
  max_position_risk?: Limit | undefined;
  /** Daily profit at which the day is locked in; percent of the day baseline. */
  max_profit?: Limit | undefined;
  /** Drawdown limit; percent of the initial balance. */
  max_drawdown?: {
    limit: Limit;
    mode: DrawdownMode;
    stop_at_initial: boolean;
  } | undefined;
  /** Daily reset: time, time zone and what the day is measured from. */
  daily: { reset: string; timezone: string; baseline: DailyBaseline };
  /** Fractions of a limit at which a warning is sent (default `[0.8]`). */
  warn_at: number[];
  /** Positions without a stop loss are not allowed. */
  require_stop_loss: boolean;
  /** What `max_position_risk` does with an offending position. */
  position_risk_action: "close" | "notify";
  /** Most positions open at once. */
  max_open_positions?: number | undefined;
  /** Most lots open at once, all symbols together. */
  max_total_lots?: number | undefined;
  /** Most lots open at once on one symbol. */
  max_lots_per_symbol?: number | undefined;
  /** Trading allowed only inside this window (end may be before start: overnight). */
  trading_hours?: {
    start: string;
    end: string;
    timezone: string;
    days?: number[] | undefined;
  } | undefined;
  /** Close everything from this weekday and time until the week ends. */
  close_before_weekend?: { day: number; time: string; timezone: string } | undefined;
  /** The account's starting balance for drawdown (default: balance when tracking began). */
  initial_balance?: number | undefined;
  /** Plugin rules. */
  rules: { module: string; options?: unknown }[];
}

/** Settings with every default and nothing else: no limits, no plugins. */
export const DEFAULT_SETTINGS: RiskSettings = Object.freeze({
  daily: { reset: "00:00", timezone: "server", baseline: "balance" },
  warn_at: [0.8],
  require_stop_loss: false,
  position_risk_action: "close",
  rules: [],
}) as RiskSettings;

/**
 * Parses raw element fields into {@link RiskSettings}; unknown fields are ignored. Throws a
 * `RiskGuardError` `INPUT_INVALID` naming every wrong field and the problem.
 */
export function parseRiskSettings(raw: unknown): RiskSettings {
  const issues: string[] = [];
  const settings = settingsOf(raw, issues);
  if (settings === undefined || issues.length > 0) {
    throw new RiskGuardError("INPUT_INVALID", `Invalid risk settings: ${issues.join("; ")}`);
  }
  return settings;
}

// The readers below return the value read, or `undefined` after adding why to `issues` (as
// `path: problem`). Each object reader reads every field, so that all problems are reported at
// once. An optional field given as `undefined` stays in the result as `undefined`.

const POSITION_RISK_ACTIONS = ["close", "notify"] as const;
const MAX_WARNINGS = 5;

function settingsOf(raw: unknown, issues: string[]): RiskSettings | undefined {
  if (!isRecord(raw)) return refuse(issues, "(settings)", "an object", raw);
  const settings: RiskSettings = {
    daily: { reset: "00:00", timezone: "server", baseline: "balance" },
    warn_at: [0.8],
    require_stop_loss: false,
    position_risk_action: "close",
    rules: [],
  };
  for (const key of ["max_daily_loss", "max_position_risk", "max_profit"] as const) {
    if (key in raw) settings[key] = optionalLimit(raw[key], key, issues);
  }
  if ("max_drawdown" in raw) settings.max_drawdown = drawdownOf(raw.max_drawdown, issues);
  if (raw.daily !== undefined) settings.daily = dailyOf(raw.daily, issues) ?? settings.daily;
  if (raw.warn_at !== undefined) settings.warn_at = warnAtOf(raw.warn_at, issues) ?? [];
  settings.require_stop_loss =
    booleanOr(raw.require_stop_loss, false, "require_stop_loss", issues) ?? false;
  settings.position_risk_action = oneOfOr(
    POSITION_RISK_ACTIONS,
    raw.position_risk_action,
    "close",
    "position_risk_action",
    issues,
  ) ?? "close";
  if ("max_open_positions" in raw) {
    const value = raw.max_open_positions;
    if (value === undefined || isCount(value)) settings.max_open_positions = value;
    else refuse(issues, "max_open_positions", "a whole number >= 0", value);
  }
  for (const key of ["max_total_lots", "max_lots_per_symbol"] as const) {
    if (key in raw) settings[key] = optionalPositive(raw[key], key, issues);
  }
  if ("trading_hours" in raw) {
    settings.trading_hours = tradingHoursOf(raw.trading_hours, issues);
  }
  if ("close_before_weekend" in raw) {
    settings.close_before_weekend = closeBeforeWeekendOf(raw.close_before_weekend, issues);
  }
  if ("initial_balance" in raw) {
    settings.initial_balance = optionalPositive(raw.initial_balance, "initial_balance", issues);
  }
  if (raw.rules !== undefined) settings.rules = rulesOf(raw.rules, issues) ?? [];
  return settings;
}

function refuse(issues: string[], path: string, expected: string, value: unknown): undefined {
  issues.push(`${path}: expected ${expected}, got ${describeValue(value)}`);
  return undefined;
}

function optionalLimit(raw: unknown, path: string, issues: string[]): Limit | undefined {
  return raw === undefined ? undefined : limitAt(raw, path, issues);
}

function limitAt(raw: unknown, path: string, issues: string[]): Limit | undefined {
  const limit = limitOf(raw);
  if (typeof limit !== "string") return limit;
  issues.push(`${path}: ${limit}`);
  return undefined;
}

function optionalPositive(raw: unknown, path: string, issues: string[]): number | undefined {
  if (raw === undefined || isPositive(raw)) return raw;
  return refuse(issues, path, "a number > 0", raw);
}

/** `raw` when it is true or false, `fallback` when it is undefined. */
function booleanOr(
  raw: unknown,
  fallback: boolean,
  path: string,
  issues: string[],
): boolean | undefined {
  if (raw === undefined) return fallback;
  if (typeof raw === "boolean") return raw;
  return refuse(issues, path, "true or false", raw);
}

/** `raw` when it is one of `values`, `fallback` when it is undefined. */
function oneOfOr<T extends string>(
  values: readonly T[],
  raw: unknown,
  fallback: T,
  path: string,
  issues: string[],
): T | undefined {
  if (raw === undefined) return fallback;
  if ((values as readonly unknown[]).includes(raw)) return raw as T;
  return refuse(issues, path, `one of ${values.map((v) => JSON.stringify(v)).join(", ")}`, raw);
}

function clockTimeOf(raw: unknown, path: string, issues: string[]): string | undefined {
  if (typeof raw !== "string") return refuse(issues, path, 'a time "HH:MM"', raw);
  try {
    parseClockTime(raw);
    return raw;
  } catch (error) {
    issues.push(`${path}: ${(error as Error).message}`);
    return undefined;
  }
}

function timeZoneOf(raw: unknown, path: string, issues: string[]): string | undefined {
  if (raw === undefined) return "server";
  if (typeof raw === "string" && isValidTimeZone(raw)) return raw;
  return refuse(issues, path, '"server" or an IANA time zone such as "Europe/Prague"', raw);
}

function weekdayOf(raw: unknown, path: string, issues: string[]): number | undefined {
  if (isCount(raw) && raw >= 1 && raw <= 7) return raw;
  return refuse(issues, path, "a weekday from 1 (Monday) to 7 (Sunday)", raw);
}

function drawdownOf(raw: unknown, issues: string[]): RiskSettings["max_drawdown"] {
  if (raw === undefined) return undefined;
  if (!isRecord(raw)) return refuse(issues, "max_drawdown", "an object", raw);
  const limit = limitAt(raw.limit, "max_drawdown.limit", issues);
  const mode = oneOfOr(DRAWDOWN_MODES, raw.mode, "static", "max_drawdown.mode", issues);
  const stopAtInitial = booleanOr(
    raw.stop_at_initial,
    false,
    "max_drawdown.stop_at_initial",
    issues,
  );
  if (limit === undefined || mode === undefined || stopAtInitial === undefined) return undefined;
  return { limit, mode, stop_at_initial: stopAtInitial };
}

function dailyOf(raw: unknown, issues: string[]): RiskSettings["daily"] | undefined {
  if (!isRecord(raw)) return refuse(issues, "daily", "an object", raw);
  const reset = raw.reset === undefined ? "00:00" : clockTimeOf(raw.reset, "daily.reset", issues);
  const timezone = timeZoneOf(raw.timezone, "daily.timezone", issues);
  const baseline = oneOfOr(DAILY_BASELINES, raw.baseline, "balance", "daily.baseline", issues);
  if (reset === undefined || timezone === undefined || baseline === undefined) return undefined;
  return { reset, timezone, baseline };
}

function warnAtOf(raw: unknown, issues: string[]): number[] | undefined {
  const FRACTION = "a fraction between 0 and 1 (both excluded)";
  if (typeof raw === "number") {
    return isFraction(raw) ? [raw] : refuse(issues, "warn_at", FRACTION, raw);
  }
  if (!Array.isArray(raw) || raw.length > MAX_WARNINGS) {
    return refuse(issues, "warn_at", `${FRACTION}, or a list of at most ${MAX_WARNINGS}`, raw);
  }
  const fractions: number[] = [];
  for (const [index, item] of raw.entries()) {
    if (isFraction(item)) fractions.push(item);
    else refuse(issues, `warn_at.${index}`, FRACTION, item);
  }
  return fractions.length === raw.length ? fractions : undefined;
}

function isFraction(value: unknown): value is number {
  return typeof value === "number" && value > 0 && value < 1;
}

function tradingHoursOf(raw: unknown, issues: string[]): RiskSettings["trading_hours"] {
  if (raw === undefined) return undefined;
  if (!isRecord(raw)) return refuse(issues, "trading_hours", "an object", raw);
  const start = clockTimeOf(raw.start, "trading_hours.start", issues);
  const end = clockTimeOf(raw.end, "trading_hours.end", issues);
  const timezone = timeZoneOf(raw.timezone, "trading_hours.timezone", issues);
  let days: number[] | undefined;
  let daysValid = true;
  if (raw.days !== undefined) {
    const list = raw.days;
    days = [];
    if (!Array.isArray(list) || list.length < 1 || list.length > 7) {
      daysValid = false;
      refuse(issues, "trading_hours.days", "a list of 1 to 7 weekdays", list);
    } else {
      for (const [index, item] of list.entries()) {
        const day = weekdayOf(item, `trading_hours.days.${index}`, issues);
        if (day === undefined) daysValid = false;
        else days.push(day);
      }
    }
  }
  if (start === undefined || end === undefined || timezone === undefined || !daysValid) {
    return undefined;
  }
  return "days" in raw ? { start, end, timezone, days } : { start, end, timezone };
}

function closeBeforeWeekendOf(
  raw: unknown,
  issues: string[],
): RiskSettings["close_before_weekend"] {
  if (raw === undefined) return undefined;
  if (!isRecord(raw)) return refuse(issues, "close_before_weekend", "an object", raw);
  const day = raw.day === undefined ? 5 : weekdayOf(raw.day, "close_before_weekend.day", issues);
  const time = clockTimeOf(raw.time, "close_before_weekend.time", issues);
  const timezone = timeZoneOf(raw.timezone, "close_before_weekend.timezone", issues);
  if (day === undefined || time === undefined || timezone === undefined) return undefined;
  return { day, time, timezone };
}

function rulesOf(raw: unknown, issues: string[]): RiskSettings["rules"] | undefined {
  if (!Array.isArray(raw)) return refuse(issues, "rules", "a list of {module, options}", raw);
  const rules: RiskSettings["rules"] = [];
  for (const [index, item] of raw.entries()) {
    if (!isRecord(item)) {
      refuse(issues, `rules.${index}`, "an object", item);
    } else if (typeof item.module !== "string" || item.module === "") {
      refuse(issues, `rules.${index}.module`, "a non-empty string", item.module);
    } else {
      const module = item.module;
      rules.push("options" in item ? { module, options: item.options } : { module });
    }
  }
  return rules;
}
