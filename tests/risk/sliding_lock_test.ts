/**
 * Review of issues 9/11, F12: a plugin whose day lock ends "15 minutes from now" on every
 * snapshot extends one lock; it does not record a new lock (+ breach + critical webhook) each time.
 */
import assert from "node:assert/strict";
import { samplePosition } from "../../src/rules/samples.ts";
import { scriptedAccount, sleep, startScripted, waitFor } from "./_scripted_run.ts";

Deno.test("a day lock whose end slides forward is one lock, its end extended silently", async () => {
  const dir = await Deno.makeTempDir();
  const plugin = `${dir}/cooldown.ts`;
  await Deno.writeTextFile(
    plugin,
    `export default { id: "cooldown",
      evaluate: ({ now, snapshot }) => snapshot.account.equity < 10_000
        ? [{ type: "lock", scope: "day", until: now + 900_000, reason: "cool down after a loss" }] : [] };\n`,
  );
  const account = await scriptedAccount({});
  try {
    const run = await startScripted(account, { risk: { ruleFiles: [plugin] } });
    const ea = run.ea();
    for (let seq = 1; seq <= 8; seq++) {
      const utc = Date.now();
      await ea.snapshot({
        utc,
        seq,
        positions: [samplePosition({ ticket: 1, profit: -50 - seq }, utc)],
      }, {
        locked: seq > 1,
      });
      await sleep(150);
    }
    await waitFor(() => run.statuses.length >= 8, "8 snapshots");
    await sleep(300);
    const firstEnd = run.events.find((e) => e.type === "lock")?.detail.until as number;
    assert.equal(await run.stop(), undefined);
    const count = (type: string) => run.events.filter((e) => e.type === type).length;
    assert.equal(count("lock"), 1, "one lock event");
    assert.equal(count("breach"), 1, "one breach");
    const stored = await account.store.getElement(account.elementId);
    assert.ok(stored?.valid);
    assert.equal(stored.element.trading, "LOCKED_DAY");
    assert.ok((stored.element.locked_until ?? 0) > firstEnd, "the end moved forward");
    assert.equal(stored.element.lock_reason, "cool down after a loss");
  } finally {
    await account.cleanup();
    await Deno.remove(dir, { recursive: true });
  }
});
