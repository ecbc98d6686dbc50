/**
 * Drill: the risk process is killed with SIGKILL while the EA executes its close-all.
 *
 * Must hold: the restarted process (started as a supervisor would, once the dead one's lease
 * is stale) puts the account back in lock mode and flat; the store tells the whole story
 * (breach, lock, close-all before the kill; start, lock, close confirmed after); the oracle
 * finds no missed breach, no false lock and no lost event.
 *
 * The simulator runs inside the risk process (as admin runs it), so the killed run's account
 * goes with it and the restarted one replays the scenario from its start: what is proved is that
 * the lock persisted before the kill is enforced at once on whatever the terminal shows.
 */
import assert from "node:assert/strict";
import { openStore } from "../../src/store/mod.ts";
import {
  addDrillAccount,
  allEvents,
  DRILL_TIMING,
  lastAccountState,
  startRiskProcess,
  truthLines,
  verdictOf,
  waitFor,
} from "../support/risk_process.ts";

Deno.test("kill -9 in the middle of a close-all: restarted, the account ends locked and flat", async () => {
  const dir = await Deno.makeTempDir({ prefix: "riskguard-drill-" });
  const spec = `sqlite:${dir}/drill.db`;
  const store = await openStore(spec);
  const target = { spec, db: "riskguard" };
  try {
    const account = await addDrillAccount(store, {
      scenario: "losing_day",
      element: { max_daily_loss: "5%" },
      dir,
      speed: 4,
    });
    const first = startRiskProcess({ store: target, account });
    const closeAll = await waitFor(
      "the EA to receive close_all",
      async () =>
        (await truthLines(account.truthPath)).find((line) =>
          line.type === "command" &&
          (line.command as { type?: string } | undefined)?.type === "close_all"
        ),
      30_000,
      first.output,
    );
    first.kill("SIGKILL");
    assert.equal(await first.exited, 137, "killed by SIGKILL");
    const killedAt = Date.now();
    const afterKill = await truthLines(account.truthPath);
    assert.ok(
      !afterKill.some((l) => l.type === "ack" && l.id === closeAll.id),
      "killed before the EA finished the close-all (mid close-all)",
    );

    // As a supervisor: start again once the dead process's lease is stale.
    const staleMs = DRILL_TIMING.leaseStaleMs!;
    await new Promise((resolve) => setTimeout(resolve, staleMs + 1_200 - (Date.now() - killedAt)));
    const second = startRiskProcess({ store: target, account });
    try {
      await waitFor(
        "the restarted process to hold the account locked and flat",
        async () => {
          const runs = (await truthLines(account.truthPath)).filter((l) => l.type === "start");
          if (runs.length < 2) return false;
          const state = await lastAccountState(account.truthPath);
          return state?.locked === true && state.positions === 0 && state.orders === 0;
        },
        30_000,
        second.output,
      );
      // Let the confirmation and its events land.
      await new Promise((resolve) => setTimeout(resolve, 1_500));
    } finally {
      assert.equal(await second.stop(), 0, second.output());
    }

    const element = await store.getElement(account.elementId);
    assert.ok(element?.valid);
    assert.equal(element.element.trading, "LOCKED_DAY");
    const events = await allEvents(store, account.elementId);
    const starts = events.filter((e) => /^risk process started/.test(e.message));
    assert.equal(starts.length, 2, "two processes recorded their start");
    const [firstStart, secondStart] = [starts[0]!.at, starts[1]!.at];
    const before = events.filter((e) => e.at >= firstStart && e.at < secondStart);
    const after = events.filter((e) => e.at >= secondStart);
    for (const type of ["breach", "lock", "command"]) {
      assert.ok(before.some((e) => e.type === type), `${type} recorded before the kill`);
    }
    assert.ok(
      before.some((e) => e.type === "command" && /^close_all sent/.test(e.message)),
      "the close-all was recorded before the kill",
    );
    assert.ok(
      after.some((e) => e.type === "command" && /^lock sent/.test(e.message)),
      "the restarted process locked the EA again",
    );
    assert.ok(
      after.some((e) => e.type === "lifecycle" && /confirmed by snapshot/.test(e.message)),
      "the flat account was confirmed by a snapshot",
    );
    assert.ok(after.some((e) => e.message === "risk process stopped"));

    const { verdict, summary } = await verdictOf(store, account);
    assert.ok(verdict.ok, summary);
    assert.ok(verdict.crossings >= 1, summary);
    assert.equal(verdict.undecided.length, 0, summary);
  } finally {
    await store.close();
    await Deno.remove(dir, { recursive: true });
  }
});
