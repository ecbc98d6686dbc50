/**
 * Unit tests of SqliteStore behaviour that only SQLite has (the shared behaviour is in
 * `tests/store/_contract.ts`).
 *
 * @module
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { SqliteStore } from "./sqlite_store.ts";

async function withLockedDb(
  body: (store: SqliteStore, ids: { element: string; instance: string }) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "riskguard-sqlite-" });
  const path = `${dir}/test.db`;
  const store = await SqliteStore.open({ path, busyTimeoutMs: 50 });
  const other = new DatabaseSync(path);
  try {
    const inserted = await store.insertElement({ server: "S", login: 1, password: "p" });
    assert.ok(inserted.ok);
    const instance = await store.addInstance({ path: "sim:a", host: "h" });
    other.exec("PRAGMA busy_timeout = 0");
    other.exec("BEGIN IMMEDIATE");
    await body(store, { element: inserted.element.id, instance: instance._id });
  } finally {
    try {
      other.exec("ROLLBACK");
    } catch {
      // not in a transaction
    }
    other.close();
    await store.close();
    await Deno.remove(dir, { recursive: true });
  }
}

async function rejectsUnavailable(promise: Promise<unknown>): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.equal((error as { code?: string }).code, "STORE_UNAVAILABLE", String(error));
    assert.match((error as Error).message, /locked/);
    return true;
  });
}

Deno.test("SqliteStore: a write lock held past busyTimeoutMs is STORE_UNAVAILABLE", async () => {
  await withLockedDb(async (store, ids) => {
    await rejectsUnavailable(store.setElementStatus(ids.element, "PENDING"));
    await rejectsUnavailable(store.claimFreeInstance(ids.element, "h", Date.now()));
    await rejectsUnavailable(
      store.updateElement({ element_id: ids.element, instance_id: ids.instance, lease: 1 }, {
        trading: "LOCKED",
        lock_reason: "daily loss",
      }, Date.now()),
    );
    await rejectsUnavailable(store.appendEvent({ element_id: ids.element, type: "lock" }));
  });
});

Deno.test("SqliteStore: writes succeed again once the other connection lets go", async () => {
  const dir = await Deno.makeTempDir({ prefix: "riskguard-sqlite-" });
  const path = `${dir}/test.db`;
  const store = await SqliteStore.open({ path, busyTimeoutMs: 50 });
  const other = new DatabaseSync(path);
  try {
    const inserted = await store.insertElement({ server: "S", login: 1, password: "p" });
    assert.ok(inserted.ok);
    other.exec("BEGIN IMMEDIATE");
    await rejectsUnavailable(store.setElementStatus(inserted.element.id, "PENDING"));
    other.exec("COMMIT");
    const after = await store.setElementStatus(inserted.element.id, "PENDING");
    assert.ok(after.valid);
    assert.equal(after.element.status, "PENDING");
  } finally {
    other.close();
    await store.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "SqliteStore: the database file is readable by its owner only",
  ignore: Deno.build.os === "windows",
  fn: async () => {
    const dir = await Deno.makeTempDir();
    try {
      const store = await SqliteStore.open({ path: `${dir}/private.db` });
      await store.close();
      assert.equal((await Deno.stat(`${dir}/private.db`)).mode! & 0o777, 0o600);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("SqliteStore: waiting for another connection's write lock never blocks the event loop", async () => {
  const dir = await Deno.makeTempDir({ prefix: "riskguard-sqlite-" });
  const path = `${dir}/test.db`;
  // The default patience (10 s): the other connection lets go long before it runs out.
  const store = await SqliteStore.open({ path });
  const other = new DatabaseSync(path);
  let ticker: ReturnType<typeof setInterval> | undefined;
  let release: ReturnType<typeof setTimeout> | undefined;
  try {
    const inserted = await store.insertElement({ server: "S", login: 1, password: "p" });
    assert.ok(inserted.ok);
    const id = inserted.element.id;
    other.exec("PRAGMA busy_timeout = 0");
    other.exec("BEGIN IMMEDIATE");
    // The lock is let go by a timer of this same event loop: it can only fire if the waiting
    // writes leave the event loop free (a synchronous wait would time out while holding it).
    let ticks = 0;
    ticker = setInterval(() => ticks++, 5);
    let released = false;
    release = setTimeout(() => {
      other.exec("COMMIT");
      released = true;
    }, 200);
    const status = store.setElementStatus(id, "PENDING");
    const event = store.appendEvent({ element_id: id, type: "lock", message: "while locked" });
    const [after, record] = await Promise.all([status, event]);
    assert.ok(released, "the writes completed after the other connection let go");
    assert.ok(ticks > 0, "timers ran while the writes waited");
    assert.ok(after.valid);
    assert.equal(after.element.status, "PENDING");
    const events = await store.listEvents(id);
    assert.deepEqual(events.map((e) => e._id), [record._id], "the event is stored exactly once");
  } finally {
    clearInterval(ticker);
    clearTimeout(release);
    try {
      other.exec("ROLLBACK");
    } catch {
      // not in a transaction
    }
    other.close();
    await store.close();
    await Deno.remove(dir, { recursive: true });
  }
});

/** Counts `prepare` calls of every connection of the process while `body` runs. */
async function countPrepares(body: () => Promise<void>): Promise<number> {
  const prepare = DatabaseSync.prototype.prepare;
  let count = 0;
  DatabaseSync.prototype.prepare = function (this: DatabaseSync, ...args) {
    count++;
    return prepare.apply(this, args);
  } as typeof prepare;
  try {
    await body();
  } finally {
    DatabaseSync.prototype.prepare = prepare;
  }
  return count;
}

Deno.test("SqliteStore: hot paths (pings, metrics, events, samples, the feed's poll) prepare each statement once", async () => {
  const dir = await Deno.makeTempDir({ prefix: "riskguard-sqlite-" });
  const store = await SqliteStore.open({ path: `${dir}/test.db`, feedPollMs: 5 });
  try {
    const inserted = await store.insertElement({ server: "S", login: 1, password: "p" });
    assert.ok(inserted.ok);
    const id = inserted.element.id;
    const instance = await store.addInstance({ path: "sim:a", host: "h" });
    const lease = await store.takeLease(id, instance._id, {
      host: "h",
      now: Date.now(),
      staleAfterMs: 60_000,
    });
    const feed = store.watchElements({ elementId: id });
    const round = async (n: number) => {
      const now = Date.now() + n;
      await store.ping(lease, now, { pid: 1 });
      await store.updateElement(lease, {
        metrics: { balance: n, equity: n, daily_pl: 0, positions: 0, orders: 0, updated_at: now },
      }, now);
      await store.appendEvent({ element_id: id, type: "lifecycle", message: `round ${n}` });
      await store.appendSample({
        element_id: id,
        at: now,
        balance: n,
        equity: n,
        daily_pl: 0,
        positions: 0,
      });
      await store.getElement(id);
    };
    const first = await feed.next(); // the feed's scan and its first polls
    assert.equal(first.done, false);
    await round(0);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const prepared = await countPrepares(async () => {
      for (let n = 1; n <= 20; n++) await round(n);
      await new Promise((resolve) => setTimeout(resolve, 100)); // about 20 polls of the feed
    });
    assert.equal(prepared, 0, "every statement of these calls was prepared in the warm-up");
    await feed.close();
  } finally {
    await store.close();
    await Deno.remove(dir, { recursive: true });
  }
});
