/**
 * Fleet scale (issue 16) with the real admin on the MongoDB test server: the risk children
 * it starts reach the store through admin, so they hold no connection to MongoDB (counted at
 * the OS level in `/proc/net/tcp`); admin's one client holds them all. The children still
 * guard: they are ACTIVE and keep pinging.
 *
 * @module
 */
import assert from "node:assert/strict";
import { mongoAdapter } from "../store/_harness.ts";
import {
  addSimInstances,
  childPid,
  insertSimElement,
  startAdmin,
  stopAdmin,
  tempDir,
  waitFor,
  waitGuarded,
} from "../admin/_harness.ts";
import { connectionsTo } from "../support/proc_net.ts";

const ACCOUNTS = 3;

Deno.test("children started by admin hold no MongoDB connection of their own", async () => {
  const adapter = await mongoAdapter();
  if ("skip" in adapter) {
    console.log(`SKIPPED fleet channel test: ${adapter.skip}`);
    return;
  }
  const fixture = await adapter.fresh();
  const control = await tempDir();
  const port = Number(new URL(fixture.spec.replace(/^mongodb:/, "http:")).port);
  const admin = startAdmin({ fixture, host: "fleet-test", controlDir: control });
  try {
    await addSimInstances(fixture.store, "fleet-test", ACCOUNTS);
    const ids: string[] = [];
    for (let i = 0; i < ACCOUNTS; i++) {
      ids.push(await insertSimElement(fixture.store, { login: 5_100_000 + i }));
    }
    for (const id of ids) await waitGuarded(fixture.store, id, 60_000);
    const pids = await Promise.all(
      ids.map((id) => waitFor(`child of ${id}`, () => childPid(control, id))),
    );
    const counts = connectionsTo(port, [admin.pid, ...pids]);
    for (const pid of pids) {
      assert.equal(counts.get(pid) ?? 0, 0, `risk child ${pid} has its own MongoDB connections`);
    }
    assert.ok((counts.get(admin.pid) ?? 0) > 0, "admin holds the connections");
    // Still guarding through admin: a fresh ping of every account.
    for (const id of ids) await waitGuarded(fixture.store, id, 10_000);
  } finally {
    await stopAdmin(admin).catch(() => admin.kill("SIGKILL"));
    await fixture.dispose();
    await adapter.stop();
    await Deno.remove(control, { recursive: true }).catch(() => {});
  }
});
