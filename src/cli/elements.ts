/**
 * `riskguard elements add|list|show|enable|disable|remove`.
 *
 * `add` prompts for the password (without echo) when `--password` is not given, and stores it
 * encrypted (`password_enc`, AES-GCM) when `RISKGUARD_SECRET_KEY` is set. Passwords are never
 * printed or logged: `show` masks them.
 *
 * @module
 */
import type { Command } from "commander";
import { RiskGuardError } from "../shared/errors.ts";
import { MASK } from "../shared/secrets.ts";
import { encryptPassword, type ParsedElement, type Store, withStore } from "../store/mod.ts";
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

/** A command-line limit: `250` -> 250 (money), `5%` stays a string, anything else as typed. */
function limitValue(text: string): number | string {
  const trimmed = text.trim();
  return /^[0-9]+(\.[0-9]+)?$/.test(trimmed) ? Number(trimmed) : trimmed;
}

/** The command-line spelling of a document field, for error messages. */
function cliField(field: string): string {
  const flags: Record<string, string> = {
    login: "--login",
    server: "--server",
    password: "--password",
    max_daily_loss: "--max-daily-loss",
    max_position_risk: "--max-position-risk",
    max_profit: "--max-profit",
    "max_drawdown.limit": "--max-drawdown",
    "max_drawdown.mode": "--drawdown-mode",
  };
  const flag = flags[field];
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
