/**
 * Drills under admin (real admin, risk children and simulators, SQLite), judged by the oracle:
 *
 * 1. **kill -9 of admin while guarding**: the children keep guarding, a breach during the gap is
 *    enforced, a new admin adopts them (one risk process per account, no second start), and the
 *    oracle finds no command from anyone but the account's one manager.
 * 2. **kill -9 of a child in the middle of a close-all**, its simulator a process of its own (as
 *    a real terminal, it outlives the risk process): the EA finishes the close-all alone, then
 *    stops when the restarted child's bridge refuses its token; admin restarts the child, the
 *    account ends locked and flat, the store has breach, lock and close-all before the kill and
 *    the lock again after, and the oracle finds nothing missed or lost (the close-all's answer,
 *    given after its risk process died, is not owed).
 */
import assert from "node:assert/strict";
import { sqliteAdapter } from "../store/_harness.ts";
import {
  alive,
  eventsMatching,
  riskProcessesOf,
  waitGone,
  waitGuarded,
} from "../admin/_harness.ts";
import { lastAccountState, truthLines, waitFor } from "../support/risk_process.ts";
import { readTruthLog } from "../support/oracle.ts";
import { openWorld } from "../support/admin_world.ts";

const lockedAndFlat = async (path: string) => {
  const state = await lastAccountState(path);
  return state?.locked === true && state.positions === 0 && state.orders === 0;
};

Deno.test({
  name: "admin kill -9 while guarding: a breach in the gap is enforced, the new admin adopts",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const world = await openWorld(sqliteAdapter(), "adminkill");
    try {
      const losing = await world.add({
        scenario: "losing_day",
        element: { max_daily_loss: "5%" },
        login: 5_300_001,
        speed: 1,
      });
      const calm = await world.add({
        scenario: "calm",
        element: { max_daily_loss: "5%" },
        login: 5_300_002,
        speed: 4,
      });
      for (const a of [losing, calm]) await waitGuarded(world.fixture.store, a.elementId, 30_000);
      const pids = [await world.childPid(losing), await world.childPid(calm)];
      assert.ok(!(await lockedAndFlat(losing.truthPath)), "not yet breached when admin dies");
      world.admin.kill("SIGKILL");
      await world.admin.exited;
      const killedAt = Date.now();

      await waitFor(
        "the breach enforced while admin is down",
        () => lockedAndFlat(losing.truthPath),
        40_000,
      );
      const lock = (await truthLines(losing.truthPath)).find((l) => l.type === "lock" && l.locked);
      assert.ok(lock !== undefined && lock.wall > killedAt, "locked after admin died");

      world.restartAdmin();
      for (const a of [losing, calm]) {
        await waitFor(
          `adoption of ${a.elementId}`,
          async () =>
            (await eventsMatching(
                world.fixture.store,
                a.elementId,
                /adopted the running risk process/,
              ))
                .length === 1 || undefined,
          30_000,
        );
      }
      for (const [i, a] of [losing, calm].entries()) {
        assert.deepEqual(riskProcessesOf(a.elementId), [pids[i]], "the same single process");
        const starts = await eventsMatching(world.fixture.store, a.elementId, /admin started/);
        assert.equal(starts.length, 1, "never started twice");
      }
      await world.stopAdmin();
      for (const a of [losing, calm]) {
        const { verdict, summary } = await world.verdict(a);
        assert.ok(verdict.ok, summary);
        assert.equal(verdict.foreignCommands.length, 0, summary);
      }
      assert.ok((await world.verdict(losing)).verdict.enforced >= 1);
    } finally {
      await world.dispose();
    }
  },
});

Deno.test({
  name: "child kill -9 mid close-all under admin: restarted, locked and flat, events complete",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const world = await openWorld(sqliteAdapter(), "childkill");
    try {
      const account = await world.add({
        scenario: "losing_day",
        element: { max_daily_loss: "5%" },
        login: 5_300_101,
        speed: 2,
        sim: { process: "child" },
      });
      const output = () => world.admin.lines.slice(-40).join("\n");
      const first = await world.childPid(account);
      const closeAll = await waitFor(
        "close_all received by the EA",
        async () =>
          (await truthLines(account.truthPath)).find((l) =>
            l.type === "command" && (l.command as { type?: string }).type === "close_all"
          ),
        40_000,
        output,
      );
      Deno.kill(first, "SIGKILL");
      const killedAt = Date.now();
      assert.ok(
        !(await truthLines(account.truthPath)).some((l) =>
          l.type === "ack" && l.id === closeAll.id
        ),
        "killed before the EA finished the close-all",
      );
      await waitGone(first);

      await waitFor(
        "the restarted child holding the account locked and flat",
        async () => {
          const runs = (await truthLines(account.truthPath)).filter((l) => l.type === "start");
          return runs.length >= 2 && await lockedAndFlat(account.truthPath);
        },
        40_000,
        output,
      );
      const second = await world.childPid(account);
      assert.notEqual(second, first);
      assert.ok(alive(second));

      // The first simulator outlived its risk process: it finished the close-all alone, then
      // stopped by itself once the new child's bridge refused its token.
      const runs = await readTruthLog(account.truthPath);
      const old = runs[0]!;
      assert.equal(old.start.ppid, first, "the first simulator was the killed child's");
      assert.notEqual(old.start.pid, first, "a process of its own");
      const finished = old.lines.find((l) => l.type === "ack" && l.id === closeAll.id);
      assert.ok(finished !== undefined && finished.wall > killedAt, "close-all finished alone");
      const stop = await waitFor(
        "the first simulator's stop line",
        async () =>
          (await readTruthLog(account.truthPath))[0]!.lines.find((l) => l.type === "stop"),
        40_000,
        output,
      );
      assert.equal(stop?.reason, "token refused", JSON.stringify(stop));
      await waitGone(Number(old.start.pid));
      await new Promise((resolve) => setTimeout(resolve, 1_500)); // the confirmation lands
      await world.stopAdmin();

      const store = world.fixture.store;
      const events = await store.listEvents(account.elementId, { limit: 10_000 });
      const starts = events.filter((e) => /^risk process started/.test(e.message));
      assert.equal(starts.length, 2, "two risk processes recorded their start");
      const before = events.filter((e) => e.at < starts[1]!.at);
      const after = events.filter((e) => e.at >= starts[1]!.at);
      for (const type of ["breach", "lock"]) {
        assert.ok(before.some((e) => e.type === type), `${type} before the kill`);
      }
      assert.ok(before.some((e) => /^close_all sent/.test(e.message)), "close-all before the kill");
      assert.ok(after.some((e) => /^lock sent/.test(e.message)), "locked again after the restart");
      assert.ok(events.some((e) => /exited with code 137/.test(e.message)), "admin saw the crash");
      assert.equal((await world.element(account)).trading, "LOCKED_DAY");
      const { verdict, summary } = await world.verdict(account);
      assert.ok(verdict.ok, summary);
      assert.equal(verdict.undecided.length, 0, summary);
      // The close-all answered after the kill never reached a risk process: not owed, not there.
      assert.ok(verdict.exemptEvents >= 1, summary);
      assert.ok(!events.some((e) => e.type === "ack" && e.detail.id === closeAll.id));
    } finally {
      await world.dispose();
    }
  },
});
