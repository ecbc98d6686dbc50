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
  /**
   * Reads a byte stream (a child process's pipe) into one buffer of this many bytes, reused
   * for every read. Without it the stream hands over chunks it allocates itself, 64 KiB held
   * by every read that waits: admin, waiting on two pipes of each of 50 children, held 6.5 MB
   * that way. A stream that is not a byte stream is read as without it.
   */
  readBytes?: number;
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
    for await (const chunk of textChunks(stream, options.readBytes)) {
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

/** The text of `stream`, chunk by chunk; read into one small buffer when `readBytes` is given. */
async function* textChunks(
  stream: ReadableStream<Uint8Array>,
  readBytes: number | undefined,
): AsyncGenerator<string> {
  let reader: ReadableStreamBYOBReader | undefined;
  try {
    if (readBytes !== undefined) reader = stream.getReader({ mode: "byob" });
  } catch {
    // Not a byte stream.
  }
  if (reader === undefined || readBytes === undefined) {
    yield* stream.pipeThrough(new TextDecoderStream());
    return;
  }
  const decoder = new TextDecoder();
  // The read hands the buffer back (transferred) with what it got; it is decoded (copied)
  // before the next read reuses it.
  let buffer = new ArrayBuffer(readBytes);
  try {
    for (;;) {
      const { value, done } = await reader.read(new Uint8Array(buffer));
      if (done || value === undefined) break;
      const text = decoder.decode(value, { stream: true });
      buffer = value.buffer as ArrayBuffer;
      if (text !== "") yield text;
    }
    const rest = decoder.decode();
    if (rest !== "") yield rest;
  } finally {
    reader.releaseLock();
  }
}
