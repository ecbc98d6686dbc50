/**
 * Parses a risk child's console lines (admin relays each line into its own log; the reading is
 * `forEachLine` in `src/shared/lines.ts`).
 *
 * @module
 */

/** A console line of a riskguard process: `12:00:00.000 INF risk [id] message`. */
export interface ParsedLine {
  /** Log level of the line (`info` when it has none). */
  level: "trace" | "debug" | "info" | "warning" | "error" | "fatal";
  /** The line without its time and level. */
  text: string;
}

const LEVELS: Record<string, ParsedLine["level"]> = {
  TRC: "trace",
  DBG: "debug",
  INF: "info",
  WRN: "warning",
  ERR: "error",
  FTL: "fatal",
};

/** Splits the time and level off a child's console line. */
export function parseConsoleLine(line: string): ParsedLine {
  const match = /^\d\d:\d\d:\d\d\.\d{3} (TRC|DBG|INF|WRN|ERR|FTL) (.*)$/.exec(line);
  if (match === null) {
    // `riskguard: <message>` is how the CLI reports why it exits: an error.
    return { level: line.startsWith("riskguard: ") ? "error" : "info", text: line };
  }
  return { level: LEVELS[match[1]!]!, text: match[2]! };
}
