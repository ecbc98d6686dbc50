/**
 * Logging setup on LogTape: a human-readable console sink on stderr, an optional rotating
 * JSON-lines file sink, and redaction on both so that passwords, tokens and credentials in
 * URIs never reach any output.
 *
 * Every record of one account carries its `element_id` (see {@link accountLogger}).
 *
 * @module
 */
import {
  configure,
  getLogger,
  jsonLinesFormatter,
  type Logger,
  type LogRecord,
  reset,
  type Sink,
} from "@logtape/logtape";
import { getRotatingFileSink } from "@logtape/file";
import { redactByField } from "@logtape/redaction";
import type { LogLevel } from "./config.ts";
import { MASK, maskSecretsInText, redactValue, SECRET_FIELD_PATTERNS } from "./secrets.ts";

/** The root logger category of riskguard. */
export const ROOT_CATEGORY = "riskguard";

/** Options of {@link setupLogging}. */
export interface LoggingOptions {
  /** Lowest level logged. */
  level: LogLevel;
  /** Optional JSON-lines file, rotated at 10 MiB, 5 files kept. */
  file?: string | undefined;
  /** Where console lines go; defaults to stderr. Tests pass a collector. */
  writeConsole?: ((line: string) => void) | undefined;
}

/** Configures LogTape for the process. Call once at start; {@link shutdownLogging} at exit. */
export async function setupLogging(options: LoggingOptions): Promise<void> {
  const writeConsole = options.writeConsole ?? writeStderr;
  const fieldRedaction = {
    fieldPatterns: [...SECRET_FIELD_PATTERNS],
    action: () => MASK,
  };
  const sinks: Record<string, Sink> = {
    console: redactByField(
      (record: LogRecord) => writeConsole(consoleFormatter(record)),
      fieldRedaction,
    ),
  };
  if (options.file !== undefined) {
    // Values are redacted before they are serialized: masking the JSON text itself could cut
    // across the quotes of neighbouring values.
    sinks.file = redactByField(
      redactingValues(
        getRotatingFileSink(options.file, {
          formatter: jsonLinesFormatter,
          maxSize: 10 * 1024 * 1024,
          maxFiles: 5,
        }),
      ),
      fieldRedaction,
    );
  }
  if (options.file !== undefined && Deno.build.os !== "windows") {
    // Log lines are masked, but still the operator's business only.
    try {
      Deno.chmodSync(options.file, 0o600);
    } catch {
      // created later by the sink, or not ours to change
    }
  }
  await configure({
    reset: true,
    sinks,
    loggers: [
      { category: ROOT_CATEGORY, lowestLevel: options.level, sinks: Object.keys(sinks) },
      // Why the process ended goes to the file too (the console already shows it on stderr).
      ...(options.file === undefined
        ? []
        : [{ category: EXIT_CATEGORY, lowestLevel: "info" as const, sinks: ["file"] }]),
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: ["console"] },
    ],
  });
}

/**
 * Wraps a sink so that every string in the record (message parts and property values, however
 * deep) has its secrets masked first; the wrapper keeps the sink's disposal.
 */
function redactingValues<S extends Sink>(sink: S): S {
  const wrapped = ((record: LogRecord) =>
    sink({
      ...record,
      message: record.message.map((part) => redactValue(part)),
      properties: redactValue(record.properties) as Record<string, unknown>,
    })) as S;
  const disposable = sink as Partial<Disposable & AsyncDisposable>;
  const target = wrapped as Partial<Disposable & AsyncDisposable>;
  if (disposable[Symbol.dispose] !== undefined) {
    target[Symbol.dispose] = () => disposable[Symbol.dispose]!();
  }
  if (disposable[Symbol.asyncDispose] !== undefined) {
    target[Symbol.asyncDispose] = () => disposable[Symbol.asyncDispose]!();
  }
  return wrapped;
}

const EXIT_CATEGORY = "riskguard-exit";

/** Records why the process ends in the log file (no-op without one). */
export function logExitReason(code: number, message: string): void {
  const log = getLogger([EXIT_CATEGORY]);
  const properties = { code, message };
  if (code === 0) log.info("exit {code}: {message}", properties);
  else log.fatal("exit {code}: {message}", properties);
}

/** Flushes and closes every sink. */
export async function shutdownLogging(): Promise<void> {
  await reset();
}

/** Returns the logger of one part of riskguard, e.g. `logger("admin", "watcher")`. */
export function logger(...category: string[]): Logger {
  return getLogger([ROOT_CATEGORY, ...category]);
}

/** Returns a logger whose every record carries the account's `element_id`. */
export function accountLogger(elementId: string, ...category: string[]): Logger {
  return logger(...category).with({ element_id: elementId });
}

const LEVEL_LABELS: Record<string, string> = {
  trace: "TRC",
  debug: "DBG",
  info: "INF",
  warning: "WRN",
  error: "ERR",
  fatal: "FTL",
};

/** Formats one record as `time level category [element] message key=value ...`. */
function consoleFormatter(record: LogRecord): string {
  const time = new Date(record.timestamp).toISOString().slice(11, 23);
  const category = record.category.slice(1).join(".") || record.category.join(".");
  const { element_id: elementId, ...rest } = record.properties;
  const message = record.message.map((part) => typeof part === "string" ? part : show(part))
    .join("");
  const extra = Object.keys(rest).filter((key) => !messageMentions(record, key)).map((key) =>
    `${key}=${show(rest[key])}`
  );
  const account = elementId === undefined ? "" : ` [${String(elementId)}]`;
  const line = `${time} ${
    LEVEL_LABELS[record.level] ?? record.level
  } ${category}${account} ${message}${extra.length > 0 ? " " + extra.join(" ") : ""}\n`;
  return maskSecretsInText(line);
}

function messageMentions(record: LogRecord, key: string): boolean {
  return typeof record.rawMessage === "string" && record.rawMessage.includes(`{${key}}`);
}

function show(value: unknown): string {
  if (typeof value === "string") return value;
  if (value instanceof Error) return value.message;
  try {
    return JSON.stringify(redactValue(value));
  } catch {
    return String(value);
  }
}

const encoder = new TextEncoder();

/** Set once stderr is gone (admin died and the pipe to it broke): logging goes on silently. */
let stderrBroken = false;

function writeStderr(line: string): void {
  if (stderrBroken) return;
  const bytes = encoder.encode(line);
  let written = 0;
  try {
    while (written < bytes.length) written += Deno.stderr.writeSync(bytes.subarray(written));
  } catch {
    // A risk child whose admin died has no reader on its stderr (broken pipe): it must keep
    // guarding, so the console sink goes quiet instead of throwing into the caller.
    stderrBroken = true;
  }
}
