/**
 * Several admins on one store (SQLite), and the reaper:
 *
 * - three admins (hosts a, b, c), every element guarded exactly once; host b's admin and
 *   children killed -> its elements move to a and c within the stale threshold plus a reap.
 *   The issue asks for 30 elements and 10 instances per host; but 30 elements on 30 instances
 *   leave no FREE instance on a and c for b's elements to move to (the fleet needs elements <=
 *   2 x instances per host). So this runs the 30 elements (30 real risk processes) on 15
 *   instances per host: 23 s on the 2-core CI machine. `FLEET_ELEMENTS` / `FLEET_PER_HOST`
 *   change the scale (e.g. 6 / 3 for a quick run).
 * - a lease with a stale ping (a host that died long ago) -> the reaper frees the instance,
 *   deactivates the element, and the element is guarded here.
 */
import assert from "node:assert/strict";
import { sqliteAdapter } from "../store/_harness.ts";
import {
  addSimInstances,
  alive,
  childPid,
  describeAccount,
  element,
  eventsMatching,
  insertSimElement,
  riskProcessesOf,
  STALE_S,
  startAdmin,
  stopAdmin,
  tempDir,
  waitFor,
  waitGuarded,
} from "./_harness.ts";

/** Elements of the fleet test (the 30). */
const ELEMENTS = Number(Deno.env.get("FLEET_ELEMENTS") ?? 30);
/** Instances per host (see the module comment); b starts first and fills its own. */
const PER_HOST = Number(Deno.env.get("FLEET_PER_HOST") ?? 15);
if (ELEMENTS > 2 * PER_HOST) {
  throw new Error(
    `FLEET_ELEMENTS ${ELEMENTS} > 2 x FLEET_PER_HOST ${PER_HOST}: b's elements could not move`,
  );
}

Deno.test({
  name: "three admins share the elements; a dead host's elements move to the others",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const fixture = await sqliteAdapter().fresh();
    const store = fixture.store;
    const root = await tempDir();
    for (const host of ["a", "b", "c"]) await addSimInstances(store, host, PER_HOST);
    const ids: string[] = [];
    for (let i = 0; i < ELEMENTS; i++) {
      ids.push(await insertSimElement(store, { login: 5_000_300 + i }));
    }
    // b starts first and fills its instances; a and c take the rest.
    const b = startAdmin({ fixture, host: "b", controlDir: `${root}/b` });
    const others = [] as ReturnType<typeof startAdmin>[];
    try {
      await waitFor("b full", async () => {
        const held = await store.listElements({ host: "b" });
        return held.length === Math.min(PER_HOST, ELEMENTS) ? held : undefined;
      }, 20_000 + ELEMENTS * 2_000);
      others.push(startAdmin({ fixture, host: "a", controlDir: `${root}/a` }));
      others.push(startAdmin({ fixture, host: "c", controlDir: `${root}/c` }));
      for (const id of ids) await waitGuarded(store, id, 20_000 + ELEMENTS * 2_000);
      for (const id of ids) assert.equal(riskProcessesOf(id).length, 1, `one process for ${id}`);
      const onB = (await store.listElements({ host: "b" })).map((e) => e.id);
      assert.equal(onB.length, Math.min(PER_HOST, ELEMENTS));

      // Host b dies with its children.
      const bChildren = await Promise.all(onB.map((id) => childPid(`${root}/b`, id)));
      b.kill("SIGKILL");
      for (const pid of bChildren) Deno.kill(pid!, "SIGKILL");
      const killedAt = Date.now();
      for (const id of onB) {
        const moved = await waitFor(`${id} moved`, async () => {
          const e = await element(store, id);
          const fresh = e.last_ping !== null && Date.now() - e.last_ping < 3_000;
          if (e.host !== "b" && e.host !== null && e.status === "ACTIVE" && fresh) return e;
          throw new Error(await describeAccount(store, id));
        }, (STALE_S + 45) * 1_000);
        assert.ok(["a", "c"].includes(moved.host!));
      }
      // Timing targets belong to benchmarks: the wait above is bounded generously, the figure
      // is printed for the record.
      console.log(`b's elements guarded elsewhere ${Date.now() - killedAt} ms after b died`);
      // Exactly one process per account, settled: a child restarting under a loaded CI is
      // briefly none, but two that last, or none that lasts, fail.
      for (const id of ids) {
        await waitFor(`one process for ${id}`, () => {
          const pids = riskProcessesOf(id);
          return Promise.resolve(pids.length === 1 ? pids : undefined);
        }, 15_000);
      }
      for (const id of onB) {
        assert.ok((await eventsMatching(store, id, /lease reaped by admin on host (a|c)/)).length);
      }
    } finally {
      b.kill("SIGKILL");
      for (const admin of others) await stopAdmin(admin);
      await fixture.dispose();
      await Deno.remove(root, { recursive: true });
    }
  },
});

Deno.test({
  name: "the reaper frees a stale instance and deactivates its element, which is then guarded",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const fixture = await sqliteAdapter().fresh();
    const store = fixture.store;
    const control = await tempDir();
    const [dead] = await addSimInstances(store, "gone-host", 1);
    await addSimInstances(store, "vps-x", 1);
    const id = await insertSimElement(store);
    // A host that died a minute ago: its lease was last pinged 60 s back.
    const lease = await store.claimFreeInstance(id, "gone-host", Date.now() - 60_000);
    await store.ping(lease, Date.now() - 60_000);
    const admin = startAdmin({ fixture, host: "vps-x", controlDir: control });
    try {
      const guarded = await waitGuarded(store, id);
      assert.equal(guarded.host, "vps-x");
      const freed = await store.getInstance(dead!._id);
      assert.equal(freed?.status, "FREE");
      assert.equal(freed?.element_id, null);
      assert.equal((await eventsMatching(store, id, /lease reaped/)).length, 1);
      const pid = await waitFor("child", () => childPid(control, id));
      assert.ok(alive(pid));
    } finally {
      await stopAdmin(admin);
      await fixture.dispose();
      await Deno.remove(control, { recursive: true });
    }
  },
});
