/**
 * Held elements that no slot of a running admin supervises (SQLite, real processes), settled by
 * the control folder at every sweep, not only at start:
 *
 * - the recorded child is gone (its life lock is free): its lease is released at once and the
 *   element guarded again by a new child, long before the stale threshold (60 s here);
 * - the record names a live process that is not a risk child (a reused pid): it is neither
 *   adopted nor killed; the element is released and guarded by admin's own child;
 * - admin's children run in a session of their own (a Ctrl+C on admin's terminal reaches admin
 *   only).
 */
import assert from "node:assert/strict";
import { sqliteAdapter } from "../store/_harness.ts";
import {
  addSimInstances,
  alive,
  childPid,
  element,
  eventsMatching,
  insertSimElement,
  riskProcessesOf,
  sessionOf,
  startAdmin,
  stopAdmin,
  tempDir,
  waitFor,
  waitGuarded,
} from "./_harness.ts";

Deno.test({
  name: "admin settles orphaned leases of its host at every sweep, by the children's life locks",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async (t) => {
    const fixture = await sqliteAdapter().fresh();
    const store = fixture.store;
    const control = await tempDir();
    const host = "vps-o";
    await addSimInstances(store, host, 2);
    // A process that is not a risk child, running all along (its pid stands for a reused one).
    const stranger = new Deno.Command("sleep", { args: ["120"] }).spawn();
    const admin = startAdmin({ fixture, host, controlDir: control, staleS: 60 });
    /**
     * A new element held on this host as a child of an earlier admin would hold it, with a
     * control record naming `pid`. It is pinned elsewhere until it is held, so that admin does
     * not claim it first.
     */
    const orphan = async (login: number, pid: number) => {
      const id = await insertSimElement(store, { login, pin_host: "nobody" });
      const lease = await store.claimFreeInstance(id, host, Date.now());
      await store.ping(lease, Date.now());
      await Deno.writeTextFile(
        `${control}/${id}.child.json`,
        JSON.stringify({ pid, element_id: id, instance_id: lease.instance_id, started_at: 1 }),
      );
      const unpinned = await store.configureElement(id, { pin_host: null });
      assert.ok(unpinned.ok, JSON.stringify(unpinned));
      return { id, lease };
    };
    try {
      await admin.waitForLine(/element feed reconciled/);

      await t.step("a gone child's lease is released at once and guarded again", async () => {
        // The dead child: a process that ran and ended (kill -9 leaves its record behind).
        const gone = new Deno.Command("true").spawn();
        await gone.status;
        const { id, lease } = await orphan(5_000_501, gone.pid);
        await waitFor("a new lease", async () => {
          const e = await element(store, id);
          return e.lease > lease.lease ? e : undefined;
        });
        // Long before the stale threshold (60 s): the 20 s of waitGuarded bound it.
        await waitGuarded(store, id, 20_000);
        assert.equal(
          (await eventsMatching(store, id, /released the lease of its risk process/)).length,
          1,
        );
        const pid = await waitFor("new child", async () => {
          const p = await childPid(control, id);
          return p !== undefined && p !== gone.pid ? p : undefined;
        });
        assert.deepEqual(riskProcessesOf(id), [pid]);
        // A Ctrl+C on admin's terminal reaches admin only: the child has a session of its own.
        assert.notEqual(sessionOf(pid), sessionOf(admin.pid));
      });

      await t.step("a record naming an unrelated live process is not adopted", async () => {
        const { id, lease } = await orphan(5_000_502, stranger.pid);
        await waitFor("a new lease", async () => {
          const e = await element(store, id);
          return e.lease > lease.lease ? e : undefined;
        });
        await waitGuarded(store, id, 20_000);
        const pid = await waitFor("admin's own child", async () => {
          const p = await childPid(control, id);
          return p !== undefined && p !== stranger.pid ? p : undefined;
        });
        assert.deepEqual(riskProcessesOf(id), [pid]);
        assert.equal((await eventsMatching(store, id, /adopted/)).length, 0);
        assert.ok(alive(stranger.pid), "the unrelated process was not touched");
      });
    } finally {
      await stopAdmin(admin);
      assert.ok(alive(stranger.pid), "admin's shutdown did not kill the unrelated process");
      stranger.kill("SIGKILL");
      await stranger.status;
      await fixture.dispose();
      await Deno.remove(control, { recursive: true });
    }
  },
});
