import assert from "node:assert/strict";
import { forEachLine } from "./lines.ts";

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
