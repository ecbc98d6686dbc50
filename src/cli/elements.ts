/**
 * `riskguard elements add|list|show|set|unlock|enable|disable|remove`.
 *
 * `add` prompts for the password (without echo) when `--password` is not given, and stores it
 * encrypted (`password_enc`, AES-GCM) when `RISKGUARD_SECRET_KEY` is set. Passwords are never
 * printed or logged: `show` masks them.
 *
 * `set` and `unlock` change an element through `Store.configureElement`: a running risk process
 * sees the change on its element feed and applies new limits (or lifts its lock) at once.
 *
 * @module
 */
import type { Command } from "commander";
import { RiskGuardError } from "../shared/errors.ts";
import { MASK, redactValue } from "../shared/secrets.ts";
import {
  CONFIG_ELEMENT_FIELDS,
  elementSchema,
  encryptPassword,
  isRecord,
  type ParsedElement,
  type Store,
  withStore,
} from "../store/mod.ts";
import type { Config } from "../shared/config.ts";
import { type CliContext, startCommand } from "./context.ts";
import { renderTable } from "./status.ts";

/** Options of `elements add`, as parsed by commander. */
interface AddOptions {
  server: string;
  login: string;
  password?: string;
  name?: string;
  maxDailyLoss?: string;
  maxPositionRisk?: string;
  maxProfit?: string;
  maxDrawdown?: string;
  drawdownMode?: string;
  json?: boolean;
}

/** Options of `elements set`, as parsed by commander. */
interface SetOptions {
  name?: string;
  maxDailyLoss?: string;
  maxPositionRisk?: string;
  maxProfit?: string;
  maxDrawdown?: string;
  drawdownMode?: string;
  unset?: string[];
  json?: boolean;
}

/** Adds the `elements` command group. */
export function registerElements(program: Command, ctx: CliContext): void {
  const elements = program.command("elements").description("manage trading accounts (elements)");
  elements.command("add").description("add an account (prompts for the password when not given)")
    .requiredOption("--server <name>", "MT5 trade server")
    .requiredOption("--login <number>", "MT5 account number")
    .option("--password <password>", "account password (prompted when omitted; never echoed)")
    .option("--name <label>", "a label shown by list and status")
    .option("--max-daily-loss <limit>", "money, or percent of the day's baseline like 5%")
    .option("--max-position-risk <limit>", "money, or percent of balance like 1%")
    .option("--max-profit <limit>", "money, or percent of the day's baseline")
    .option("--max-drawdown <limit>", "money, or percent of the high-water mark like 10%")
    .option(
      "--drawdown-mode <mode>",
      "static, trailing_balance or trailing_equity (with --max-drawdown; default static)",
    )
    .option("--json", "print the stored element as JSON (password masked)")
    .action(async (options: AddOptions, command: Command) => {
      const config = await startCommand(ctx, command);
      const doc = await elementFromOptions(options, ctx, config);
      await withStore(config.store, { db: config.db }, async (store) => {
        const result = await store.insertElement(doc);
        if (!result.ok) {
          throw new RiskGuardError(
            "ELEMENT_INVALID",
            `Invalid element: ${cliField(result.field)} ${result.reason}`,
          );
        }
        const element = result.element.element;
        if (options.json === true) {
          ctx.stdout(`${JSON.stringify(maskDoc(element), null, 2)}\n`);
        } else {
          ctx.stdout(
            `Added element ${result.element.id}: login ${element.login} on ${element.server}, ` +
              `status ${element.status}${
                element.password_enc === undefined ? "" : ", password encrypted"
              }\n`,
          );
        }
      });
    });

  elements.command("list").description("list accounts").option("--json", "print JSON").action(
    async (options: { json?: boolean }, command: Command) => {
      const config = await startCommand(ctx, command);
      const list = await withStore(
        config.store,
        { db: config.db },
        (store) => store.listElements(),
      );
      if (options.json === true) {
        ctx.stdout(`${JSON.stringify(list.map(summary), null, 2)}\n`);
        return;
      }
      if (list.length === 0) {
        ctx.stdout("No elements. Add one with `riskguard elements add`.\n");
        return;
      }
      ctx.stdout(renderTable(
        ["id", "name", "login", "server", "status", "trading", "limits", "host"],
        list.map((parsed) => {
          const row = summary(parsed);
          return [
            row.id,
            row.name ?? "",
            row.login === null ? "-" : String(row.login),
            row.server ?? "-",
            row.invalid === null ? String(row.status) : `${row.status} (invalid: ${row.invalid})`,
            row.trading ?? "-",
            row.limits,
            row.host ?? "-",
          ];
        }),
      ));
    },
  );

  elements.command("show <id>").description("show one account (password masked)").action(
    async (id: string, _options: unknown, command: Command) => {
      const config = await startCommand(ctx, command);
      const parsed = await withStore(
        config.store,
        { db: config.db },
        (store) => mustGet(store, id),
      );
      if (parsed.valid) {
        ctx.stdout(`${JSON.stringify(maskDoc(parsed.element), null, 2)}\n`);
      } else {
        ctx.stdout(
          `${
            JSON.stringify(
              { ...maskDoc(parsed.raw), _invalid: { issues: parsed.issues } },
              null,
              2,
            )
          }\n`,
        );
      }
    },
  );

  elements.command("set <id>")
    .description("change an account's limits or name (a running risk process applies them at once)")
    .option("--max-daily-loss <limit>", "money, or percent of the day's baseline like 5%")
    .option("--max-position-risk <limit>", "money, or percent of balance like 1%")
    .option("--max-profit <limit>", "money, or percent of the day's baseline")
    .option("--max-drawdown <limit>", "money, or percent of the high-water mark like 10%")
    .option(
      "--drawdown-mode <mode>",
      "static, trailing_balance or trailing_equity (default: the current mode, else static)",
    )
    .option("--name <label>", "a label shown by list and status")
    .option(
      "--unset <field>",
      "remove an optional field, e.g. max_profit (repeatable)",
      collectValues,
    )
    .option("--json", "print the changed element as JSON (password masked)")
    .action(async (id: string, options: SetOptions, command: Command) => {
      if (!hasSetChanges(options)) {
        throw new RiskGuardError(
          "INPUT_INVALID",
          `elements set ${id}: nothing to change (give --max-daily-loss, --max-position-risk, ` +
            "--max-profit, --max-drawdown, --drawdown-mode, --name or --unset <field>)",
        );
      }
      const config = await startCommand(ctx, command);
      const message = await withStore(config.store, { db: config.db }, async (store) => {
        const current = await mustGet(store, id);
        const { changes, flags } = changesFromOptions(options, current);
        const result = await store.configureElement(id, changes);
        if (!result.ok) {
          throw new RiskGuardError(
            "ELEMENT_INVALID",
            `Cannot change element ${id}: ${cliField(result.field, flags)} ${result.reason}`,
          );
        }
        const element = result.element.element;
        if (options.json === true) return `${JSON.stringify(maskDoc(element), null, 2)}\n`;
        const held = element.instance_id === null
          ? ""
          : `A running risk process (host ${element.host}) applies it when it sees the change.\n`;
        return `Changed element ${id}: ${describeChanges(changes, element)}\n${held}`;
      });
      ctx.stdout(message);
    });

  elements.command("unlock <id>")
    .description("allow trading again on a locked account (sets trading ALLOWED)")
    .action(async (id: string, _options: unknown, command: Command) => {
      const config = await startCommand(ctx, command);
      const message = await withStore(config.store, { db: config.db }, async (store) => {
        const current = await mustGet(store, id);
        const raw: Record<string, unknown> = current.valid ? current.element : current.raw;
        const result = await store.configureElement(id, { trading: "ALLOWED" });
        if (!result.ok) {
          throw new RiskGuardError(
            "ELEMENT_INVALID",
            `Cannot unlock element ${id}: ${cliField(result.field)} ${result.reason}`,
          );
        }
        if (raw.trading === undefined || raw.trading === "ALLOWED") {
          return `Element ${id} is not locked (trading ALLOWED); nothing to unlock\n`;
        }
        const why = typeof raw.lock_reason === "string" && raw.lock_reason !== ""
          ? `: ${raw.lock_reason}`
          : "";
        return `Unlocked element ${id}: trading ALLOWED (was ${String(raw.trading)}${why}).\n` +
          "A running risk process lifts its lock when it sees this change; a breach still in " +
          "force locks the account again.\n";
      });
      ctx.stdout(message);
    });

  elements.command("enable <id>").description("allow the agent to manage an account").action(
    async (id: string, _options: unknown, command: Command) => {
      const config = await startCommand(ctx, command);
      const message = await withStore(config.store, { db: config.db }, async (store) => {
        const parsed = await mustGet(store, id);
        const status = parsed.valid ? parsed.element.status : parsed.raw.status;
        if (status === "ACTIVE") return `Element ${id} is already ACTIVE (managed)\n`;
        await store.setElementStatus(id, "PENDING", { error: null });
        return `Enabled element ${id} (status PENDING: the admin will pick it up)\n`;
      });
      ctx.stdout(message);
    },
  );

  elements.command("disable <id>").description("stop managing an account (status DISABLED)")
    .action(async (id: string, _options: unknown, command: Command) => {
      const config = await startCommand(ctx, command);
      await withStore(config.store, { db: config.db }, async (store) => {
        await store.setElementStatus(id, "DISABLED");
      });
      ctx.stdout(`Disabled element ${id}\n`);
    });

  elements.command("remove <id>").description("delete an account")
    .option("--force", "also remove an account that is being managed (frees its instance)")
    .action(async (id: string, options: { force?: boolean }, command: Command) => {
      const config = await startCommand(ctx, command);
      const removed = await withStore(
        config.store,
        { db: config.db },
        (store) => store.removeElement(id, { force: options.force === true }),
      );
      if (!removed) throw new RiskGuardError("NOT_FOUND", `No element with id ${id}`);
      ctx.stdout(`Removed element ${id}\n`);
    });
}

/** Builds the element document from `add`'s options, prompting for the password. */
async function elementFromOptions(
  options: AddOptions,
  ctx: CliContext,
  config: Config,
): Promise<Record<string, unknown>> {
  let password = options.password;
  if (password === undefined) {
    password = await ctx.readSecret(`Password for login ${options.login} on ${options.server}: `);
    if (password === undefined) {
      throw new RiskGuardError(
        "INPUT_INVALID",
        "No --password given and no terminal to prompt on",
      );
    }
  }
  if (password === "") throw new RiskGuardError("INPUT_INVALID", "The password must not be empty");
  const doc: Record<string, unknown> = {
    server: options.server,
    login: /^\d+$/.test(options.login.trim()) ? Number(options.login.trim()) : options.login,
  };
  if (options.name !== undefined) doc.name = options.name;
  if (config.secret_key !== undefined) {
    doc.password_enc = await encryptPassword(password, config.secret_key);
  } else doc.password = password;
  if (options.maxDailyLoss !== undefined) doc.max_daily_loss = limitValue(options.maxDailyLoss);
  if (options.maxPositionRisk !== undefined) {
    doc.max_position_risk = limitValue(options.maxPositionRisk);
  }
  if (options.maxProfit !== undefined) doc.max_profit = limitValue(options.maxProfit);
  if (options.maxDrawdown !== undefined) {
    doc.max_drawdown = {
      limit: limitValue(options.maxDrawdown),
      mode: options.drawdownMode ?? "static",
    };
  } else if (options.drawdownMode !== undefined) {
    throw new RiskGuardError("INPUT_INVALID", "--drawdown-mode needs --max-drawdown");
  }
  return doc;
}

/** Commander's collector of a repeatable option. */
function collectValues(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** True when `elements set` was given anything to change. */
function hasSetChanges(options: SetOptions): boolean {
  return options.name !== undefined || options.maxDailyLoss !== undefined ||
    options.maxPositionRisk !== undefined || options.maxProfit !== undefined ||
    options.maxDrawdown !== undefined || options.drawdownMode !== undefined ||
    (options.unset?.length ?? 0) > 0;
}

/** Element field names a person may name in `--unset`, and every field of the schema. */
const CONFIG_FIELDS: ReadonlySet<string> = new Set(CONFIG_ELEMENT_FIELDS);
const SCHEMA_FIELDS: ReadonlySet<string> = new Set(Object.keys(elementSchema.shape));

/**
 * Builds `configureElement`'s changes from `set`'s options, and the flag that gave each field
 * (for error messages). A new drawdown limit keeps the current mode unless `--drawdown-mode`.
 */
function changesFromOptions(
  options: SetOptions,
  current: ParsedElement,
): { changes: Record<string, unknown>; flags: Record<string, string> } {
  const changes: Record<string, unknown> = {};
  const flags: Record<string, string> = {};
  const limits = [
    ["max_daily_loss", options.maxDailyLoss],
    ["max_position_risk", options.maxPositionRisk],
    ["max_profit", options.maxProfit],
  ] as const;
  for (const [field, text] of limits) {
    if (text !== undefined) changes[field] = limitValue(text);
  }
  if (options.name !== undefined) changes.name = options.name;
  if (options.maxDrawdown !== undefined || options.drawdownMode !== undefined) {
    const now = currentDrawdown(current);
    if (options.maxDrawdown === undefined && now === undefined) {
      throw new RiskGuardError(
        "INPUT_INVALID",
        `--drawdown-mode needs --max-drawdown: element ${current.id} has no max_drawdown`,
      );
    }
    changes.max_drawdown = {
      ...now,
      limit: options.maxDrawdown === undefined ? now?.limit : limitValue(options.maxDrawdown),
      mode: options.drawdownMode ?? now?.mode ?? "static",
    };
  }
  for (const text of options.unset ?? []) {
    const field = text.trim().replace(/^--/, "").replaceAll("-", "_");
    if (!CONFIG_FIELDS.has(field) && !SCHEMA_FIELDS.has(field)) {
      throw new RiskGuardError(
        "INPUT_INVALID",
        `--unset ${text}: no such element field; fields a person may change: ${
          CONFIG_ELEMENT_FIELDS.join(", ")
        }`,
      );
    }
    if (changes[field] !== undefined && changes[field] !== null) {
      throw new RiskGuardError(
        "INPUT_INVALID",
        `--unset ${field} contradicts the option that sets ${field}`,
      );
    }
    changes[field] = null;
    flags[field] = `--unset ${field}`;
  }
  return { changes, flags };
}

/** The element's drawdown settings in their raw form (limit as money or "N%"), if any. */
function currentDrawdown(parsed: ParsedElement): Record<string, unknown> | undefined {
  if (parsed.valid) {
    const drawdown = parsed.element.max_drawdown;
    return drawdown === undefined ? undefined : { ...drawdown, limit: showLimit(drawdown.limit) };
  }
  const raw = parsed.raw.max_drawdown;
  return isRecord(raw) ? { ...raw } : undefined;
}

/** `max_daily_loss 3%, max_profit removed, name "main"`: what `set` changed, as stored. */
function describeChanges(changes: Record<string, unknown>, element: object): string {
  const stored = element as Record<string, unknown>;
  return Object.keys(changes).map((field) => {
    const value = stored[field];
    if (changes[field] === null) {
      return value === undefined ? `${field} removed` : `${field} back to its default`;
    }
    if (field === "max_drawdown" && isRecord(value)) {
      return `max_drawdown ${String(showLimit(value.limit))} (${String(value.mode)})`;
    }
    return `${field} ${field === "name" ? JSON.stringify(value) : String(showLimit(value))}`;
  }).join(", ");
}

/** A command-line limit: `250` -> 250 (money), `5%` stays a string, anything else as typed. */
function limitValue(text: string): number | string {
  const trimmed = text.trim();
  return /^[0-9]+(\.[0-9]+)?$/.test(trimmed) ? Number(trimmed) : trimmed;
}

/**
 * The command-line spelling of a document field, for error messages; `given` names the flag a
 * command used for a field when it differs (e.g. `--unset max_profit`).
 */
function cliField(field: string, given: Readonly<Record<string, string>> = {}): string {
  const flags: Record<string, string> = {
    login: "--login",
    server: "--server",
    password: "--password",
    name: "--name",
    max_daily_loss: "--max-daily-loss",
    max_position_risk: "--max-position-risk",
    max_profit: "--max-profit",
    "max_drawdown.limit": "--max-drawdown",
    "max_drawdown.mode": "--drawdown-mode",
  };
  const flag = given[field] ?? flags[field];
  return flag === undefined ? field : `${field} (${flag})`;
}

async function mustGet(store: Store, id: string): Promise<ParsedElement> {
  const parsed = await store.getElement(id);
  if (parsed === null) throw new RiskGuardError("NOT_FOUND", `No element with id ${id}`);
  return parsed;
}

/** A copy of an element document with its passwords masked and limits in their raw form. */
function maskDoc(doc: object): Record<string, unknown> {
  const out: Record<string, unknown> = { ...(doc as Record<string, unknown>) };
  if (out.password !== undefined) out.password = MASK;
  if (out.password_enc !== undefined) out.password_enc = MASK;
  // Plugin options may carry API keys or tokens: secret-looking fields are masked there too.
  if (Array.isArray(out.rules)) out.rules = redactValue(out.rules);
  for (const key of ["max_daily_loss", "max_position_risk", "max_profit"]) {
    out[key] = showLimit(out[key]);
  }
  const drawdown = out.max_drawdown as Record<string, unknown> | undefined;
  if (drawdown !== undefined && drawdown !== null && typeof drawdown === "object") {
    out.max_drawdown = { ...drawdown, limit: showLimit(drawdown.limit) };
  }
  return out;
}

function showLimit(value: unknown): unknown {
  if (value !== null && typeof value === "object" && "kind" in value && "value" in value) {
    const limit = value as { kind: string; value: number };
    return limit.kind === "percent" ? `${limit.value}%` : limit.value;
  }
  return value;
}

interface ElementSummary {
  id: string;
  name: string | null;
  login: number | null;
  server: string | null;
  status: unknown;
  trading: string | null;
  limits: string;
  host: string | null;
  instance_id: string | null;
  invalid: string | null;
}

function summary(parsed: ParsedElement): ElementSummary {
  if (parsed.valid) {
    const e = parsed.element;
    const limits = [
      ["loss", showLimit(e.max_daily_loss)],
      ["risk", showLimit(e.max_position_risk)],
      ["profit", showLimit(e.max_profit)],
      ["dd", showLimit(e.max_drawdown?.limit)],
    ].filter(([, value]) => value !== undefined).map(([name, value]) => `${name} ${value}`);
    return {
      id: parsed.id,
      name: e.name ?? null,
      login: e.login,
      server: e.server,
      status: e.status,
      trading: e.trading,
      limits: limits.join(", ") || "-",
      host: e.host,
      instance_id: e.instance_id,
      invalid: null,
    };
  }
  const raw = parsed.raw;
  return {
    id: parsed.id,
    name: typeof raw.name === "string" ? raw.name : null,
    login: typeof raw.login === "number" ? raw.login : null,
    server: typeof raw.server === "string" ? raw.server : null,
    status: raw.status ?? "PENDING",
    trading: typeof raw.trading === "string" ? raw.trading : null,
    limits: "-",
    host: typeof raw.host === "string" ? raw.host : null,
    instance_id: typeof raw.instance_id === "string" ? raw.instance_id : null,
    invalid: `${parsed.field} ${parsed.reason}`,
  };
}
