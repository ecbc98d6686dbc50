/**
 * Admin start-up faults (SQLite, real processes):
 *
 * - the store cannot be reached at start: admin says so and retries instead of exiting, and
 *   starts once it answers;
 * - a fresh heartbeat of an admin that is gone, whose pid now belongs to another live process
 *   (a reboot): admin watches it for three heartbeat intervals, then takes the host over instead
 *   of refusing with exit 2.
 */
import assert from "node:assert/strict";
import { VERSION } from "../../src/shared/version.ts";
import { sqliteAdapter } from "../store/_harness.ts";
import { startAdmin, stopAdmin, tempDir, waitFor } from "./_harness.ts";

Deno.test({
  name: "admin retries a store that is unreachable at start, then starts",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const fixture = await sqliteAdapter().fresh();
    const root = await tempDir();
    // The database's folder does not exist yet: SQLite cannot open it.
    const later = `${root}/later`;
    const admin = startAdmin({
      fixture: { ...fixture, spec: `sqlite:${later}/store.db` },
      host: "vps-s",
      controlDir: `${root}/control`,
    });
    try {
      await admin.waitForLine(/store unreachable at start .*retrying in \d+ s/);
      await Deno.mkdir(later);
      await admin.waitForLine(/admin started for host vps-s/, 30_000);
      await stopAdmin(admin);
    } finally {
      admin.kill("SIGKILL");
      await fixture.dispose();
      await Deno.remove(root, { recursive: true });
    }
  },
});

Deno.test({
  name: "admin takes over a host whose last admin is gone though its pid runs again",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const fixture = await sqliteAdapter().fresh();
    const control = await tempDir();
    const host = "vps-h";
    // The heartbeat a killed admin left a moment ago, on this machine, with a pid that runs now
    // (this test's own process): a pid check would call that admin alive.
    const now = Date.now();
    const left = await fixture.store.beatAgent({
      host,
      run_id: "the-run-before-the-reboot",
      pid: Deno.pid,
      machine: Deno.hostname(),
      version: VERSION,
      started_at: now - 60_000,
      last_seen: now,
      children: 0,
      instances_free: 0,
      instances_total: 0,
      stopped_at: null,
    }, { staleAfterMs: 10_000 });
    assert.ok(left.ok);
    const admin = startAdmin({ fixture, host, controlDir: control });
    try {
      await admin.waitForLine(/heartbeat for host vps-h .* is fresh; watching it/);
      await admin.waitForLine(/has not beaten for \d+ s: taking the host over/);
      await admin.waitForLine(/admin started for host vps-h/);
      const beat = await waitFor("the new run's heartbeat", async () => {
        const beat = (await fixture.store.listAgents()).find((b) => b.host === host);
        return beat?.pid === admin.pid ? beat : undefined;
      });
      assert.notEqual(beat.run_id, "the-run-before-the-reboot");
      await stopAdmin(admin);
    } finally {
      admin.kill("SIGKILL");
      await fixture.dispose();
      await Deno.remove(control, { recursive: true });
    }
  },
});
