/**
 * Review of issues 9/11, F10: a plugin that fails to load again after a timeout is not disabled
 * for good in silence: the failure is reported (an error of kind `load`) and the load is
 * retried with backoff, so a fixed file is picked up again.
 */
import assert from "node:assert/strict";
import { ManualClock } from "../../src/shared/clock.ts";
import { PluginHost } from "../../src/rules/plugins.ts";
import { sampleScenarios } from "../../src/rules/samples.ts";
import { evaluateSnapshot } from "../../src/risk/engine.ts";
import { settings } from "./_support.ts";

const NOW = Date.parse("2026-11-24T12:00:00Z");
const snapshot = sampleScenarios(NOW).find((item) => item.name === "losing_day")!.snapshot;
const context = evaluateSnapshot({ snapshot, settings: settings({}), state: {}, now: NOW }).context;

async function waitUntil(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

Deno.test("a reload that fails is reported and retried; the fixed file loads again", async () => {
  const dir = await Deno.makeTempDir();
  const file = `${dir}/guard_rule.ts`;
  await Deno.writeTextFile(
    file,
    `let n = 0;
    export default { id: "guard_rule", evaluate() { if (++n === 2) while (true) {} return []; } };\n`,
  );
  const clock = new ManualClock(NOW);
  const host = await PluginHost.start([{ module: file }], {
    deadlineMs: 300,
    backoffMs: 1_000,
    clock,
  });
  try {
    assert.deepEqual((await host.evaluate(context)).errors, []);
    // The trader saves a typo while the plugin hangs: the restart after the timeout fails.
    await Deno.writeTextFile(
      file,
      `export default { id: "guard_rule" evaluate() { return []; } };\n`,
    );
    const hung = await host.evaluate(context);
    assert.equal(hung.errors[0]?.kind, "timeout");
    await waitUntil(() => host.status()[0]!.reloadFailures === 1, "the failed reload");
    const reported = await host.evaluate(context);
    assert.equal(reported.errors.length, 1);
    assert.equal(reported.errors[0]!.kind, "load");
    assert.match(
      reported.errors[0]!.message,
      /^reload failed: .*SyntaxError.* \(retried in \d+ ms\)$/,
    );
    assert.equal(reported.errors[0]!.line, 1);
    assert.equal(host.status()[0]!.state, "suspended", "not failed for good");
    assert.deepEqual((await host.evaluate(context)).errors, [], "reported once per failure");
    // The file is fixed; after the backoff the plugin loads and answers again.
    await Deno.writeTextFile(
      file,
      `export default { id: "guard_rule", evaluate: () => [{ type: "notify", level: "info", reason: "back" }] };\n`,
    );
    clock.advance(60_000);
    await host.evaluate(context); // starts the reload
    await waitUntil(() => host.status()[0]!.state === "ready", "the reload of the fixed file");
    const back = await host.evaluate(context);
    assert.deepEqual(back.errors, []);
    assert.equal(back.actions[0]?.type, "notify");
  } finally {
    await host.close();
    await Deno.remove(dir, { recursive: true });
  }
});
