/**
 * Reads a child process's output line by line (admin relays its risk children's lines, the plugin
 * host its plugin processes' answers).
 *
 * @module
 */

/** Options of {@link forEachLine}. */
export interface LineOptions {
  /** Longest line in characters (default 64 Ki). */
  maxLineChars?: number;
  /**
   * Called once a line grows past `maxLineChars`, with its length so far; the rest of that line
   * is then skipped. Without it, a longer line is handed to `onLine` in pieces.
   */
  onOverflow?: (chars: number) => void;
}

/**
 * Calls `onLine` for every non-empty line of `stream` (without the line break, `\r\n` or `\n`)
 * until it ends. A line longer than `maxLineChars` is handed over in pieces, or refused through
 * `onOverflow`, so a child that never ends a line cannot grow the reader's memory without bound.
 * Each chunk is searched once (never the line read so far again), so a long line costs time in
 * proportion to its length. Never rejects: a stream broken by a kill ends the lines.
 */
export async function forEachLine(
  stream: ReadableStream<Uint8Array>,
  onLine: (line: string) => void,
  options: LineOptions = {},
): Promise<void> {
  const max = options.maxLineChars ?? 64 * 1024;
  const onOverflow = options.onOverflow;
  /** The line read so far, in pieces (joined once, when its end arrives). */
  let parts: string[] = [];
  let length = 0;
  /** Skipping the rest of a line refused through `onOverflow`. */
  let skipping = false;
  const emit = (last: string) => {
    const line = (parts.length === 0 ? last : parts.join("") + last).replace(/\r$/, "");
    parts = [];
    length = 0;
    if (line !== "") onLine(line);
  };
  const overflowed = (): boolean => {
    if (length <= max) return false;
    if (onOverflow === undefined) {
      emit("");
      return false;
    }
    onOverflow(length);
    parts = [];
    length = 0;
    skipping = true;
    return true;
  };
  try {
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      let start = 0;
      let index: number;
      while ((index = chunk.indexOf("\n", start)) >= 0) {
        const piece = chunk.slice(start, index);
        start = index + 1;
        if (skipping) {
          skipping = false;
          continue;
        }
        length += piece.length;
        if (length > max && onOverflow !== undefined) {
          onOverflow(length);
          parts = [];
          length = 0;
          continue;
        }
        emit(piece);
      }
      if (skipping || start === chunk.length) continue;
      const tail = chunk.slice(start);
      parts.push(tail);
      length += tail.length;
      overflowed();
    }
  } catch {
    // The child is gone (killed): what was read is all there is.
  }
  if (!skipping && length > 0) emit("");
}
