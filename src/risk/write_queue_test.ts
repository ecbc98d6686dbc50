import assert from "node:assert/strict";
import { RiskGuardError } from "../shared/errors.ts";
import { type Write, type WriteKind, WriteQueue } from "./write_queue.ts";

/** A fake store that records writes and can be taken down. */
function fakeStore() {
  const written: string[] = [];
  const state = { down: false, leaseLost: false };
  const write = (kind: WriteKind, label: string, key?: string): Write => ({
    kind,
    ...(key === undefined ? {} : { key }),
    run: () => {
      if (state.leaseLost) return Promise.reject(new RiskGuardError("LEASE_LOST", "stale lease"));
      if (state.down) {
        return Promise.reject(new RiskGuardError("STORE_UNAVAILABLE", "connection refused"));
      }
      written.push(label);
      return Promise.resolve();
    },
  });
  return { written, state, write };
}

Deno.test("write queue: writes run in order", async () => {
  const store = fakeStore();
  const queue = new WriteQueue();
  queue.submit(store.write("event", "e1"));
  queue.submit(store.write("state", "s1", "trading"));
  queue.submit(store.write("event", "e2"));
  assert.equal(await queue.flush(), true);
  assert.deepEqual(store.written, ["e1", "s1", "e2"]);
  await queue.close();
});

Deno.test("write queue: an outage keeps events, coalesces the rest and flushes on reconnect", async () => {
  const store = fakeStore();
  const changes: boolean[] = [];
  const queue = new WriteQueue({
    retryMs: 2,
    maxRetryMs: 5,
    maxPending: 4,
    onOnlineChange: (online) => changes.push(online),
  });
  store.state.down = true;
  queue.submit(store.write("event", "breach"));
  for (let i = 1; i <= 5; i++) queue.submit(store.write("metrics", `m${i}`, "metrics"));
  queue.submit(store.write("state", "locked", "trading"));
  queue.submit(store.write("event", "lock"));
  queue.submit(store.write("ping", "p1", "ping"));
  queue.submit(store.write("event", "close"));
  queue.submit(store.write("event", "ack"));
  assert.equal(await queue.flush(30), false, "nothing can be written while the store is down");
  assert.equal(queue.online, false);
  store.state.down = false;
  assert.equal(await queue.flush(), true);
  assert.deepEqual(changes, [false, true]);
  // Every event survived in order; metrics were coalesced to the latest, then dropped for room.
  assert.deepEqual(store.written.filter((w) => !/^(m|p)\d/.test(w)), [
    "breach",
    "locked",
    "lock",
    "close",
    "ack",
  ]);
  assert.ok(!store.written.includes("m1"), "stale metrics must not be written");
  const stats = queue.stats;
  assert.equal(stats.coalesced, 4);
  assert.ok(stats.dropped >= 1, `dropped ${stats.dropped}`);
  assert.ok(stats.retries >= 1);
  await queue.close();
});

Deno.test("write queue: events are never dropped even beyond the bound", async () => {
  const store = fakeStore();
  const queue = new WriteQueue({ retryMs: 1, maxRetryMs: 2, maxPending: 3 });
  store.state.down = true;
  for (let i = 0; i < 20; i++) queue.submit(store.write("event", `e${i}`));
  await queue.flush(10);
  store.state.down = false;
  assert.equal(await queue.flush(), true);
  assert.deepEqual(store.written, Array.from({ length: 20 }, (_, i) => `e${i}`));
  await queue.close();
});

Deno.test("write queue: a lost lease stops the queue and is reported once", async () => {
  const store = fakeStore();
  const fatal: unknown[] = [];
  const queue = new WriteQueue({ onFatal: (error) => fatal.push(error) });
  store.state.leaseLost = true;
  queue.submit(store.write("ping", "p", "ping"));
  queue.submit(store.write("event", "e"));
  await queue.flush();
  assert.equal(fatal.length, 1);
  assert.equal((fatal[0] as RiskGuardError).code, "LEASE_LOST");
  queue.submit(store.write("event", "after"));
  assert.deepEqual(store.written, []);
  await queue.close();
});

Deno.test("write queue: a non-transient failure abandons that write only", async () => {
  const written: string[] = [];
  const queue = new WriteQueue();
  queue.submit({ kind: "event", run: () => Promise.reject(new Error("validation failed")) });
  queue.submit({ kind: "event", run: () => Promise.resolve(void written.push("next")) });
  assert.equal(await queue.flush(), true);
  assert.deepEqual(written, ["next"]);
  assert.equal(queue.stats.failed, 1);
  await queue.close();
});

Deno.test("write queue: a coalesced write lands after writes submitted before it", async () => {
  const store = fakeStore();
  const queue = new WriteQueue({ retryMs: 1, maxRetryMs: 2 });
  store.state.down = true;
  // The day is written on its own and inside the metrics patch, under two keys.
  queue.submit(store.write("state", "day=D1", "day"));
  queue.submit(store.write("metrics", "metrics+day=D1", "metrics"));
  queue.submit(store.write("state", "day=D2", "day"));
  await queue.flush(10);
  store.state.down = false;
  assert.equal(await queue.flush(), true);
  assert.deepEqual(store.written, ["metrics+day=D1", "day=D2"], "the newest day is written last");
  await queue.close();
});

Deno.test("write queue: new writes during an outage do not cut the retry backoff short", async () => {
  let attempts = 0;
  const failing = (label: string): Write => ({
    kind: "event",
    run: () => {
      attempts++;
      return Promise.reject(new RiskGuardError("STORE_UNAVAILABLE", `down (${label})`));
    },
  });
  const queue = new WriteQueue({ retryMs: 5_000, maxRetryMs: 5_000 });
  queue.submit(failing("first"));
  // 20 more writes while the first waits out its 5 s backoff.
  for (let i = 0; i < 20; i++) {
    await new Promise((resolve) => setTimeout(resolve, 10));
    queue.submit(failing(`w${i}`));
  }
  assert.equal(attempts, 1, "the store was asked once, not once per new write");
  assert.equal(queue.pending, 21);
  await queue.close();
});

Deno.test("write queue: a write never runs in the turn that submits it", async () => {
  const store = fakeStore();
  const queue = new WriteQueue();
  queue.submit(store.write("event", "breach"));
  queue.submit(store.write("state", "locked", "trading"));
  await Promise.resolve();
  assert.deepEqual(store.written, [], "nothing written before the submitting turn ends");
  assert.equal(await queue.flush(), true);
  assert.deepEqual(store.written, ["breach", "locked"]);
  await queue.close();
});

Deno.test("write queue: a long outage does not hold every replaced write in memory", async () => {
  const store = fakeStore();
  const queue = new WriteQueue({ retryMs: 5, maxRetryMs: 5 });
  store.state.down = true;
  queue.submit(store.write("event", "e1")); // the head the worker retries
  for (let i = 0; i < 20_000; i++) {
    queue.submit(store.write("metrics", `m${i}`, "metrics"));
    queue.submit(store.write("ping", `p${i}`));
  }
  assert.equal(queue.pending <= 3, true, `pending ${queue.pending}`);
  assert.ok(queue.held < 200, `held ${queue.held}`);
  store.state.down = false;
  assert.equal(await queue.flush(), true);
  assert.deepEqual(store.written, ["e1", "m19999", "p19999"]);
  await queue.close();
});
