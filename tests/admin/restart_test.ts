/**
 * The restart policy with real processes (SQLite): kill -9 of a child -> restarted with backoff,
 * events recorded; a child that exits 2 -> not restarted, element ERROR with the child's reason;
 * a crash loop -> ERROR.
 */
import assert from "node:assert/strict";
import { encryptPassword } from "../../src/store/mod.ts";
import { sqliteAdapter } from "../store/_harness.ts";
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
  waitGone,
  waitGuarded,
} from "./_harness.ts";

Deno.test({
  name: "admin restarts crashed children, gives up on exit 2 and on a crash loop",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async (t) => {
    const fixture = await sqliteAdapter().fresh();
    const store = fixture.store;
    const control = await tempDir();
    const host = "vps-r";
    await addSimInstances(store, host, 2);
    const admin = startAdmin({
      fixture,
      host,
      controlDir: control,
      env: { RISKGUARD_ADMIN_MAX_CRASHES: "3", RISKGUARD_ADMIN_CRASH_WINDOW_MS: "60000" },
    });
    try {
      const id = await insertSimElement(store);
      await t.step("kill -9 of a child -> restarted with backoff, events recorded", async () => {
        await waitGuarded(store, id);
        const first = await waitFor("child", () => childPid(control, id));
        Deno.kill(first, "SIGKILL");
        const second = await waitFor("restarted child", async () => {
          const pid = await childPid(control, id);
          return pid !== undefined && pid !== first && alive(pid) ? pid : undefined;
        });
        await waitGuarded(store, id);
        assert.deepEqual(riskProcessesOf(id), [second]);
        const exits = await eventsMatching(store, id, /exited with code 137/);
        assert.equal(exits.length, 1);
        assert.equal(exits[0]!.type, "error");
        const restarts = await eventsMatching(store, id, /restarts in 200 ms/);
        assert.equal(restarts.length, 1);
      });

      await t.step("a crash loop ends in ERROR with a reason", async () => {
        // Two more kills: with the first one that makes 3 crashes within the window.
        for (let i = 0; i < 2; i++) {
          const pid = await waitFor("running child", async () => {
            const p = await childPid(control, id);
            const e = await element(store, id);
            return p !== undefined && alive(p) && e.status === "ACTIVE" ? p : undefined;
          });
          Deno.kill(pid, "SIGKILL");
          await waitGone(pid);
        }
        const e = await waitFor("ERROR", async () => {
          const e = await element(store, id);
          return e.status === "ERROR" ? e : undefined;
        });
        assert.equal(e.error?.code, "CRASH_LOOP");
        assert.match(e.error!.message, /crashed 3 times/);
        assert.equal(e.instance_id, null);
        assert.deepEqual(riskProcessesOf(id), []);
        assert.equal((await eventsMatching(store, id, /given up after 3 crashes/)).length, 1);
      });

      await t.step("a child exiting 2 is not restarted; the element is ERROR", async () => {
        // An encrypted password and no RISKGUARD_SECRET_KEY on this host: an input error.
        const key = btoa(String.fromCharCode(...new Uint8Array(32).fill(7)));
        const bad = await insertSimElement(store, {
          login: 5_000_009,
          password: undefined,
          password_enc: await encryptPassword("pw", key),
        });
        const e = await waitFor("ERROR", async () => {
          const e = await element(store, bad);
          return e.status === "ERROR" && e.error?.code === "CHILD_INPUT_ERROR" ? e : undefined;
        });
        assert.match(e.error!.message, /exited with code 2.*RISKGUARD_SECRET_KEY/);
        const starts = await eventsMatching(store, bad, /admin started the risk process/);
        assert.equal(starts.length, 1, "never restarted");
        await new Promise((resolve) => setTimeout(resolve, 1_500));
        assert.equal((await eventsMatching(store, bad, /admin started/)).length, 1);
      });
    } finally {
      await stopAdmin(admin);
      await fixture.dispose();
      await Deno.remove(control, { recursive: true });
    }
  },
});
