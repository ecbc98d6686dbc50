/**
 * The real executable entry point, spawned as a process: help, version and exit codes.
 */
import assert from "node:assert/strict";

const MAIN = new URL("../main.ts", import.meta.url).pathname;

async function run(args: string[], env: Record<string, string> = {}) {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, ...args],
    env: { NO_COLOR: "1", ...env },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

Deno.test("main: --help prints usage and exits 0", async () => {
  const result = await run(["--help"]);
  assert.equal(result.code, 0);
  assert.match(result.stdout, /Usage: riskguard \[options\] \[command\]/);
  assert.match(result.stdout, /--mode <mode>/);
});

Deno.test("main: a bad flag exits 2 with a message on stderr", async () => {
  const result = await run(["--mode", "risk", "--element_id", "x", "--log-level", "nope"]);
  assert.equal(result.code, 2);
  assert.match(result.stderr, /Invalid value for --log-level: "nope"/);
  assert.equal(result.stdout, "");
});
