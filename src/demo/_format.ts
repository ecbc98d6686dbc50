/**
 * Text helpers of the demo's views: money, times, fixed-width cells and colours. Widths count
 * characters, and colour codes are added after padding, so a coloured cell is as wide as a plain
 * one.
 *
 * @module
 */

/** `1234.5` -> `"1234.50"`; `null` -> `"-"`. */
export function money(value: number | null): string {
  return value === null ? "-" : value.toFixed(2);
}

/** `3.1` -> `"+3.10"`, `-526.9` -> `"-526.90"`; `null` -> `"-"`. */
export function signedMoney(value: number | null): string {
  if (value === null) return "-";
  const text = value.toFixed(2);
  return value > 0 && text !== "0.00" ? `+${text}` : text === "-0.00" ? "0.00" : text;
}

/** Wall-clock time of an epoch-ms instant, `HH:MM:SS`, in UTC (logs and events use UTC). */
export function clockTime(at: number): string {
  return new Date(at).toISOString().slice(11, 19);
}

/** Seconds as `MM:SS`. */
export function minutes(seconds: number): string {
  const whole = Math.max(0, Math.floor(seconds));
  return `${String(Math.floor(whole / 60)).padStart(2, "0")}:${
    String(whole % 60).padStart(2, "0")
  }`;
}

/** `text` cut to `width` characters (ending in `~` when cut). */
export function fit(text: string, width: number): string {
  // Line breaks and tabs would break the layout; runs of spaces are kept (padded cells).
  const chars = [...text.replace(/[\r\n\t]+/g, " ")];
  if (chars.length <= width) return chars.join("");
  return width <= 0 ? "" : `${chars.slice(0, width - 1).join("")}~`;
}

/** `text` cut or padded on the right to exactly `width` characters. */
export function left(text: string, width: number): string {
  const cut = fit(text, width);
  return cut + " ".repeat(Math.max(0, width - [...cut].length));
}

/** `text` cut or padded on the left to exactly `width` characters. */
export function right(text: string, width: number): string {
  const cut = fit(text, width);
  return " ".repeat(Math.max(0, width - [...cut].length)) + cut;
}

/** Colours of the TTY view. */
export type Tone = "red" | "green" | "yellow" | "dim" | "bold";

const CODES: Readonly<Record<Tone, string>> = {
  red: "\x1b[31m",
  green: "\x1b[32m",
  yellow: "\x1b[33m",
  dim: "\x1b[2m",
  bold: "\x1b[1m",
};

/** Wraps `text` in a colour when `color` is on; otherwise returns it unchanged. */
export function paint(text: string, tone: Tone | undefined, color: boolean): string {
  return color && tone !== undefined ? `${CODES[tone]}${text}\x1b[0m` : text;
}

/** `text` without colour codes (tests, width checks). */
export function stripColor(text: string): string {
  // deno-lint-ignore no-control-regex
  return text.replace(/\x1b\[[0-9;]*m/g, "");
}

/**
 * `text` (which may hold colour codes) cut to `width` visible characters; a cut coloured line
 * ends with a colour reset so the colour does not run into the next one.
 */
export function clip(text: string, width: number): string {
  let visible = 0;
  let out = "";
  // deno-lint-ignore no-control-regex
  for (const part of text.split(/(\x1b\[[0-9;]*m)/)) {
    if (part.startsWith("\x1b[")) {
      out += part;
      continue;
    }
    const chars = [...part];
    if (visible + chars.length <= width) {
      out += part;
      visible += chars.length;
      continue;
    }
    out += chars.slice(0, Math.max(0, width - visible)).join("");
    return out.includes("\x1b[") ? `${out}\x1b[0m` : out;
  }
  return out;
}
