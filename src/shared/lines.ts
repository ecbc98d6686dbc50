/**
 * Reads a child process's output line by line (admin relays its risk children's lines, the plugin
 * host its plugin processes' answers).
 *
 * @module
 */

/**
 * Calls `onLine` for every non-empty line of `stream` (without the line break, `\r\n` or `\n`)
 * until it ends. A line longer than `maxLineChars` (default 64 Ki characters) is handed over in
 * pieces, so a child that never ends a line cannot grow the reader's memory without bound. Never
 * rejects: a stream broken by a kill ends the lines.
 */
export async function forEachLine(
  stream: ReadableStream<Uint8Array>,
  onLine: (line: string) => void,
  options: { maxLineChars?: number } = {},
): Promise<void> {
  const max = options.maxLineChars ?? 64 * 1024;
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
      if (rest.length > max) {
        onLine(rest);
        rest = "";
      }
    }
  } catch {
    // The child is gone (killed): what was read is all there is.
  }
  if (rest !== "") onLine(rest);
}
