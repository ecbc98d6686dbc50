/**
 * The terminal screen of the live view: the alternate screen (so the user's scrollback is left
 * as it was), the cursor hidden, and frames drawn without flicker: the cursor goes home and each
 * line overwrites the previous frame's line, then clears what is left of it; nothing is cleared
 * first. {@link TtyScreen.close} restores the screen and the cursor, and is safe to call twice.
 *
 * @module
 */

const ENTER = "\x1b[?1049h\x1b[?25l";
const LEAVE = "\x1b[?25h\x1b[?1049l";
const HOME = "\x1b[H";
const CLEAR_LINE_END = "\x1b[K";
const CLEAR_BELOW = "\x1b[J";

/** The live view's screen on a terminal. */
export class TtyScreen {
  #write: (text: string) => void;
  #open = false;

  /** Draws through `write` (the process's stdout). */
  constructor(write: (text: string) => void) {
    this.#write = write;
  }

  /** Switches to the alternate screen and hides the cursor. */
  open(): void {
    if (this.#open) return;
    this.#open = true;
    this.#write(ENTER);
  }

  /** Draws a frame over the previous one. */
  draw(lines: readonly string[]): void {
    if (!this.#open) return;
    this.#write(HOME + lines.map((line) => line + CLEAR_LINE_END).join("\n") + CLEAR_BELOW);
  }

  /** Restores the normal screen and the cursor (once). */
  close(): void {
    if (!this.#open) return;
    this.#open = false;
    this.#write(LEAVE);
  }
}

/**
 * The terminal's size; 80 x 24 for what cannot be read (a pseudo-terminal may report 0 x 0).
 */
export function terminalSize(): { columns: number; rows: number } {
  try {
    const { columns, rows } = Deno.consoleSize();
    return { columns: columns > 0 ? columns : 80, rows: rows > 0 ? rows : 24 };
  } catch {
    return { columns: 80, rows: 24 };
  }
}
