/**
 * MongoStore when its server goes away: the change feed must not end quietly (a watcher that
 * sees `done` would stop watching for good) but retry and then fail with STORE_UNAVAILABLE.
 * Uses its own mongo-java-server, since the test stops it. Skipped with a printed reason when no
 * server is available, except in CI (`CI=true`), where that is a failure.
 *
 * @module
 */
import assert from "node:assert/strict";
import { MongoStore } from "../../src/store/mongo_store.ts";
import { startMongo } from "../support/mongo_server.ts";

Deno.test("MongoStore feed fails with STORE_UNAVAILABLE when the server goes away", async () => {
  if ((Deno.env.get("MONGODB_URI") ?? "") !== "") {
    console.log("SKIPPED: this test stops its server; it cannot run against MONGODB_URI");
    return;
  }
  const started = await startMongo();
  if (!started.ok) {
    console.log(`SKIPPED MongoStore feed outage test: ${started.reason}`);
    return;
  }
  const server = started.server;
  let store: MongoStore | undefined;
  try {
    store = await MongoStore.open({
      uri: server.uri,
      db: "feed_down",
      serverSelectionTimeoutMs: 800,
      connectAttempts: 1,
    });
    const inserted = await store.insertElement({ server: "S", login: 1, password: "p" });
    assert.ok(inserted.ok);
    const feed = store.watchElements({ maxRetries: 1 });
    assert.equal((await feed.next()).value?.op, "upsert");
    assert.equal((await feed.next()).value?.op, "synced");
    const pending = feed.next();
    pending.catch(() => {});
    await server.stop();
    await assert.rejects(pending, (error: unknown) => {
      assert.equal((error as { code?: string }).code, "STORE_UNAVAILABLE", String(error));
      return true;
    });
    await feed.close();
  } finally {
    await store?.close().catch(() => {});
    await server.stop();
  }
});
