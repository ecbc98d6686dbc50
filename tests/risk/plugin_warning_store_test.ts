/**
 * Review of issues 9/11, F8: a plugin's once-a-day warning is stored with the day and is not
 * wiped by a metrics write that was queued before the warning came in; a restart does not warn
 * again.
 */
import assert from "node:assert/strict";
import { samplePosition } from "../../src/rules/samples.ts";
import { scriptedAccount, sleep, startScripted, waitFor } from "./_scripted_run.ts";

Deno.test("a plugin's once-a-day warning survives the metrics timer and a quiet restart", async () => {
  const dir = await Deno.makeTempDir();
  const plugin = `${dir}/news.ts`;
  await Deno.writeTextFile(
    plugin,
    `export default { id: "news_warning",
      evaluate: () => [{ type: "notify", level: "warning", reason: "news at 14:30", once: "news" }] };\n`,
  );
  const account = await scriptedAccount({});
  const notified = async () => {
    const stored = await account.store.getElement(account.elementId);
    assert.ok(stored?.valid);
    return stored.element.day?.notified ?? [];
  };
  try {
    const first = await startScripted(account, {
      risk: { ruleFiles: [plugin], timing: { metricsIntervalMs: 500 } },
    });
    const ea = first.ea();
    const utc = Date.now();
    await ea.snapshot({ utc, seq: 1, positions: [samplePosition({ ticket: 1 }, utc)] });
    await ea.snapshot({ utc: Date.now(), seq: 2, positions: [samplePosition({ ticket: 1 }, utc)] });
    await waitFor(() => first.events.some((e) => e.type === "warning"), "the plugin's warning");
    // A quiet market past the metrics interval: the queued metrics write lands now.
    for (let i = 0; i < 8; i++) {
      await ea.heartbeat(2);
      await sleep(150);
    }
    assert.deepEqual(await notified(), ["news_warning|news"], "kept after the metrics timer");
    assert.equal(await first.stop(), undefined);
    assert.deepEqual(await notified(), ["news_warning|news"], "kept after the stop");
    const second = await startScripted(account, {
      risk: { ruleFiles: [plugin], timing: { leaseStaleMs: 1_000 } },
    });
    await second.ea().snapshot({
      utc: Date.now(),
      seq: 1,
      positions: [samplePosition({ ticket: 1 }, utc)],
    });
    await waitFor(() => second.statuses.length >= 1, "the first snapshot after the restart");
    await sleep(500);
    assert.equal(await second.stop(), undefined);
    assert.deepEqual(second.events.filter((e) => e.type === "warning"), [], "not warned again");
  } finally {
    await account.cleanup();
    await Deno.remove(dir, { recursive: true });
  }
});
