/**
 * Issue 11 item 1: the high-water mark survives a restart after a quiet market. Equity rises to
 * a new peak, the EA then sends only heartbeats (a flat account, a closed market), and the
 * risk process is stopped and started again: the new process must measure drawdown from the
 * peak the old one saw, in every drawdown mode.
 */
import assert from "node:assert/strict";
import { scriptedAccount, sleep, startScripted, waitFor } from "./_scripted_run.ts";

const METRICS_MS = 1_000;

/** The mode, and whether equity 10,250 is at or below its floor once the peak is 11,300. */
const MODES = [
  // floor = initial balance 10,000 - 1,000 = 9,000
  { mode: "static", lockedAt10250: false },
  // floor = high balance 11,300 - 1,000 = 10,300 (a peak rebuilt as 10,250 would give 9,250)
  { mode: "trailing_balance", lockedAt10250: true },
  // floor = high equity 11,300 - 1,000 = 10,300
  { mode: "trailing_equity", lockedAt10250: true },
] as const;

for (const { mode, lockedAt10250 } of MODES) {
  Deno.test(`quiet restart keeps the high-water mark (${mode})`, async () => {
    const account = await scriptedAccount({ max_drawdown: { limit: 1_000, mode } });
    const storedPeak = async () => {
      const element = await account.store.getElement(account.elementId);
      assert.ok(element?.valid);
      return element.element.peak;
    };
    try {
      const first = await startScripted(account, {
        risk: { timing: { metricsIntervalMs: METRICS_MS } },
      });
      const ea = first.ea();
      await ea.snapshot({ utc: Date.now(), seq: 1, balance: 10_000 });
      await waitFor(() => first.statuses.length >= 1, "the first snapshot");
      // A profitable close right after: balance and equity 11,100, then the market goes quiet.
      await ea.snapshot({ utc: Date.now(), seq: 2, balance: 11_100, realized: 1_100 });
      await waitFor(() => first.statuses.length >= 2, "the second snapshot");
      let quietUntil = Date.now() + 60_000;
      const quiet = (async () => {
        while (Date.now() < quietUntil) {
          await ea.heartbeat(2);
          await sleep(250);
        }
      })();
      // Within the metrics interval (plus its tick), with heartbeats only, the peak is stored.
      await waitFor(
        async () => (await storedPeak())?.high_equity === 11_100,
        "the peak of 11,100 to be stored while only heartbeats arrive",
        METRICS_MS * 1.5,
      );
      quietUntil = 0;
      await quiet;
      assert.equal((await storedPeak())?.high_balance, 11_100);

      // A new high right after that write, and a graceful stop before the next one is due:
      // the stop writes it.
      await ea.snapshot({ utc: Date.now(), seq: 3, balance: 11_300, realized: 1_300 });
      await waitFor(() => first.statuses.length >= 3, "the third snapshot");
      assert.equal(await first.stop(), undefined);
      const peak = await storedPeak();
      assert.equal(peak?.high_equity, 11_300, "the stop flushed the new high equity");
      assert.equal(peak?.high_balance, 11_300, "the stop flushed the new high balance");
      assert.equal(peak?.initial_balance, 10_000);
      assert.equal(
        first.events.filter((e) => e.type === "lock").length,
        0,
        "nothing breached in the first run",
      );

      // The account lost 1,050 while no risk process ran; the new one sees 10,250 first.
      const second = await startScripted(account, {
        risk: { timing: { metricsIntervalMs: METRICS_MS } },
      });
      await second.ea().snapshot({ utc: Date.now(), seq: 1, balance: 10_250, realized: 250 });
      await waitFor(() => second.statuses.length >= 1, "the first snapshot after the restart");
      assert.equal(await second.stop(), undefined);
      const locks = second.events.filter((e) => e.type === "lock");
      if (lockedAt10250) {
        assert.equal(second.statuses[0]!.trading, "LOCKED", JSON.stringify(second.statuses[0]));
        assert.equal(locks[0]?.rule, "max_drawdown");
        assert.match(locks[0]!.message, /floor 10,?300/);
      } else {
        assert.equal(second.statuses[0]!.trading, "ALLOWED");
        assert.deepEqual(locks, []);
      }
    } finally {
      await account.cleanup();
    }
  });
}
