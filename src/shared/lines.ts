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
  // Decoded here rather than through a TextDecoderStream: one stream stage less per chunk (a
  // promise hop each), which a plugin's answer pays on every snapshot.
  const decoder = new TextDecoder();
  try {
    for await (const bytes of stream) {
      const chunk = decoder.decode(bytes, { stream: true });
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
  // A character cut off at the end (as TextDecoderStream flushes it: U+FFFD).
  const end = decoder.decode();
  if (end !== "" && !skipping) {
    parts.push(end);
    length += end.length;
  }
  if (!skipping && length > 0) emit("");
}

/** Anything with `Deno.stdin`'s plain `read`: fills `buffer`, resolves with a count or null. */
export interface PlainReader {
  read(buffer: Uint8Array): Promise<number | null>;
}

/**
 * Reads lines with plain reads into one buffer, without a stream: no read-ahead beyond what each
 * read returns, and no promise hop per stage. The plugin sandbox reads its requests with it (a
 * stream's machinery cost more than the JSON of a 200-position context, issue 16). Lines are
 * split at `\n` and decoded as UTF-8; the buffer grows to the longest line (the writer, the
 * plugin host, is trusted).
 */
export class LineReader {
  readonly #source: PlainReader;
  readonly #decoder = new TextDecoder();
  #buffer: Uint8Array;
  #start = 0;
  #end = 0;
  /** Bytes from `#start` already searched for a newline. */
  #searched = 0;

  /** Reads from `source`; `initial` holds bytes already read from it. */
  constructor(source: PlainReader, initial: Uint8Array = new Uint8Array(0)) {
    this.#source = source;
    this.#buffer = new Uint8Array(Math.max(64 * 1024, initial.length * 2));
    this.#buffer.set(initial);
    this.#end = initial.length;
  }

  /** The next line, without its `\n`; the rest without one at the end; undefined after that. */
  async next(): Promise<string | undefined> {
    for (;;) {
      const newline = this.#buffer.subarray(this.#start + this.#searched, this.#end).indexOf(10);
      if (newline >= 0) {
        const stop = this.#start + this.#searched + newline;
        const line = this.#decoder.decode(this.#buffer.subarray(this.#start, stop));
        this.#start = stop + 1;
        this.#searched = 0;
        return line;
      }
      this.#searched = this.#end - this.#start;
      this.#makeRoom();
      const count = await this.#source.read(this.#buffer.subarray(this.#end));
      if (count === null) {
        if (this.#end === this.#start) return undefined;
        const rest = this.#decoder.decode(this.#buffer.subarray(this.#start, this.#end));
        this.#start = this.#end;
        return rest;
      }
      this.#end += count;
    }
  }

  /** Moves the unread bytes to the front, and doubles the buffer when they fill it. */
  #makeRoom(): void {
    if (this.#start > 0) {
      this.#buffer.copyWithin(0, this.#start, this.#end);
      this.#end -= this.#start;
      this.#start = 0;
    }
    if (this.#end < this.#buffer.length) return;
    const bigger = new Uint8Array(this.#buffer.length * 2);
    bigger.set(this.#buffer.subarray(0, this.#end));
    this.#buffer = bigger;
  }
}
