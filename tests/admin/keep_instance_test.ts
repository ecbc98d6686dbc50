/**
 * A crashed child keeps its instance through the restart delay (SQLite, real processes): with
 * one instance, one account guarded and another waiting, kill -9 of the guarded account's child
 * restarts it on the instance; the waiting account does not take the instance in the delay.
 */
import assert from "node:assert/strict";
import { sqliteAdapter } from "../store/_harness.ts";
import {
  addSimInstances,
  alive,
  childPid,
  element,
  insertSimElement,
  startAdmin,
  stopAdmin,
  tempDir,
  waitFor,
  waitGuarded,
} from "./_harness.ts";

Deno.test({
  name: "a crashed child keeps its instance for the restart",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const fixture = await sqliteAdapter().fresh();
    const store = fixture.store;
    const control = await tempDir();
    const host = "vps-k";
    const [instance] = await addSimInstances(store, host, 1);
    // A restart delay well beyond the waiting account's polling (500 ms).
    const admin = startAdmin({
      fixture,
      host,
      controlDir: control,
      env: { RISKGUARD_ADMIN_RESTART_BASE_MS: "2500", RISKGUARD_ADMIN_RESTART_MAX_MS: "2500" },
    });
    try {
      const first = await insertSimElement(store, { login: 5_000_601 });
      await waitGuarded(store, first);
      const waiting = await insertSimElement(store, { login: 5_000_602 });
      await waitFor("the second account waiting", async () => {
        const e = await element(store, waiting);
        return e.status === "PENDING" && e.error?.code === "NO_FREE_INSTANCE" ? e : undefined;
      });
      const crashed = await waitFor("child", () => childPid(control, first));
      Deno.kill(crashed, "SIGKILL");
      const restarted = await waitFor("restarted child", async () => {
        const pid = await childPid(control, first);
        return pid !== undefined && pid !== crashed && alive(pid) ? pid : undefined;
      });
      const guarded = await waitGuarded(store, first);
      assert.equal(guarded.instance_id, instance!._id);
      const other = await element(store, waiting);
      assert.equal(other.instance_id, null, "the waiting account did not take the instance");
      assert.equal(other.status, "PENDING");
      assert.ok(alive(restarted));
    } finally {
      await stopAdmin(admin);
      await fixture.dispose();
      await Deno.remove(control, { recursive: true });
    }
  },
});
