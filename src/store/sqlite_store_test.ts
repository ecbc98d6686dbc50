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
