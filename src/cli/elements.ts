/**
 * `riskguard elements add|list|show|set|unlock|enable|disable|remove|import|export`.
 *
 * Every field a person may change has a flag (`_element_flags.ts`), the same in `add` and `set`;
 * the values are checked by the element schema when the store validates the document, and a
 * refusal names the field with its flag. Commands that name an account take its id or its login
 * (`--server` when the login exists on several servers).
 *
 * `add` prompts for the password (without echo) when neither `--password` nor `--password-env`
 * is given, and stores it encrypted (`password_enc`, AES-GCM) when `RISKGUARD_SECRET_KEY` is
 * set. Passwords are never printed or logged: `show` masks them.
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
  type FieldIssue,
  isRecord,
  type ParsedElement,
  parseElement,
  withStore,
} from "../store/mod.ts";
import type { Config } from "../shared/config.ts";
import { type CliContext, startCommand } from "./context.ts";
import { renderTable } from "./status.ts";
import {
  addFieldOptions,
  describeField,
  fieldsFromValues,
  rawFields,
  rawLimit,
  rulesFromOptions,
  valuesFromOptions,
} from "./_element_flags.ts";
import { loginAndServer, resolveElement } from "./_element_ref.ts";
import { registerImportExport } from "./elements_import.ts";

/** `--server` of the commands that name an account. */
const SERVER_HELP = "the account's trade server, when its login exists on several (e.g. " +
  "--server FTMO-Demo)";
const ACCOUNT_ARG = "<account>";
const ACCOUNT_HELP = "element id, or MT5 login";

/** Adds the `elements` command group. */
export function registerElements(program: Command, ctx: CliContext): void {
  const elements = program.command("elements").description("manage trading accounts (elements)");
  const add = elements.command("add")
    .description(
      "add an account with its limits and schedule (prompts for the password when not given)",
    )
    .requiredOption("--server <name>", "MT5 trade server (e.g. --server FTMO-Demo)")
    .requiredOption("--login <number>", "MT5 account number (e.g. --login 5012345)")
    .option("--password <password>", "account password (prompted when omitted; never echoed)")
    .option(
      "--password-env <name>",
      "read the password from this environment variable (e.g. --password-env FTMO_PW)",
    );
  addFieldOptions(add, "add", ["server", "login"])
    .option("--json", "print the stored element as JSON (password masked)")
    .addHelpText("after", ADD_EXAMPLE)
    .action(async (options: Record<string, unknown>, command: Command) => {
      const config = await startCommand(ctx, command);
      const doc = elementFromOptions(options);
      // Checked before the password prompt, so a typo in a limit costs no typing.
      checkElement(doc, "add");
      await withStore(config.store, { db: config.db }, async (store) => {
        const same = (await store.listElements()).find((parsed) => {
          const found = loginAndServer(parsed);
          return found.login === doc.login && found.server === doc.server;
        });
        if (same !== undefined) {
          throw new RiskGuardError(
            "INPUT_INVALID",
            `Login ${String(doc.login)} on ${String(doc.server)} already exists (element ` +
              `${same.id}); change it with \`riskguard elements set ${same.id} ...\``,
          );
        }
        await addPassword(doc, options, ctx, config);
        const result = await store.insertElement(doc);
        if (!result.ok) {
          throw new RiskGuardError(
            "ELEMENT_INVALID",
            `Invalid element: ${describeIssues(result.issues, "add")}`,
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

  elements.command(`show ${ACCOUNT_ARG}`)
    .description(`show one account (password masked); ${ACCOUNT_ARG}: ${ACCOUNT_HELP}`)
    .option("--server <name>", SERVER_HELP)
    .action(async (ref: string, options: { server?: string }, command: Command) => {
      const config = await startCommand(ctx, command);
      const parsed = await withStore(
        config.store,
        { db: config.db },
        (store) => resolveElement(store, ref, options.server),
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
    });

  const set = elements.command(`set ${ACCOUNT_ARG}`)
    .description(
      "change an account's settings (a running risk process applies them at once); " +
        `${ACCOUNT_ARG}: ${ACCOUNT_HELP}`,
    )
    .option("--server <name>", SERVER_HELP)
    .option(
      "--password [password]",
      "a new account password (prompted, never echoed, when given without a value)",
    )
    .option(
      "--password-env <name>",
      "a new password from this environment variable (e.g. --password-env FTMO_PW)",
    );
  addFieldOptions(set, "set")
    .option(
      "--unset <field>",
      "remove an optional field, its default applies again, e.g. max_profit (repeatable)",
      collectValues,
    )
    .option("--json", "print the changed element as JSON (password masked)")
    .action(async (ref: string, options: Record<string, unknown>, command: Command) => {
      const values = valuesFromOptions(options, "set");
      const rules = rulesFromOptions(options);
      const unset = (options.unset as string[] | undefined) ?? [];
      const password = options.password !== undefined || options.passwordEnv !== undefined;
      if (values.size === 0 && rules === undefined && unset.length === 0 && !password) {
        throw new RiskGuardError(
          "INPUT_INVALID",
          `elements set ${ref}: nothing to change (give a setting such as --max-daily-loss, ` +
            "--daily-reset, --password or --unset <field>; see riskguard elements set --help)",
        );
      }
      const config = await startCommand(ctx, command);
      const message = await withStore(config.store, { db: config.db }, async (store) => {
        const current = await resolveElement(store, ref, options.server as string | undefined);
        const id = current.id;
        const changes = fieldsFromValues(values, rawFields(current));
        if (rules !== undefined) changes.rules = rules;
        const flags = unsetFields(unset, changes);
        if (password) await setPassword(changes, options, ctx, config, current);
        const result = await store.configureElement(id, changes);
        if (!result.ok) {
          throw new RiskGuardError(
            "ELEMENT_INVALID",
            `Cannot change element ${id}: ${describeIssues(result.issues, "set", flags)}`,
          );
        }
        const element = result.element.element;
        if (options.json === true) return `${JSON.stringify(maskDoc(element), null, 2)}\n`;
        const held = element.instance_id === null
          ? ""
          : `A running risk process (host ${element.host}) applies it when it sees the change.\n`;
        return `Changed element ${id}: ${describeChanges(changes, rawFields(result.element))}\n` +
          held;
      });
      ctx.stdout(message);
    });

  elements.command(`unlock ${ACCOUNT_ARG}`)
    .description(
      `allow trading again on a locked account (sets trading ALLOWED); ${ACCOUNT_ARG}: ` +
        ACCOUNT_HELP,
    )
    .option("--server <name>", SERVER_HELP)
    .action(async (ref: string, options: { server?: string }, command: Command) => {
      const config = await startCommand(ctx, command);
      const message = await withStore(config.store, { db: config.db }, async (store) => {
        const current = await resolveElement(store, ref, options.server);
        const id = current.id;
        const raw: Record<string, unknown> = current.valid ? current.element : current.raw;
        const result = await store.configureElement(id, { trading: "ALLOWED" });
        if (!result.ok) {
          throw new RiskGuardError(
            "ELEMENT_INVALID",
            `Cannot unlock element ${id}: ${describeIssues(result.issues, "set")}`,
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

  elements.command(`enable ${ACCOUNT_ARG}`)
    .description(`allow the agent to manage an account; ${ACCOUNT_ARG}: ${ACCOUNT_HELP}`)
    .option("--server <name>", SERVER_HELP)
    .action(async (ref: string, options: { server?: string }, command: Command) => {
      const config = await startCommand(ctx, command);
      const message = await withStore(config.store, { db: config.db }, async (store) => {
        const parsed = await resolveElement(store, ref, options.server);
        const status = parsed.valid ? parsed.element.status : parsed.raw.status;
        if (status === "ACTIVE") return `Element ${parsed.id} is already ACTIVE (managed)\n`;
        await store.setElementStatus(parsed.id, "PENDING", { error: null });
        return `Enabled element ${parsed.id} (status PENDING: the admin will pick it up)\n`;
      });
      ctx.stdout(message);
    });

  elements.command(`disable ${ACCOUNT_ARG}`)
    .description(`stop managing an account (status DISABLED); ${ACCOUNT_ARG}: ${ACCOUNT_HELP}`)
    .option("--server <name>", SERVER_HELP)
    .action(async (ref: string, options: { server?: string }, command: Command) => {
      const config = await startCommand(ctx, command);
      const id = await withStore(config.store, { db: config.db }, async (store) => {
        const parsed = await resolveElement(store, ref, options.server);
        await store.setElementStatus(parsed.id, "DISABLED");
        return parsed.id;
      });
      ctx.stdout(`Disabled element ${id}\n`);
    });

  elements.command(`remove ${ACCOUNT_ARG}`)
    .description(`delete an account; ${ACCOUNT_ARG}: ${ACCOUNT_HELP}`)
    .option("--server <name>", SERVER_HELP)
    .option("--force", "also remove an account that is being managed (frees its instance)")
    .action(
      async (ref: string, options: { server?: string; force?: boolean }, command: Command) => {
        const config = await startCommand(ctx, command);
        const id = await withStore(config.store, { db: config.db }, async (store) => {
          const parsed = await resolveElement(store, ref, options.server);
          const removed = await store.removeElement(parsed.id, { force: options.force === true });
          if (!removed) throw new RiskGuardError("NOT_FOUND", `No element with id ${parsed.id}`);
          return parsed.id;
        });
        ctx.stdout(`Removed element ${id}\n`);
      },
    );

  registerImportExport(elements, ctx);
}

const ADD_EXAMPLE = `
Example (an FTMO-style account: the day resets at midnight Prague time on the higher of balance
and equity; 5% daily loss; 10% drawdown from the initial balance; the day is locked in at a
daily profit of 3,000):
  riskguard elements add --server FTMO-Demo --login 5012345 --name ftmo-100k \\
    --daily-reset 00:00 --timezone Europe/Prague --baseline max \\
    --max-daily-loss 5% --max-drawdown 10% --initial-balance 100000 --max-profit 3000

<account> in show, set, unlock, enable, disable and remove: the element id or the MT5 login.`;

/** Builds the element document (without its password) from `add`'s options. */
function elementFromOptions(options: Record<string, unknown>): Record<string, unknown> {
  const login = String(options.login).trim();
  const doc: Record<string, unknown> = {
    server: options.server,
    login: /^\d+$/.test(login) ? Number(login) : options.login,
    ...fieldsFromValues(valuesFromOptions(options, "add")),
  };
  if (doc.pin_host === null) delete doc.pin_host;
  const rules = rulesFromOptions(options);
  if (rules !== undefined) doc.rules = rules;
  return doc;
}

/**
 * Validates a new element with the schema before anything is asked or written (the password is
 * a stand-in here: it is asked for afterwards).
 */
function checkElement(doc: Record<string, unknown>, which: "add"): void {
  const parsed = parseElement({ ...doc, _id: "new", password: "(checked later)" });
  if (!parsed.valid) {
    throw new RiskGuardError(
      "ELEMENT_INVALID",
      `Invalid element: ${describeIssues(parsed.issues, which)}`,
    );
  }
}

/** Reads the password of `add` (flag, environment variable or prompt) into the document. */
async function addPassword(
  doc: Record<string, unknown>,
  options: Record<string, unknown>,
  ctx: CliContext,
  config: Config,
): Promise<void> {
  const password = await readPassword(
    options,
    ctx,
    `Password for login ${String(doc.login)} on ${String(doc.server)}: `,
  );
  if (config.secret_key !== undefined) {
    doc.password_enc = await encryptPassword(password, config.secret_key);
  } else doc.password = password;
}

/** Puts a new password of `set` into the changes (encrypted when the key is set). */
async function setPassword(
  changes: Record<string, unknown>,
  options: Record<string, unknown>,
  ctx: CliContext,
  config: Config,
  current: ParsedElement,
): Promise<void> {
  const { login, server } = loginAndServer(current);
  const password = await readPassword(
    { ...options, password: options.password === true ? undefined : options.password },
    ctx,
    `New password for login ${String(login)} on ${String(server)}: `,
  );
  if (config.secret_key !== undefined) {
    changes.password_enc = await encryptPassword(password, config.secret_key);
  } else changes.password = password;
}

/** The password from `--password`, `--password-env`, or the terminal; never empty. */
export async function readPassword(
  options: Record<string, unknown>,
  ctx: CliContext,
  prompt: string,
): Promise<string> {
  let password = typeof options.password === "string" ? options.password : undefined;
  const env = options.passwordEnv;
  if (password !== undefined && typeof env === "string") {
    throw new RiskGuardError("INPUT_INVALID", "Give --password or --password-env, not both");
  }
  if (typeof env === "string") {
    password = ctx.env[env];
    if (password === undefined) {
      throw new RiskGuardError(
        "INPUT_INVALID",
        `--password-env ${env}: no environment variable ${env} is set`,
      );
    }
  }
  if (password === undefined) {
    password = await ctx.readSecret(prompt);
    if (password === undefined) {
      throw new RiskGuardError(
        "INPUT_INVALID",
        "No --password or --password-env given and no terminal to prompt on",
      );
    }
  }
  if (password === "") throw new RiskGuardError("INPUT_INVALID", "The password must not be empty");
  return password;
}

/** Commander's collector of a repeatable option. */
function collectValues(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** Element field names a person may name in `--unset`, and every field of the schema. */
const CONFIG_FIELDS: ReadonlySet<string> = new Set(CONFIG_ELEMENT_FIELDS);
const SCHEMA_FIELDS: ReadonlySet<string> = new Set(elementSchema.keys);

/**
 * Adds `--unset <field>` removals (`null`) to `changes`; returns the flag that named each field
 * (for error messages). A field may not be both set and removed.
 */
function unsetFields(unset: readonly string[], changes: Record<string, unknown>) {
  const flags: Record<string, string> = {};
  for (const text of unset) {
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
  return flags;
}

/** Every issue of a refusal, each field named with its flag: `a (--a) why; b (--b) why`. */
function describeIssues(
  issues: readonly FieldIssue[],
  which: "add" | "set",
  given: Readonly<Record<string, string>> = {},
): string {
  return issues.map((issue) => {
    const top = issue.field.split(".")[0]!;
    const name = given[top] === undefined
      ? describeField(issue.field, which)
      : `${issue.field} (${given[top]})`;
    return `${name} ${issue.reason}`;
  }).join("; ");
}

/** `max_daily_loss 3%, max_profit removed, name "main"`: what `set` changed, as stored. */
function describeChanges(changes: Record<string, unknown>, stored: Record<string, unknown>) {
  return Object.keys(changes).map((field) => {
    const value = stored[field];
    if (field === "password" || field === "password_enc") {
      return changes[field] === null ? undefined : "password changed";
    }
    if (changes[field] === null) {
      return value === undefined ? `${field} removed` : `${field} back to its default`;
    }
    if (field === "max_drawdown" && isRecord(value)) {
      return `max_drawdown ${String(value.limit)} (${String(value.mode)}${
        value.stop_at_initial === true ? ", stops at the initial balance" : ""
      })`;
    }
    if (typeof value === "string" && field !== "name" && field !== "pin_host") {
      return `${field} ${value}`;
    }
    if (typeof value === "number" || typeof value === "boolean") return `${field} ${value}`;
    return `${field} ${JSON.stringify(redactValue(value))}`;
  }).filter((text) => text !== undefined).join(", ");
}

/** A copy of an element document with its passwords masked and limits in their raw form. */
function maskDoc(doc: object): Record<string, unknown> {
  const out: Record<string, unknown> = { ...(doc as Record<string, unknown>) };
  if (out.password !== undefined) out.password = MASK;
  if (out.password_enc !== undefined) out.password_enc = MASK;
  // Plugin options may carry API keys or tokens: secret-looking fields are masked there too.
  if (Array.isArray(out.rules)) out.rules = redactValue(out.rules);
  for (const key of ["max_daily_loss", "max_position_risk", "max_profit"]) {
    out[key] = rawLimit(out[key]);
  }
  const drawdown = out.max_drawdown;
  if (isRecord(drawdown)) out.max_drawdown = { ...drawdown, limit: rawLimit(drawdown.limit) };
  return out;
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
      ["loss", rawLimit(e.max_daily_loss)],
      ["risk", rawLimit(e.max_position_risk)],
      ["profit", rawLimit(e.max_profit)],
      ["dd", rawLimit(e.max_drawdown?.limit)],
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
