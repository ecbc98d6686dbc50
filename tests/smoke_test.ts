/**
 * The release smoke suite (`tools/smoke.ts`) run here against `deno run -A main.ts`, with the
 * same assertions the Windows job applies to the built exe.
 */
import assert from "node:assert/strict";

Deno.test("smoke suite passes against deno run", async () => {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("../tools/smoke.ts", import.meta.url).pathname],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(output.stdout);
  const steps = text.split("\n").filter((line) => line.startsWith("smoke: ok "));
  assert.equal(output.code, 0, text + new TextDecoder().decode(output.stderr));
  assert.equal(steps.length, 6, text);
  assert.match(text, /smoke: all steps passed/);
});
