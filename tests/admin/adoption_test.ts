/**
 * Admin restarts (SQLite and MongoDB): kill -9 of admin while it guards 3 accounts -> the
 * children keep guarding (a breach in the gap is enforced, their logging survives the broken
 * pipe); a restarted admin adopts them without a duplicate and can stop them. Admin down while
 * 5 elements are inserted -> all guarded exactly once after the restart. A second admin with
 * the same --host exits 2 naming the first.
 */
import assert from "node:assert/strict";
import {
  adapters,
  addSimInstances,
  alive,
  childPid,
  describeAccount,
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

const { list } = await adapters();

for (const adapter of list) {
  Deno.test({
    name: `admin kill -9 and restart on ${adapter.name}: children keep guarding and are adopted`,
    sanitizeOps: false,
    sanitizeResources: false,
    fn: async (t) => {
      const fixture = await adapter.fresh();
      const store = fixture.store;
      const control = await tempDir();
      const host = "vps-a";
      await addSimInstances(store, host, 3, "losing_day");
      let admin = startAdmin({ fixture, host, controlDir: control });
      const ids: string[] = [];
      const pids = new Map<string, number>();
      try {
        for (let i = 0; i < 3; i++) {
          ids.push(await insertSimElement(store, { login: 5_000_101 + i, max_daily_loss: "2%" }));
        }
        for (const id of ids) {
          await waitGuarded(store, id);
          pids.set(id, await waitFor("child", () => childPid(control, id)));
        }
        const killedAt = Date.now();
        admin.kill("SIGKILL");
        await admin.exited;

        await t.step("children keep guarding: pings go on and a breach is enforced", async () => {
          for (const id of ids) {
            const locked = await waitFor(`${id} locked`, async () => {
              const e = await element(store, id);
              if (e.trading !== "ALLOWED") return e;
              throw new Error(await describeAccount(store, id, pids.get(id), control));
            }, 40_000);
            assert.ok(locked.last_ping! > killedAt, "still pinging after admin died");
            const locks = (await store.listEvents(id, { limit: 500 })).filter((e) =>
              e.type === "lock" && e.at > killedAt
            );
            assert.ok(locks.length > 0, "the lock was recorded after admin died");
            assert.ok(alive(pids.get(id)!));
            // Its console lines, which no admin read, went to its file in the control folder.
            const orphanLog = await Deno.readTextFile(`${control}/${id}.log`);
            assert.match(orphanLog, /account locked/);
          }
        });

        await t.step("a restarted admin adopts them: no duplicate, same processes", async () => {
          admin = startAdmin({ fixture, host, controlDir: control });
          for (const id of ids) {
            const [adopted] = await waitFor(`adoption of ${id}`, async () => {
              const adopted = await eventsMatching(store, id, /adopted the running risk process/);
              if (adopted.length === 1) return adopted;
              throw new Error(await describeAccount(store, id, pids.get(id), control));
            });
            assert.match(adopted!.message, new RegExp(`its log: ${control}/${id}\\.log$`));
          }
          await new Promise((resolve) => setTimeout(resolve, 2_000)); // a sweep and a reap
          for (const id of ids) {
            assert.deepEqual(riskProcessesOf(id), [pids.get(id)!]);
            assert.equal((await eventsMatching(store, id, /admin started/)).length, 1);
            await waitGuarded(store, id);
          }
        });

        await t.step("the adopting admin can stop them", async () => {
          await store.setElementStatus(ids[0]!, "DISABLED");
          await waitGone(pids.get(ids[0]!)!);
          await stopAdmin(admin);
          // Adopted children are not admin's own: their exit may trail admin's by a moment.
          for (const id of ids) await waitGone(pids.get(id)!, 10_000);
          const held = await store.listElements({ host });
          assert.deepEqual(held.map((e) => e.id), []);
          // Stopping never unlocks an account.
          for (const id of ids.slice(1)) {
            assert.notEqual((await element(store, id)).trading, "ALLOWED");
          }
        });
      } finally {
        admin.kill("SIGKILL");
        for (const pid of pids.values()) if (alive(pid)) Deno.kill(pid, "SIGKILL");
        await fixture.dispose();
        await Deno.remove(control, { recursive: true });
      }
    },
  });

  Deno.test({
    name: `admin on ${adapter.name}: 5 elements inserted while it is down are guarded once`,
    sanitizeOps: false,
    sanitizeResources: false,
    fn: async () => {
      const fixture = await adapter.fresh();
      const store = fixture.store;
      const control = await tempDir();
      const host = "vps-d";
      await addSimInstances(store, host, 5);
      let admin = startAdmin({ fixture, host, controlDir: control });
      try {
        await admin.waitForLine(/element feed reconciled/);
        await stopAdmin(admin);
        const ids: string[] = [];
        for (let i = 0; i < 5; i++) {
          ids.push(await insertSimElement(store, { login: 5_000_200 + i }));
        }
        admin = startAdmin({ fixture, host, controlDir: control });
        for (const id of ids) await waitGuarded(store, id);
        await new Promise((resolve) => setTimeout(resolve, 1_500));
        for (const id of ids) {
          assert.equal(riskProcessesOf(id).length, 1, `one process for ${id}`);
          assert.equal((await eventsMatching(store, id, /admin started/)).length, 1);
        }
        const instances = await store.listInstances({ host });
        assert.equal(new Set(instances.map((i) => i.element_id)).size, 5);

        // A second admin with the same --host refuses, naming the first.
        const second = startAdmin({ fixture, host, controlDir: `${control}-2` });
        assert.equal(await second.exited, 2);
        const message = second.lines.find((line) => /Another admin already runs/.test(line));
        assert.ok(message, second.lines.join("\n"));
        assert.match(message, new RegExp(`host ${host}: pid ${admin.pid}`));
      } finally {
        await stopAdmin(admin);
        await fixture.dispose();
        await Deno.remove(control, { recursive: true });
      }
    },
  });
}

Deno.test({
  name: "admin restart suite stops its adapters",
  fn: async () => {
    for (const adapter of list) await adapter.stop();
  },
});
