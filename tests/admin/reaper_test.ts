/**
 * The reaper and the supervisor in-process on a real SQLite store:
 *
 * - after a store outage longer than the stale threshold the reaper waits until the store has
 *   been reachable for its settling time, so the children's queued pings land first and no
 *   lease is reaped;
 * - a supervisor closed by shutdown refuses a claim that was in flight and releases its lease.
 */
import assert from "node:assert/strict";
import { logger } from "../../src/shared/logging.ts";
import { Reaper } from "../../src/admin/reaper.ts";
import { Scheduler } from "../../src/admin/scheduler.ts";
import { Supervisor } from "../../src/admin/supervisor.ts";
import { ControlDir } from "../../src/admin/mod.ts";
import { DEFAULT_ADMIN_TIMING } from "../../src/admin/options.ts";
import { StoreUnavailableError } from "../../src/store/errors.ts";
import type { Store } from "../../src/store/mod.ts";
import type { Clock } from "../../src/shared/clock.ts";
import { sqliteAdapter } from "../store/_harness.ts";
import { addSimInstances, element, insertSimElement, tempDir } from "./_harness.ts";

/** A manual clock. */
function clockAt(start: number) {
  const clock = { t: start, now: () => clock.t, monotonic: () => clock.t };
  return clock;
}

/** The store, unreachable while `down.is` (every call fails as an outage does). */
function outage(store: Store, down: { is: boolean }): Store {
  return new Proxy(store, {
    get(target, key, receiver) {
      const value = Reflect.get(target, key, receiver);
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => {
        if (down.is) return Promise.reject(new StoreUnavailableError("store down (test)"));
        return value.apply(target, args);
      };
    },
  });
}

function parts(store: Store, dir: string, clock: Clock) {
  const log = logger("test");
  const control = new ControlDir(`${dir}/control`);
  const supervisor: Supervisor = new Supervisor({
    store,
    host: "h",
    control,
    env: {},
    timing: DEFAULT_ADMIN_TIMING,
    log,
    reclaim: () => Promise.resolve(null),
    spawn: () => {
      throw new Error("no child may start in this test");
    },
    clock,
  });
  const scheduler = new Scheduler({ store, host: "h", supervisor, log, waitPollMs: 50, clock });
  return { supervisor, scheduler, log };
}

Deno.test("after an outage longer than the stale threshold the reaper lets pings land first", async () => {
  const fixture = await sqliteAdapter().fresh();
  const dir = await tempDir();
  try {
    const clock = clockAt(Date.now());
    const down = { is: false };
    const store = outage(fixture.store, down);
    await addSimInstances(fixture.store, "h", 1);
    const id = await insertSimElement(fixture.store);
    const lease = await fixture.store.claimFreeInstance(id, "h", clock.now());
    await fixture.store.ping(lease, clock.now());
    const { supervisor, scheduler, log } = parts(store, dir, clock);
    const staleMs = 10_000;
    const pingMs = 1_000;
    const reaper = new Reaper(
      { store, host: "h", staleMs, supervisor, scheduler, log, clock },
      2 * pingMs,
    );

    // The store goes away for longer than the stale threshold; the child's pings queue up.
    down.is = true;
    await assert.rejects(() => reaper.round());
    clock.t += staleMs + 5_000;
    await assert.rejects(() => reaper.round());
    // Back: the first rounds do not reap; the child's queued ping lands meanwhile.
    down.is = false;
    assert.equal(await reaper.round(), null);
    clock.t += pingMs;
    assert.equal(await reaper.round(), null);
    await fixture.store.ping(lease, clock.now());
    clock.t += pingMs;
    const result = await reaper.round();
    assert.deepEqual(result?.elements, []);
    const e = await element(fixture.store, id);
    assert.equal(e.instance_id, lease.instance_id, "the lease was not reaped");
    assert.equal(e.lease, lease.lease);
  } finally {
    await fixture.dispose();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("after an outage the reaper waits the longer recovery time, at start only the settle", async () => {
  const fixture = await sqliteAdapter().fresh();
  const dir = await tempDir();
  try {
    const clock = clockAt(Date.now());
    const down = { is: false };
    const store = outage(fixture.store, down);
    const { supervisor, scheduler, log } = parts(store, dir, clock);
    const reaper = new Reaper(
      { store, host: "h", staleMs: 10_000, supervisor, scheduler, log, clock },
      2_000,
      12_000,
    );
    // At start: two ping intervals.
    assert.equal(await reaper.round(), null);
    clock.t += 2_000;
    assert.notEqual(await reaper.round(), null, "reaps after the start settle");
    // After an outage: the children's retry backoff comes around first.
    down.is = true;
    await assert.rejects(() => reaper.round());
    down.is = false;
    assert.equal(await reaper.round(), null);
    clock.t += 2_000;
    assert.equal(await reaper.round(), null, "two ping intervals are not enough after an outage");
    clock.t += 10_000;
    assert.notEqual(await reaper.round(), null, "reaps after the recovery time");
  } finally {
    await fixture.dispose();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a supervisor closed by shutdown refuses a late claim and releases its lease", async () => {
  const fixture = await sqliteAdapter().fresh();
  const dir = await tempDir();
  try {
    const store = fixture.store;
    const clock = clockAt(Date.now());
    const [instance] = await addSimInstances(store, "h", 1);
    const id = await insertSimElement(store);
    const { supervisor } = parts(store, dir, clock);
    await supervisor.stopAll("admin shutting down");
    // The scheduler's claim that was in flight lands now.
    const lease = await store.claimFreeInstance(id, "h", clock.now());
    supervisor.start({ elementId: id, login: 1, lease: { ...lease, path: instance!.path } });
    assert.equal(supervisor.size, 0, "nothing started");
    await supervisor.drain();
    const e = await element(store, id);
    assert.equal(e.instance_id, null, "the lease was released");
    assert.equal((await store.getInstance(instance!._id))?.status, "FREE");
  } finally {
    await fixture.dispose();
    await Deno.remove(dir, { recursive: true });
  }
});
