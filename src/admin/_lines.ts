/**
 * Reads a child's output line by line (admin relays each line into its own log).
 *
 * @module
 */

/** Calls `onLine` for every line of `stream` (without the line break) until it ends. */
export async function forEachLine(
  stream: ReadableStream<Uint8Array>,
  onLine: (line: string) => void,
): Promise<void> {
  let rest = "";
  try {
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      rest += chunk;
      let index: number;
      while ((index = rest.indexOf("\n")) >= 0) {
        const line = rest.slice(0, index).replace(/\r$/, "");
        rest = rest.slice(index + 1);
        if (line !== "") onLine(line);
      }
      // A child that never ends a line must not grow admin's memory without bound.
      if (rest.length > 64 * 1024) {
        onLine(rest);
        rest = "";
      }
    }
  } catch {
    // The child is gone (killed): what was read is all there is.
  }
  if (rest !== "") onLine(rest);
}

/** A console line of a riskguard process: `12:00:00.000 INF risk [id] message`. */
export interface ParsedLine {
  /** LogTape level of the line (`info` when it has none). */
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
