/**
 * The floor of any pipe round trip, for `bench/rules.ts`: a process that reads lines from stdin
 * with the plugin sandbox's line reader and writes each one straight back to stdout. Started
 * like a plugin process (same V8 and permission flags), it does everything a plugin round trip
 * does except the Worker, the JSON and the plugin.
 *
 * @module
 */
import { LineReader } from "../src/shared/lines.ts";

const encoder = new TextEncoder();
const lines = new LineReader(Deno.stdin);
for (let line = await lines.next(); line !== undefined; line = await lines.next()) {
  const bytes = encoder.encode(`${line}\n`);
  let written = 0;
  while (written < bytes.length) written += Deno.stdout.writeSync(bytes.subarray(written));
}
