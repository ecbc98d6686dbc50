/**
 * The SQLite change feed's poll prepares its statement once, not once per poll: a statement
 * prepared every 25 ms holds native SQLite memory V8 does not see until a major GC, and made an
 * idle risk process's RSS grow by about 10 MB a minute.
 *
 * @module
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { SqliteStore } from "../../src/store/sqlite_store.ts";

Deno.test("SQLite feed: an idle poll prepares no statement per poll", async () => {
  const dir = await Deno.makeTempDir({ prefix: "riskguard-feed-poll-" });
  const store = await SqliteStore.open({ path: `${dir}/test.db`, feedPollMs: 5 });
  const prepare = DatabaseSync.prototype.prepare;
  let prepared = 0;
  DatabaseSync.prototype.prepare = function (this: DatabaseSync, ...args) {
    prepared++;
    return prepare.apply(this, args);
  } as typeof prepare;
  try {
    const feed = store.watchElements();
    // Read what the feed delivers at once (its "synced" mark), then let it poll an empty table.
    let pending = feed.next();
    const deadline = Date.now() + 400;
    while (Date.now() < deadline) {
      const timeout = new Promise<"idle">((r) =>
        setTimeout(() => r("idle"), deadline - Date.now())
      );
      if (await Promise.race([pending, timeout]) === "idle") break;
      pending = feed.next();
    }
    // ~80 polls in 400 ms; opening the feed and the first poll take a handful of statements.
    assert.ok(prepared >= 1 && prepared <= 10, `${prepared} statements prepared while idle`);
    await feed.close();
    await pending.catch(() => {});
  } finally {
    DatabaseSync.prototype.prepare = prepare;
    await store.close();
    await Deno.remove(dir, { recursive: true });
  }
});
