/**
 * Drill: the host clock of a real risk process moves an hour forward across the daily reset,
 * back an hour across it, and forward again (through the drill hook's clock offset file).
 *
 * Must hold: the new trading day starts once (not skipped), rolled over from the live figures
 * (the EA never went quiet, so nothing is rebuilt as an estimate); the jump back does not return
 * to the previous day, and passing the reset a second time does not start the day again (not
 * double-counted); the stored day is the new one. Silence is measured on the monotonic clock: a
 * jump of the wall clock is never taken for an hour without data (no silence error, no "data
 * flowing again", no terminal restart).
 */
import assert from "node:assert/strict";
import { openStore } from "../../src/store/mod.ts";
import { addDrillAccount, allEvents, startRiskProcess, waitFor } from "../support/risk_process.ts";

const HOUR = 3_600_000;
const SERVER_OFFSET = 2 * HOUR; // the simulator's trade server clock

Deno.test("clock jumps of an hour across the daily reset: the day is neither skipped nor double-counted", async () => {
  const dir = await Deno.makeTempDir({ prefix: "riskguard-drill-" });
  const spec = `sqlite:${dir}/drill.db`;
  const store = await openStore(spec);
  const offsetFile = `${dir}/clock-offset`;
  await Deno.writeTextFile(offsetFile, "0");
  try {
    // The reset is 30 minutes ahead in server time: an hour forward passes it, back returns.
    const reset = new Date(Date.now() + SERVER_OFFSET + 30 * 60_000).toISOString().slice(11, 16);
    const account = await addDrillAccount(store, {
      scenario: "calm",
      element: { max_daily_loss: 2_000, daily: { reset } },
      dir,
      speed: 4,
    });
    const risk = startRiskProcess({
      store: { spec, db: "riskguard" },
      account,
      clockOffsetFile: offsetFile,
    });
    const dayEvents = async () =>
      (await allEvents(store, account.elementId)).filter((e) =>
        e.type === "lifecycle" && /^trading day /.test(e.message)
      );
    try {
      await waitFor(
        "the first trading day",
        async () => (await dayEvents()).length >= 1,
        20_000,
        risk.output,
      );
      await Deno.writeTextFile(offsetFile, String(HOUR));
      await waitFor(
        "the rollover",
        async () => (await dayEvents()).length >= 2,
        10_000,
        risk.output,
      );
      await Deno.writeTextFile(offsetFile, "0");
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      await Deno.writeTextFile(offsetFile, String(HOUR));
      await new Promise((resolve) => setTimeout(resolve, 2_000));
    } finally {
      assert.equal(await risk.stop(), 0, risk.output());
    }
    const days = (await dayEvents()).map((e) => e.message);
    assert.equal(days.length, 2, days.join(" | "));
    const [first, second] = days.map((m) => /^trading day (\d{4}-\d{2}-\d{2}) \((\w+)\)/.exec(m)!);
    assert.equal(first![2], "reconstructed");
    assert.equal(second![2], "rollover", second![0]);
    const events = await allEvents(store, account.elementId);
    // (The first day, rebuilt at start, may carry an estimate warning: that one is right.)
    const falseSilence = events.filter((e) =>
      /no data from the EA|EA data flowing again|restarting the terminal/.test(e.message)
    );
    assert.deepEqual(falseSilence.map((e) => e.message), [], "no silence seen in a clock jump");
    assert.equal(
      Date.parse(second![1]!) - Date.parse(first![1]!),
      24 * HOUR,
      "the next day, not skipped",
    );
    const element = await store.getElement(account.elementId);
    assert.ok(element?.valid);
    assert.equal(element.element.day?.date, second![1], "the stored day is the new day");
  } finally {
    await store.close();
    await Deno.remove(dir, { recursive: true });
  }
});
