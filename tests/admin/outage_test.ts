/**
 * Store outage under admin, real processes (MongoDB test server): admin AND its children reach
 * the database only through a loopback TCP proxy (`tests/support/tcp_proxy.ts`), which is cut
 * for 30 s. The issue says "the store going away for a minute"; 30 s is already three times the
 * suite's stale threshold (every ping looks stale when the way back opens), and keeps CI time
 * sane.
 *
 * Must hold: during the cut a breach on a `sim:losing_day` child is still enforced (the
 * simulator's truth log shows the account locked and flat); an element inserted during the cut
 * (directly on the server, not through the proxy) is guarded after the cut, exactly once; no
 * element gets a second risk process (process table, control-folder records, start events); no
 * lease was reaped (the reaper waits for the children's queued pings after the outage).
 *
 * Skipped, with the reason printed, when no MongoDB test server can be started.
 */
import assert from "node:assert/strict";
import { startTcpProxy } from "../support/tcp_proxy.ts";
import { addDrillAccount, lastAccountState } from "../support/risk_process.ts";
import { mongoAdapter } from "../store/_harness.ts";
import {
  addSimInstances,
  alive,
  childPid,
  element,
  eventsMatching,
  insertSimElement,
  riskProcessesOf,
  startAdmin,
  stopAdmin,
  tempDir,
  waitFor,
  waitGuarded,
} from "./_harness.ts";

const OUTAGE_MS = 30_000;

const mongo = await mongoAdapter();
if ("skip" in mongo) console.log(`IGNORED admin store outage: MongoDB skipped: ${mongo.skip}`);

Deno.test({
  name: "admin: MongoDB cut for 30 s -> children keep guarding, admin catches up, no duplicates",
  ignore: "skip" in mongo,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    if ("skip" in mongo) return;
    const fixture = await mongo.fresh();
    const store = fixture.store; // direct to the server: the test's own view stays up
    const target = new URL(fixture.spec);
    const proxy = startTcpProxy({ hostname: target.hostname, port: Number(target.port) });
    // Only through the proxy: a direct connection, not the server's own address list.
    const proxied = {
      ...fixture,
      spec: `mongodb://127.0.0.1:${proxy.port}/?directConnection=true`,
    };
    const host = "vps-out";
    const control = await tempDir();
    const account = await addDrillAccount(store, {
      scenario: "losing_day",
      element: { max_daily_loss: "5%" },
      dir: control,
      speed: 2,
      host,
    });
    const admin = startAdmin({ fixture: proxied, host, controlDir: control });
    let lateId: string | undefined;
    // On a failure: admin's log and the element's events, to see what happened.
    const why = async (id: string) =>
      `${admin.lines.slice(-80).join("\n")}\n${
        (await store.listEvents(id, { limit: 200 })).map((e) => `${e.type} ${e.message}`).join("\n")
      }`;
    try {
      const guarded = await waitGuarded(store, account.elementId, 30_000);
      const firstPid = await waitFor(
        "the child's record",
        () => childPid(control, account.elementId),
      );
      await waitFor("the simulated account trading", async () => {
        const state = await lastAccountState(account.truthPath);
        return state !== undefined && state.positions > 0 ? state : undefined;
      }, 30_000);
      // A FREE instance for the element inserted during the cut.
      await addSimInstances(store, host, 1);

      proxy.cut();
      const cutAt = Date.now();
      const before = await lastAccountState(account.truthPath);
      assert.equal(before?.locked, false, "not locked before the cut (else nothing is proven)");
      // Inserted on the server itself: admin cannot see it until the way back opens.
      lateId = await insertSimElement(store, { login: 5_000_401 });

      const flat = await waitFor("locked and flat while the store is unreachable", async () => {
        const state = await lastAccountState(account.truthPath);
        return state?.locked === true && state.positions === 0 && state.orders === 0
          ? state
          : undefined;
      }, OUTAGE_MS);
      const enforcedAfter = Date.now() - cutAt;
      assert.ok(enforcedAfter < OUTAGE_MS, "enforced during the outage");
      assert.ok(flat.locked);
      console.log(`locked and flat ${enforcedAfter} ms into the outage`);
      await admin.waitForLine(/paused|unreachable/, OUTAGE_MS);
      await new Promise((resolve) => setTimeout(resolve, OUTAGE_MS - (Date.now() - cutAt)));
      // Nothing was launched for the late element while admin could not see it.
      assert.deepEqual(riskProcessesOf(lateId), [], "no child for the late element during the cut");
      assert.ok(alive(firstPid), "the child kept running through the cut");
      proxy.restore();
      const restoredAt = Date.now();

      const late = await waitGuarded(store, lateId, 60_000);
      console.log(`inserted-during-the-cut element guarded ${Date.now() - restoredAt} ms after`);
      assert.equal(late.host, host);
      // A few sweeps and reaps after the catch-up: nothing doubles, nothing is reaped.
      await new Promise((resolve) => setTimeout(resolve, 8_000));
      const still = await waitGuarded(store, account.elementId, 30_000);
      assert.equal(still.instance_id, guarded.instance_id, "the breached element kept its lease");
      assert.deepEqual(
        riskProcessesOf(account.elementId),
        [firstPid],
        await why(account.elementId),
      );
      assert.equal(riskProcessesOf(lateId).length, 1, "one process for the late element");
      const latePid = await childPid(control, lateId);
      assert.deepEqual(riskProcessesOf(lateId), [latePid], "the process is the recorded child");
      for (const id of [account.elementId, lateId]) {
        assert.equal((await eventsMatching(store, id, /admin started/)).length, 1, `${id} once`);
        assert.deepEqual(await eventsMatching(store, id, /reaped/), [], `${id} not reaped`);
      }
      const locks = (await store.listEvents(account.elementId, { limit: 1_000 }))
        .filter((e) => e.type === "lock" && e.at >= cutAt && e.at < cutAt + OUTAGE_MS);
      assert.ok(locks.length > 0, "the lock of the outage reached the store afterwards");
      assert.notEqual((await element(store, account.elementId)).trading, "ALLOWED");
      const instances = await store.listInstances({ host });
      assert.deepEqual(
        instances.map((i) => i.element_id).sort(),
        [account.elementId, lateId].sort(),
        "each instance holds one of the two elements",
      );
      assert.ok(proxy.accepted > 2, "admin and children reconnected through the proxy");
    } finally {
      proxy.restore();
      await stopAdmin(admin);
      for (const id of [account.elementId, lateId]) {
        if (id !== undefined) { for (const pid of riskProcessesOf(id)) Deno.kill(pid, "SIGKILL"); }
      }
      await proxy.close();
      await fixture.dispose();
      await mongo.stop();
      await Deno.remove(control, { recursive: true });
    }
  },
});
