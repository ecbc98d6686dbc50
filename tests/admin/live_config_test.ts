/**
 * A risk child started by admin applies a change of its account's limits at once (SQLite, and
 * MongoDB when its test server starts): its live-configuration feed goes through admin's store
 * channel, which is told of changes by admin's watcher (one change stream per VPS), not by a
 * feed of its own.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  adapters,
  addSimInstances,
  eventsMatching,
  insertSimElement,
  startAdmin,
  stopAdmin,
  tempDir,
  waitFor,
  waitGuarded,
} from "./_harness.ts";

const APPLIED = /configuration changed: new limits apply now/;

Deno.test({
  name: "a child started by admin applies new limits through admin's channel",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async (t) => {
    const { list } = await adapters();
    for (const adapter of list) {
      await t.step(adapter.name, async () => {
        const fixture = await adapter.fresh();
        const control = await tempDir();
        const host = `vps-live-${adapter.name}`;
        const admin = startAdmin({ fixture, host, controlDir: control });
        try {
          await addSimInstances(fixture.store, host, 1);
          const id = await insertSimElement(fixture.store);
          await waitGuarded(fixture.store, id, 60_000);
          assert.equal((await eventsMatching(fixture.store, id, APPLIED)).length, 0);
          const changed = await fixture.store.configureElement(id, { max_daily_loss: 321 });
          assert.ok(changed.ok, JSON.stringify(changed));
          await waitFor(
            "the child's event of the new limits",
            async () => (await eventsMatching(fixture.store, id, APPLIED)).length > 0 || undefined,
            30_000,
          );
          await stopAdmin(admin);
        } finally {
          admin.kill("SIGKILL");
          await fixture.dispose();
          await Deno.remove(control, { recursive: true }).catch(() => {});
        }
      });
    }
    for (const adapter of list) await adapter.stop();
  },
});
