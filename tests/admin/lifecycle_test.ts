/**
 * Admin with real processes on both stores: insert -> guarded; disable -> stopped and FREE;
 * re-enable -> guarded again; remove -> stopped and FREE; invalid documents -> ERROR, never
 * launched; a missing terminal folder -> instance UNUSABLE; no FREE instance -> PENDING with the
 * reason, then started once an instance is added; the heartbeat; shutdown releases everything.
 */
import assert from "node:assert/strict";
import { runCli } from "../../src/cli/mod.ts";
import { fakeContext } from "../support/fake_cli.ts";
import {
  adapters,
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

const { list } = await adapters();

for (const adapter of list) {
  Deno.test({
    name: `admin lifecycle on ${adapter.name}`,
    sanitizeOps: false,
    sanitizeResources: false,
    fn: async (t) => {
      const fixture = await adapter.fresh();
      const store = fixture.store;
      const control = await tempDir();
      const host = "vps-1";
      const [instance] = await addSimInstances(store, host, 1);
      const admin = startAdmin({ fixture, host, controlDir: control });
      let id = "";
      let pid = 0;
      let again = 0;
      try {
        await t.step("insert -> child running and pinging, element ACTIVE", async () => {
          id = await insertSimElement(store);
          const guarded = await waitGuarded(store, id);
          assert.equal(guarded.host, host);
          assert.equal(guarded.instance_id, instance!._id);
          pid = await waitFor("child record", () => childPid(control, id));
          assert.ok(alive(pid));
          assert.deepEqual(riskProcessesOf(id), [pid]);
          const started = await eventsMatching(store, id, /admin started the risk process/);
          assert.equal(started.length, 1);
          assert.equal(started[0]!.host, host);
          // Child lines reach admin's log tagged with the element and login, never the password.
          await admin.waitForLine(new RegExp(`admin\\.child \\[${id}\\].*login=5000001`));
          assert.ok(!admin.lines.some((line) => line.includes("pw-never-logged")));
        });

        await t.step("disable -> child stopped, instance FREE", async () => {
          await store.setElementStatus(id, "DISABLED");
          await waitGone(pid);
          const freed = await waitFor("instance FREE", async () => {
            const i = await store.getInstance(instance!._id);
            return i?.status === "FREE" ? i : undefined;
          });
          assert.equal(freed.element_id, null);
          const e = await element(store, id);
          assert.equal(e.status, "DISABLED");
          assert.equal(e.instance_id, null);
        });

        await t.step("re-enable -> guarded again by a new child", async () => {
          await store.setElementStatus(id, "PENDING");
          await waitGuarded(store, id);
          again = await waitFor("new child", async () => {
            const p = await childPid(control, id);
            return p !== undefined && p !== pid ? p : undefined;
          });
          assert.deepEqual(riskProcessesOf(id), [again]);
        });

        await t.step("remove -> child stopped, instance FREE", async () => {
          assert.equal(await store.removeElement(id, { force: true }), true);
          await waitGone(again);
          await waitFor("instance FREE", async () => {
            const i = await store.getInstance(instance!._id);
            return i?.status === "FREE" ? i : undefined;
          });
          assert.deepEqual(riskProcessesOf(id), []);
        });

        await t.step(
          "invalid document -> ERROR with field and reason, never launched",
          async () => {
            await fixture.insertRaw("elements", {
              _id: "bad-element",
              server: "Sim-Demo",
              login: 5_000_002,
              password: "x",
              max_daily_loss: -5,
              status: "PENDING",
            });
            const raw = await waitFor("ERROR", async () => {
              const doc = await fixture.readRaw("elements", "bad-element");
              return doc?.status === "ERROR" ? doc : undefined;
            });
            assert.match(String((raw.error as { message: string }).message), /max_daily_loss/);
            assert.deepEqual(riskProcessesOf("bad-element"), []);
            assert.equal(raw.instance_id ?? null, null);
          },
        );

        await t.step("missing terminal folder -> instance UNUSABLE with the reason", async () => {
          const broken = await store.addInstance({ path: `${control}/no-such-mt5`, host });
          await insertSimElement(store, { login: 5_000_003 });
          const marked = await waitFor("UNUSABLE", async () => {
            const i = await store.getInstance(broken._id);
            return i?.status === "UNUSABLE" ? i : undefined;
          });
          assert.match(marked.error?.message ?? "", /does not exist/);
          // The folder appears: the instance is usable again.
          await Deno.mkdir(`${control}/no-such-mt5`);
          await waitFor("usable again", async () => {
            const i = await store.getInstance(broken._id);
            return i?.status !== "UNUSABLE" ? i : undefined;
          });
          // An empty folder has no terminal to start: not for this test.
          assert.equal(await store.removeInstance(broken._id), true);
        });

        await t.step(
          "no FREE instance -> PENDING with reason; instance added -> starts",
          async () => {
            // Whatever runs now holds every instance of the host.
            const all = await store.listInstances({ host });
            await waitFor("all occupied", async () => {
              const now = await store.listInstances({ host });
              return now.every((i) => i.status === "OCCUPIED") ? true : undefined;
            });
            const id = await insertSimElement(store, { login: 5_000_004 });
            const pending = await waitFor("PENDING with reason", async () => {
              const e = await element(store, id);
              return e.status === "PENDING" && e.error !== null ? e : undefined;
            });
            assert.equal(
              pending.error!.message,
              `no FREE instance on host ${host}; 0 of ${all.length} free`,
            );
            await addSimInstances(store, host, 1);
            await waitGuarded(store, id);
          },
        );

        await t.step("heartbeat lists the host with its children", async () => {
          const beats = await waitFor("heartbeat", async () => {
            const list = await store.listAgents();
            const beat = list.find((b) => b.host === host);
            return beat !== undefined && beat.children >= 2 ? beat : undefined;
          });
          assert.equal(beats.stopped_at, null);
          assert.equal(beats.pid, admin.pid);
          // `riskguard status` shows the host with its children and instances.
          const ctx = fakeContext();
          const code = await runCli(["status", "--store", fixture.spec, "--db", fixture.db], ctx);
          assert.equal(code, 0, ctx.err.join(""));
          const text = ctx.out.join("");
          assert.match(text, /Hosts:/);
          assert.match(
            text,
            new RegExp(`${host}\\s+\\S+\\s+\\d+s ago\\s+${admin.pid}\\s+${beats.children}\\s`),
          );
          // `status --json` stays the array of accounts; `--hosts --json` is the hosts' array.
          const json = fakeContext();
          assert.equal(
            await runCli(["status", "--json", "--store", fixture.spec, "--db", fixture.db], json),
            0,
          );
          assert.ok(Array.isArray(JSON.parse(json.out.join(""))));
          const hostsCtx = fakeContext();
          const args = ["status", "--hosts", "--json", "--store", fixture.spec, "--db", fixture.db];
          assert.equal(await runCli(args, hostsCtx), 0, hostsCtx.err.join(""));
          const hosts = JSON.parse(hostsCtx.out.join(""));
          const mine = hosts.find((h: { host: string }) => h.host === host);
          assert.equal(mine.pid, admin.pid);
          assert.equal(mine.stale, false);
        });
      } finally {
        await stopAdmin(admin);
        const elements = await store.listElements({ host });
        assert.deepEqual(elements.map((e) => e.id), [], "every lease released on shutdown");
        const occupied = await store.listInstances({ host, status: "OCCUPIED" });
        assert.equal(occupied.length, 0);
        const beat = (await store.listAgents()).find((b) => b.host === host);
        assert.notEqual(beat?.stopped_at ?? null, null);
        await fixture.dispose();
        await Deno.remove(control, { recursive: true });
      }
    },
  });
}

Deno.test({
  name: "admin stops its adapters",
  fn: async () => {
    for (const adapter of list) await adapter.stop();
  },
});
