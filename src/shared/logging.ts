/**
 * Logging: a human-readable console sink on stderr, an optional rotating JSON-lines file sink,
 * and redaction before both, so that passwords, tokens and credentials in URIs never reach any
 * output.
 *
 * Our own small code (`_log_core.ts`, `_log_format.ts`, `rotating_file.ts`), no npm package:
 * every risk child loads it, and a child loads no npm package at all (issue 16).
 *
 * Every record of one account carries its `element_id` (see {@link accountLogger}).
 *
 * @module
 */
import type { LogLevel } from "./config.ts";
import {
  addRoute,
  getLogger,
  type Logger,
  type LogRecord,
  type Route,
  setRoutes,
  type Sink,
} from "./_log_core.ts";
import { formatConsoleLine, formatJsonLine } from "./_log_format.ts";
import { redactRecord } from "./_log_redaction.ts";
import { RotatingFile } from "./rotating_file.ts";

export type { Logger, LogProperties, LogRecord } from "./_log_core.ts";

/** The root logger category of riskguard. */
export const ROOT_CATEGORY = "riskguard";

/** The log file is rotated before it passes this size. */
const LOG_FILE_MAX_BYTES = 10 * 1024 * 1024;
/** Rotated log files kept besides the current one (`<file>.1` ... `<file>.5`). */
const LOG_FILE_KEPT = 5;

/** Options of {@link setupLogging}. */
export interface LoggingOptions {
  /** Lowest level logged. */
  level: LogLevel;
  /** Optional JSON-lines file, rotated at 10 MiB, 5 rotated files kept. */
  file?: string | undefined;
  /** Where console lines go; defaults to stderr. Tests pass a collector. */
  writeConsole?: ((line: string) => void) | undefined;
  /**
   * Where the console lines go once stderr is gone (a risk child whose admin died has no reader
   * on it): a file rotated at 5 MiB, one rotated file kept. Without it they are dropped.
   */
  orphanFile?: string | undefined;
}

/** What {@link shutdownLogging} closes. */
let openFile: RotatingFile | undefined;

/**
 * Configures logging for the process, replacing any earlier setup. Call once at start;
 * {@link shutdownLogging} at exit. Throws when the log file cannot be opened.
 */
export async function setupLogging(options: LoggingOptions): Promise<void> {
  await shutdownLogging();
  orphanPath = options.orphanFile;
  const writeConsole = options.writeConsole ?? writeStderr;
  const console: Sink = (record) => writeConsole(formatConsoleLine(record));
  const routes: Route[] = [];
  if (options.file === undefined) {
    routes.push({ category: [ROOT_CATEGORY], lowestLevel: options.level, sinks: [console] });
  } else {
    const file = new RotatingFile(options.file, {
      maxBytes: LOG_FILE_MAX_BYTES,
      maxFiles: LOG_FILE_KEPT,
    });
    openFile = file;
    const sink = fileSink(file, writeConsole);
    routes.push(
      { category: [ROOT_CATEGORY], lowestLevel: options.level, sinks: [console, sink] },
      // Why the process ended goes to the file too (the console already shows it on stderr).
      { category: [EXIT_CATEGORY], lowestLevel: "info", sinks: [sink] },
    );
  }
  setRoutes(routes);
}

/** Writes JSON lines to `file`; says once on the console that writing fails, and when it works again. */
function fileSink(file: RotatingFile, writeConsole: (line: string) => void): Sink {
  let failing = false;
  return (record) => {
    try {
      file.write(formatJsonLine(record));
      if (failing) {
        failing = false;
        writeConsole(formatConsoleLine(noticeRecord("warning", "the log file is written again")));
      }
    } catch (error) {
      if (failing) return;
      failing = true;
      writeConsole(formatConsoleLine(redactRecord(noticeRecord(
        "error",
        "cannot write the log file: {error}; lines are lost until it can be written again",
        { error },
      ))));
    }
  };
}

function noticeRecord(
  level: LogLevel,
  rawMessage: string,
  properties: Record<string, unknown> = {},
): LogRecord {
  return {
    category: [ROOT_CATEGORY, "logging"],
    level,
    rawMessage,
    timestamp: Date.now(),
    properties,
  };
}

const EXIT_CATEGORY = "riskguard-exit";

/** Records why the process ends in the log file (no-op without one). */
export function logExitReason(code: number, message: string): void {
  const log = getLogger([EXIT_CATEGORY]);
  const properties = { code, message };
  if (code === 0) log.info("exit {code}: {message}", properties);
  else log.fatal("exit {code}: {message}", properties);
}

/** Stops logging (records are dropped again) and closes the log file. */
export function shutdownLogging(): Promise<void> {
  setRoutes([]);
  const files = [openFile, orphan];
  openFile = undefined;
  orphan = undefined;
  orphanPath = undefined;
  for (const file of files) {
    try {
      file?.close(); // nothing to flush: writes are not buffered
    } catch {
      // a file that cannot be closed must not turn an orderly exit into a crash
    }
  }
  return Promise.resolve();
}

/** Returns the logger of one part of riskguard, e.g. `logger("admin", "watcher")`. */
export function logger(...category: string[]): Logger {
  return getLogger([ROOT_CATEGORY, ...category]);
}

/** Returns a logger whose every record carries the account's `element_id`. */
export function accountLogger(elementId: string, ...category: string[]): Logger {
  return logger(...category).with({ element_id: elementId });
}

/** Records collected by {@link collectLogs}, until `stop()`. */
export interface LogCollector {
  /** The records so far, redacted as every output's are. */
  readonly records: LogRecord[];
  /** Stops collecting. */
  stop(): void;
}

/**
 * For tests: collects the (redacted) records of `logger(...category)` and below from `level`
 * up, besides whatever logging is set up.
 */
export function collectLogs(
  options: { category?: readonly string[]; level?: LogLevel } = {},
): LogCollector {
  const records: LogRecord[] = [];
  const stop = addRoute({
    category: [ROOT_CATEGORY, ...(options.category ?? [])],
    lowestLevel: options.level ?? "trace",
    sinks: [(record) => records.push(record)],
  });
  return { records, stop };
}

const encoder = new TextEncoder();

/**
 * Set once stderr is gone (admin died and the pipe to it broke): console lines go to the orphan
 * file if there is one, else nowhere.
 */
let stderrBroken = false;
/** {@link LoggingOptions.orphanFile}, and the file once opened. */
let orphanPath: string | undefined;
let orphan: RotatingFile | undefined;
const ORPHAN_MAX_BYTES = 5 * 1024 * 1024;

function writeStderr(line: string): void {
  if (stderrBroken) return writeOrphan(line);
  const bytes = encoder.encode(line);
  let written = 0;
  try {
    while (written < bytes.length) written += Deno.stderr.writeSync(bytes.subarray(written));
  } catch {
    // A risk child whose admin died has no reader on its stderr (broken pipe): it must keep
    // guarding, so the console sink moves to the orphan file instead of throwing into the caller.
    stderrBroken = true;
    writeOrphan(line);
  }
}

function writeOrphan(line: string): void {
  if (orphanPath === undefined) return;
  try {
    orphan ??= new RotatingFile(orphanPath, { maxBytes: ORPHAN_MAX_BYTES, maxFiles: 1 });
    orphan.write(line);
  } catch {
    // Not written (a full disk, a file held during rotation): this line is lost, the next one
    // opens the file again; guarding never stops over a log line.
    try {
      orphan?.close();
    } catch {
      // already unusable
    }
    orphan = undefined;
  }
}
