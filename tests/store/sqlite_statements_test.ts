/**
 * The SQLite store prepares each statement once, not once per call: a statement prepared every
 * 25 ms (the change feed's poll) holds native SQLite memory V8 does not see until a major GC, and
 * made an idle risk process's RSS grow by about 10 MB a minute; pings, metrics, events and samples
 * prepared theirs per call too (`src/store/_statements.ts`).
 *
 * @module
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { SqliteStore } from "../../src/store/sqlite_store.ts";

Deno.test("SQLite feed: an idle poll prepares no statement per poll", async () => {
  const dir = await Deno.makeTempDir({ prefix: "riskguard-feed-poll-" });
  const store = await SqliteStore.open({ path: `${dir}/test.db`, feedPollMs: 5 });
  try {
    const feed = store.watchElements();
    let pending: Promise<unknown> = Promise.resolve();
    const prepared = await countPrepares(async () => {
      // Read what the feed delivers at once (its "synced" mark), then let it poll an empty table.
      pending = feed.next();
      const deadline = Date.now() + 400;
      while (Date.now() < deadline) {
        const timeout = new Promise<"idle">((r) =>
          setTimeout(() => r("idle"), deadline - Date.now())
        );
        if (await Promise.race([pending, timeout]) === "idle") break;
        pending = feed.next();
      }
    });
    // ~80 polls in 400 ms; opening the feed and the first poll take a handful of statements.
    assert.ok(prepared >= 1 && prepared <= 10, `${prepared} statements prepared while idle`);
    await feed.close();
    await pending.catch(() => {});
  } finally {
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
