/**
 * Issue 11 item 6: a warning fires once per limit, tier and trading day, also across a restart
 * of the risk process: what was warned is persisted with the day state.
 */
import assert from "node:assert/strict";
import { samplePosition } from "../../src/rules/samples.ts";
import { scriptedAccount, sleep, startScripted, waitFor } from "./_scripted_run.ts";

/** Equity 9,150 on a 10,000 day: 85 % of a 1,000 daily loss limit used (warning at 80 %). */
function warnedSnapshot(seq: number) {
  const utc = Date.now();
  return { utc, seq, positions: [samplePosition({ ticket: 31, profit: -850 }, utc)] };
}

Deno.test("a warning is not sent again by a restarted risk process on the same day", async () => {
  const account = await scriptedAccount({ max_daily_loss: 1_000 });
  try {
    const first = await startScripted(account);
    await first.ea().snapshot(warnedSnapshot(1));
    await waitFor(() => first.events.some((e) => e.type === "warning"), "the first warning");
    assert.equal(await first.stop(), undefined);
    const warnings = first.events.filter((e) => e.type === "warning");
    assert.equal(warnings.length, 1);
    assert.equal(warnings[0]!.rule, "warning_tiers");
    const stored = await account.store.getElement(account.elementId);
    assert.ok(stored?.valid);
    assert.deepEqual(stored.element.day?.notified, ["warning_tiers|max_daily_loss@80"]);

    const second = await startScripted(account);
    await second.ea().snapshot(warnedSnapshot(1));
    await second.ea().snapshot(warnedSnapshot(2));
    await waitFor(() => second.statuses.length >= 2, "two snapshots after the restart");
    await sleep(200); // a late warning would be recorded by now
    assert.equal(await second.stop(), undefined);
    assert.deepEqual(second.events.filter((e) => e.type === "warning"), [], "not warned again");
  } finally {
    await account.cleanup();
  }
});
