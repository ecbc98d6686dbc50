/**
 * `riskguard elements import <file.csv|file.json>` and `riskguard elements export`: a fleet of
 * accounts in one file.
 *
 * Import checks every row first (the element schema, the same as `elements add`; duplicates in
 * the file; the password source) and writes nothing when any row is bad: each bad row is named by
 * its line and field. `--check` stops after that check. Then passwords are read (from the file,
 * from the environment variable a row names in `password_env`, or from a prompt) before the first
 * write, and the rows are inserted one by one: each insert is one document, so no row is ever
 * half-written. A row whose login and server already exist is skipped, so re-running an import
 * (for example after the store failed midway) adds only what is missing.
 *
 * Export writes every setting a person may change and never a password.
 *
 * @module
 */
import type { Command } from "commander";
import { dirname, resolve } from "node:path";
import { type Node, type ParseError, parseTree, printParseErrorCode } from "jsonc-parser";
import { RiskGuardError } from "../shared/errors.ts";
import {
  CONFIG_ELEMENT_FIELDS,
  encryptPassword,
  isRecord,
  type ParsedElement,
  parseElement,
  withStore,
} from "../store/mod.ts";
import { type CliContext, startCommand } from "./context.ts";
import { parseCsv, toCsv } from "./_csv.ts";
import {
  describeField,
  FIELD_FLAGS,
  type FieldFlag,
  fieldsFromValues,
  rawFields,
  readFlagText,
  writeFlagText,
} from "./_element_flags.ts";
import { loginAndServer } from "./_element_ref.ts";

/** A row of an import file, read into a document (its password still to be found). */
interface Row {
  /** 1-based line of the row in the file. */
  line: number;
  /** The element document, without its password. */
  doc: Record<string, unknown>;
  /** The password given in the file. */
  password?: string;
  /** The environment variable that holds the password. */
  passwordEnv?: string;
}

/** One thing wrong with one row. */
interface RowProblem {
  line: number;
  field: string;
  reason: string;
}

/** Columns of a CSV file besides the field flags. */
const EXTRA_COLUMNS = ["password", "password_env", "rules"] as const;

/** The CSV column of a field flag: its name with underscores (`max_daily_loss`, `daily_reset`). */
function columnOf(flag: FieldFlag): string {
  return flag.name.replaceAll("-", "_");
}

/** Document fields a JSON row may hold: the settings a person may change, and `password_env`. */
const JSON_FIELDS: ReadonlySet<string> = new Set([
  ...CONFIG_ELEMENT_FIELDS.filter((field) => field !== "trading"),
  "password_env",
]);

/** Adds `elements import` and `elements export` to the `elements` command group. */
export function registerImportExport(elements: Command, ctx: CliContext): void {
  elements.command("import <file>")
    .description(
      "add the accounts of a CSV or JSON file (every row checked first; nothing is written " +
        "when a row is bad; rows whose login and server exist are skipped)",
    )
    .option("--format <format>", "csv or json (default: from the file name)")
    .option("--check", "only check the file: report every bad row with its line and field")
    .addHelpText("after", IMPORT_HELP)
    .action(
      async (file: string, options: { format?: string; check?: boolean }, command: Command) => {
        const config = await startCommand(ctx, command);
        const format = fileFormat(file, options.format);
        let text: string;
        try {
          text = await Deno.readTextFile(file);
        } catch (error) {
          throw new RiskGuardError(
            "INPUT_INVALID",
            `Cannot read ${file}: ${(error as Error).message}`,
          );
        }
        const baseDir = dirname(resolve(file));
        const { rows, problems } = format === "csv"
          ? readCsvRows(text, baseDir)
          : readJsonRows(text, baseDir);
        const out = (line: string) => ctx.stdout(`${line}\n`);
        await withStore(config.store, { db: config.db }, async (store) => {
          const existing = await store.listElements();
          const plan = planImport(rows, problems, existing, ctx.env, format);
          if (plan.problems.length > 0) {
            for (const problem of plan.problems) {
              ctx.stderr(`${file}:${problem.line}: ${problem.field} ${problem.reason}\n`);
            }
            const lines = new Set(plan.problems.map((problem) => problem.line));
            throw new RiskGuardError(
              "INPUT_INVALID",
              `${file}: ${lines.size} of ${rows.length + countRowless(plan.problems, rows)} ` +
                `rows are invalid (${plan.problems.length} problems, listed above); nothing ` +
                "was written",
            );
          }
          for (const skip of plan.skipped) {
            out(
              `line ${skip.row.line}: login ${String(skip.row.doc.login)} on ` +
                `${String(skip.row.doc.server)} already exists (element ${skip.id}): skipped`,
            );
          }
          const prompts = plan.add.filter((row) => passwordSource(row) === "prompt").length;
          if (options.check === true) {
            out(
              `${file}: ${rows.length} rows are valid: ${plan.add.length} to add, ` +
                `${plan.skipped.length} already exist${
                  prompts === 0 ? "" : `, ${prompts} will prompt for their password`
                }; nothing was written (--check)`,
            );
            return;
          }
          // Every password is read before the first write: a missing one writes nothing.
          const docs: Record<string, unknown>[] = [];
          for (const row of plan.add) {
            const password = await rowPassword(row, ctx);
            const doc = { ...row.doc };
            if (config.secret_key !== undefined) {
              doc.password_enc = await encryptPassword(password, config.secret_key);
            } else doc.password = password;
            docs.push(doc);
          }
          const added: string[] = [];
          for (const [index, doc] of docs.entries()) {
            const row = plan.add[index]!;
            let failure: string | undefined;
            try {
              const result = await store.insertElement(doc);
              if (result.ok) {
                added.push(result.element.id);
                out(
                  `line ${row.line}: login ${String(doc.login)} on ${String(doc.server)} ` +
                    `added as element ${result.element.id}`,
                );
                continue;
              }
              failure = `${
                format === "csv" ? describeField(result.field, "csv") : result.field
              } ${result.reason}`;
            } catch (error) {
              failure = (error as Error).message;
            }
            throw new RiskGuardError(
              "INPUT_INVALID",
              `${file}:${row.line}: not imported: ${failure}. ${added.length} rows before it ` +
                `were added, ${docs.length - index} were not; run the import again to add ` +
                "the rest (rows already added are skipped)",
            );
          }
          out(
            `Imported ${added.length} elements from ${file}` +
              (plan.skipped.length === 0 ? "" : ` (${plan.skipped.length} skipped: already exist)`),
          );
        });
      },
    );

  elements.command("export")
    .description("write every account's settings as CSV or JSON (never a password)")
    .option("--format <format>", "csv or json (default: from --output's name, else json)")
    .option("--output <file>", "write to this file instead of standard output")
    .action(async (options: { format?: string; output?: string }, command: Command) => {
      const config = await startCommand(ctx, command);
      const format = options.format === undefined && options.output === undefined
        ? "json"
        : fileFormat(options.output ?? "", options.format);
      const list = await withStore(
        config.store,
        { db: config.db },
        (store) => store.listElements(),
      );
      const valid = list.filter((parsed) => parsed.valid);
      for (const parsed of list) {
        if (!parsed.valid) {
          ctx.stderr(
            `riskguard: element ${parsed.id} left out: its document is invalid (${parsed.field} ` +
              `${parsed.reason}); fix it with elements set or show it with elements show\n`,
          );
        }
      }
      const text = format === "csv" ? exportCsv(valid) : exportJson(valid);
      if (options.output === undefined) ctx.stdout(text);
      else {
        await Deno.writeTextFile(options.output, text);
        ctx.stdout(`Exported ${valid.length} elements to ${options.output}\n`);
      }
    });
}

const IMPORT_HELP = `
CSV: a header row of columns, then one account per row. Columns: server, login, then any of
  password, password_env, ${
  FIELD_FLAGS.filter((flag) => !["server", "login"].includes(flag.name))
    .map(columnOf).join(", ")
}, rules
  (each column takes what its flag of \`elements add\` takes; rules is a JSON array of
  {"module": file, "options": {...}}). Empty cells are not set.
JSON: an array of element documents as \`elements export --format json\` writes them, each with
  password or password_env when wanted.
Passwords: the password column, or password_env naming an environment variable that holds it,
  or else a prompt (without echo) before anything is written. Never printed.
Relative rule files are resolved against the import file's folder.

Example:
  server,login,name,password_env,daily_reset,timezone,baseline,max_daily_loss,max_drawdown
  FTMO-Demo,5012345,ftmo-1,FTMO_PW_1,00:00,Europe/Prague,max,5%,10%`;

function fileFormat(file: string, format: string | undefined): "csv" | "json" {
  const chosen = format ?? (/\.csv$/i.test(file) ? "csv" : /\.json$/i.test(file) ? "json" : "");
  if (chosen === "csv" || chosen === "json") return chosen;
  throw new RiskGuardError(
    "INPUT_INVALID",
    format === undefined
      ? `Cannot tell the format of "${file}": name it .csv or .json, or give --format csv|json`
      : `--format must be csv or json, got "${format}"`,
  );
}

/** Problems with no row of their own (a bad header) count as one more row. */
function countRowless(problems: readonly RowProblem[], rows: readonly Row[]): number {
  const lines = new Set(rows.map((row) => row.line));
  return new Set(problems.filter((problem) => !lines.has(problem.line)).map((p) => p.line)).size;
}

/** Reads a CSV file into rows; cells are read exactly as the flags of `elements add` read them. */
function readCsvRows(text: string, baseDir: string): { rows: Row[]; problems: RowProblem[] } {
  const records = parseCsv(text);
  const problems: RowProblem[] = [];
  const header = records.shift();
  if (header === undefined) return { rows: [], problems };
  const flags = new Map(FIELD_FLAGS.map((flag) => [columnOf(flag), flag]));
  const columns = header.cells.map((cell) => cell.trim().toLowerCase().replaceAll("-", "_"));
  columns.forEach((column, index) => {
    const known = flags.has(column) || (EXTRA_COLUMNS as readonly string[]).includes(column);
    if (!known) {
      problems.push({
        line: header.line,
        field: `column ${index + 1} "${header.cells[index]}"`,
        reason: `is not a column of an element; columns: server, login, ${
          [...flags.keys()].filter((name) => name !== "server" && name !== "login").join(", ")
        }, ${EXTRA_COLUMNS.join(", ")}`,
      });
    } else if (columns.indexOf(column) !== index) {
      problems.push({
        line: header.line,
        field: `column ${index + 1} "${header.cells[index]}"`,
        reason: `repeats column ${columns.indexOf(column) + 1}`,
      });
    }
  });
  const rows: Row[] = [];
  for (const record of records) {
    if (record.cells.length > columns.length) {
      problems.push({
        line: record.line,
        field: "(row)",
        reason: `has ${record.cells.length} fields, the header ${columns.length}`,
      });
      continue;
    }
    const values = new Map<FieldFlag, unknown>();
    const row: Row = { line: record.line, doc: {} };
    let rules: unknown;
    record.cells.forEach((cell, index) => {
      const column = columns[index]!;
      if (cell.trim() === "") return;
      if (column === "password") row.password = cell;
      else if (column === "password_env") row.passwordEnv = cell.trim();
      else if (column === "rules") {
        try {
          rules = resolveRuleFiles(JSON.parse(cell), baseDir);
        } catch (error) {
          problems.push({
            line: record.line,
            field: "rules (column rules)",
            reason: `is not valid JSON: ${(error as Error).message}`,
          });
        }
      } else {
        const flag = flags.get(column);
        if (flag === undefined) return;
        try {
          values.set(flag, readFlagText(flag, cell));
        } catch (error) {
          problems.push({
            line: record.line,
            field: `${flag.field} (column ${column})`,
            reason: (error as Error).message.replace(/^--\S+ /, ""),
          });
        }
      }
    });
    row.doc = fieldsFromValues(values);
    if (row.doc.pin_host === null) delete row.doc.pin_host;
    if (rules !== undefined) row.doc.rules = rules;
    rows.push(row);
  }
  return { rows, problems };
}

/** Reads a JSON array of element documents into rows, each with the line it starts on. */
function readJsonRows(text: string, baseDir: string): { rows: Row[]; problems: RowProblem[] } {
  const errors: ParseError[] = [];
  const tree = parseTree(text, errors, { allowTrailingComma: true });
  const lineAt = (offset: number) => text.slice(0, offset).split("\n").length;
  const first = errors[0];
  if (first !== undefined) {
    throw new RiskGuardError(
      "INPUT_INVALID",
      `JSON line ${lineAt(first.offset)}: ${printParseErrorCode(first.error)}`,
    );
  }
  if (tree === undefined || tree.type !== "array") {
    throw new RiskGuardError(
      "INPUT_INVALID",
      "A JSON import file must be an array of element documents ([{...}, {...}])",
    );
  }
  const rows: Row[] = [];
  const problems: RowProblem[] = [];
  for (const node of tree.children ?? []) {
    const line = lineAt(node.offset);
    const value = nodeValue(node);
    if (!isRecord(value)) {
      problems.push({ line, field: "(row)", reason: "must be an object (an element document)" });
      continue;
    }
    const row: Row = { line, doc: {} };
    for (const [key, field] of Object.entries(value)) {
      if (!JSON_FIELDS.has(key)) {
        problems.push({
          line,
          field: key,
          reason: "cannot be imported: it is not a setting a person may change",
        });
      } else if (key === "password") {
        if (typeof field === "string") row.password = field;
        else problems.push({ line, field: key, reason: "must be a string" });
      } else if (key === "password_env") {
        if (typeof field === "string") row.passwordEnv = field;
        else problems.push({ line, field: key, reason: "must be the name of a variable" });
      } else if (key === "rules") row.doc.rules = resolveRuleFiles(field, baseDir);
      else row.doc[key] = field;
    }
    rows.push(row);
  }
  return { rows, problems };
}

function nodeValue(node: Node): unknown {
  if (node.type === "object") {
    const out: Record<string, unknown> = {};
    for (const property of node.children ?? []) {
      const [key, value] = property.children ?? [];
      if (key !== undefined && value !== undefined) out[String(key.value)] = nodeValue(value);
    }
    return out;
  }
  if (node.type === "array") return (node.children ?? []).map(nodeValue);
  return node.value;
}

/** Rule files relative to the import file's folder become absolute paths. */
function resolveRuleFiles(rules: unknown, baseDir: string): unknown {
  if (!Array.isArray(rules)) return rules;
  return rules.map((rule) => {
    if (!isRecord(rule) || typeof rule.module !== "string" || rule.module === "") return rule;
    const module = rule.module;
    const absolute = /^([a-zA-Z]:[\\/]|[\\/]|file:)/.test(module);
    return absolute ? rule : { ...rule, module: resolve(baseDir, module) };
  });
}

/** What an import will do, or every problem that stops it. */
interface ImportPlan {
  add: Row[];
  skipped: { row: Row; id: string }[];
  problems: RowProblem[];
}

/**
 * Checks every row (schema, password source, duplicates in the file) and sorts the good ones into
 * rows to add and rows that already exist. Problems are sorted by line.
 */
function planImport(
  rows: readonly Row[],
  earlier: readonly RowProblem[],
  existing: readonly ParsedElement[],
  env: Record<string, string | undefined>,
  format: "csv" | "json",
): ImportPlan {
  const problems = [...earlier];
  const plan: ImportPlan = { add: [], skipped: [], problems };
  const seen = new Map<string, number>();
  const stored = new Map<string, string>();
  for (const parsed of existing) {
    const { login, server } = loginAndServer(parsed);
    stored.set(`${String(login)}\u0000${String(server)}`, parsed.id);
  }
  for (const row of rows) {
    const before = problems.length;
    if (row.password !== undefined && row.passwordEnv !== undefined) {
      problems.push({
        line: row.line,
        field: "password",
        reason: "and password_env are both given; give one",
      });
    } else if (row.passwordEnv !== undefined && env[row.passwordEnv] === undefined) {
      problems.push({
        line: row.line,
        field: "password_env",
        reason: `names the environment variable ${row.passwordEnv}, which is not set`,
      });
    } else if (row.password === "") {
      problems.push({ line: row.line, field: "password", reason: "must not be empty" });
    }
    const parsed = parseElement({ ...row.doc, _id: "import", password: "(checked later)" });
    if (!parsed.valid) {
      for (const issue of parsed.issues) {
        problems.push({
          line: row.line,
          field: format === "csv" ? describeField(issue.field, "csv") : issue.field,
          reason: issue.reason,
        });
      }
    }
    const key = `${String(row.doc.login)}\u0000${String(row.doc.server)}`;
    const twin = seen.get(key);
    if (twin !== undefined) {
      problems.push({
        line: row.line,
        field: "login",
        reason: `${String(row.doc.login)} on ${String(row.doc.server)} is also on line ${twin}`,
      });
    } else seen.set(key, row.line);
    if (problems.length > before) continue;
    const id = stored.get(key);
    if (id !== undefined) plan.skipped.push({ row, id });
    else plan.add.push(row);
  }
  problems.sort((a, b) => a.line - b.line);
  return plan;
}

function passwordSource(row: Row): "file" | "env" | "prompt" {
  return row.password !== undefined ? "file" : row.passwordEnv !== undefined ? "env" : "prompt";
}

async function rowPassword(row: Row, ctx: CliContext): Promise<string> {
  const source = passwordSource(row);
  if (source === "file") return row.password!;
  if (source === "env") return ctx.env[row.passwordEnv!]!;
  const typed = await ctx.readSecret(
    `Password for login ${String(row.doc.login)} on ${String(row.doc.server)} (line ${row.line}): `,
  );
  if (typed === undefined || typed === "") {
    throw new RiskGuardError(
      "INPUT_INVALID",
      `line ${row.line}: no password (no password or password_env column value, and ${
        typed === undefined ? "no terminal to prompt on" : "an empty answer"
      }); nothing was written`,
    );
  }
  return typed;
}

/** The settings of an element as an export row: every config field but passwords. */
function exportDoc(parsed: ParsedElement): Record<string, unknown> {
  const raw = rawFields(parsed);
  const out: Record<string, unknown> = {};
  for (const field of CONFIG_ELEMENT_FIELDS) {
    if (field === "password" || field === "password_enc" || field === "trading") continue;
    if (raw[field] !== undefined) out[field] = raw[field];
  }
  return out;
}

function exportJson(list: readonly ParsedElement[]): string {
  return `${JSON.stringify(list.map(exportDoc), null, 2)}\n`;
}

function exportCsv(list: readonly ParsedElement[]): string {
  const header = [...FIELD_FLAGS.map(columnOf), "rules"];
  const rows = list.map((parsed) => {
    const doc = exportDoc(parsed);
    return [
      ...FIELD_FLAGS.map((flag) => writeFlagText(flag, doc) ?? ""),
      Array.isArray(doc.rules) && doc.rules.length > 0 ? JSON.stringify(doc.rules) : "",
    ];
  });
  return toCsv(header, rows);
}
