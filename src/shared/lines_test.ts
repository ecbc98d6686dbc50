import assert from "node:assert/strict";
import { forEachLine, LineReader, type PlainReader } from "./lines.ts";

/** A stream of the given chunks. */
function streamOf(...chunks: string[]): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  return new ReadableStream({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(encoder.encode(chunk));
      controller.close();
    },
  });
}

async function linesOf(stream: ReadableStream<Uint8Array>, options = {}) {
  const lines: string[] = [];
  await forEachLine(stream, (line) => lines.push(line), options);
  return lines;
}

Deno.test("forEachLine: lines across chunks, CRLF, empty lines skipped, last line without break", async () => {
  assert.deepEqual(await linesOf(streamOf("a", "b\r\n\nc\nd", "e")), ["ab", "c", "de"]);
});

Deno.test("forEachLine: a line over the limit is handed over in pieces without onOverflow", async () => {
  assert.deepEqual(await linesOf(streamOf("12345", "678", "9\nok\n"), { maxLineChars: 4 }), [
    "12345",
    "6789",
    "ok",
  ]);
});

Deno.test("forEachLine: onOverflow hears of a line over the limit once; its rest is skipped", async () => {
  const overflows: number[] = [];
  const lines = await linesOf(streamOf("ok\n12345", "678", "90\nnext\nxxxxxxxx\nlast"), {
    maxLineChars: 4,
    onOverflow: (chars: number) => overflows.push(chars),
  });
  assert.deepEqual(lines, ["ok", "next", "last"]);
  assert.deepEqual(overflows, [5, 8]);
});

Deno.test("forEachLine: a 16 MiB line in 64 KiB chunks arrives whole when allowed", async () => {
  const chunk = "y".repeat(64 * 1024);
  const chunks = Array.from({ length: 256 }, () => chunk);
  const lines = await linesOf(streamOf(...chunks, "\n"), { maxLineChars: Infinity });
  assert.equal(lines.length, 1);
  assert.equal(lines[0]!.length, 16 * 1024 * 1024);
});

/** A plain reader that hands out `bytes` at most `step` bytes per read. */
function plainReader(bytes: Uint8Array, step: number): PlainReader {
  let at = 0;
  return {
    read(buffer) {
      if (at >= bytes.length) return Promise.resolve(null);
      const count = Math.min(step, buffer.length, bytes.length - at);
      buffer.set(bytes.subarray(at, at + count));
      at += count;
      return Promise.resolve(count);
    },
  };
}

async function readAll(reader: LineReader): Promise<string[]> {
  const lines: string[] = [];
  for (let line = await reader.next(); line !== undefined; line = await reader.next()) {
    lines.push(line);
  }
  return lines;
}

Deno.test("LineReader: lines across reads of any size, UTF-8 split mid-character, a last line without break", async () => {
  const text = "ä€😀 first\n\nsecond ü\nlast";
  const bytes = new TextEncoder().encode(text);
  for (const step of [1, 2, 3, 7, 64 * 1024]) {
    assert.deepEqual(await readAll(new LineReader(plainReader(bytes, step))), [
      "ä€😀 first",
      "",
      "second ü",
      "last",
    ], `reads of ${step} bytes`);
  }
});

Deno.test("LineReader: starts with bytes already read; a line longer than its buffer arrives whole", async () => {
  const long = "x".repeat(200 * 1024);
  const bytes = new TextEncoder().encode(`${long}\nnext\n`);
  const reader = new LineReader(plainReader(bytes, 50_000), new TextEncoder().encode("ab\nc"));
  assert.deepEqual(await readAll(reader), ["ab", `c${long}`, "next"]);
});
