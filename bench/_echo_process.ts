/**
 * The floor of any pipe round trip, for `bench/rules.ts`: a process that reads lines from stdin
 * with the plugin sandbox's line reader and writes each one straight back to stdout. Started
 * like a plugin process (same V8 and permission flags), it does everything a plugin round trip
 * does except the Worker, the JSON and the plugin. With `--short` it answers every line with a
 * line the size of a plugin's answer instead: the traffic of a real round trip.
 *
 * @module
 */
import { LineReader } from "../src/shared/lines.ts";

const encoder = new TextEncoder();
const answer = Deno.args.includes("--short")
  ? encoder.encode(`${JSON.stringify({ type: "result", seq: 1, actions: [] })}\n`)
  : undefined;
const lines = new LineReader(Deno.stdin);
for (let line = await lines.next(); line !== undefined; line = await lines.next()) {
  const bytes = answer ?? encoder.encode(`${line}\n`);
  let written = 0;
  while (written < bytes.length) written += Deno.stdout.writeSync(bytes.subarray(written));
}
