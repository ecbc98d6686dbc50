/**
 * An idle MongoDB change feed must wait, not spin: the driver's `ChangeStream.next()` sends
 * getMore after getMore while no change arrives, and mongo-java-server answers each at once, so
 * admin's two feeds cost a core. Counts the getMore commands of an idle feed through the
 * driver's command monitoring; a change after the idle spell still arrives, and closing the
 * feed while it waits between two polls ends it.
 *
 * @module
 */
import assert from "node:assert/strict";
import { FEED_POLL_MS, MongoStore } from "../../src/store/mongo_store.ts";
import { startMongo } from "../support/mongo_server.ts";

/** The idle spell watched, ms. */
const IDLE_MS = 2_000;

Deno.test("MongoStore: an idle change feed sends few getMore a second", async () => {
  const started = await startMongo();
  if (!started.ok) {
    if (Deno.env.get("CI") === "true") throw new Error(started.reason);
    console.log(`SKIPPED idle feed test: ${started.reason}`);
    return;
  }
  const server = started.server;
  let getMores = 0;
  const db = `feed_idle_${crypto.randomUUID().slice(0, 8)}`;
  const store = await MongoStore.open({
    uri: server.uri,
    db,
    onCommand: (name) => {
      if (name === "getMore") getMores++;
    },
  });
  try {
    const feed = store.watchElements();
    assert.equal((await feed.next()).value?.op, "synced");
    const pending = feed.next();
    const before = getMores;
    await new Promise((resolve) => setTimeout(resolve, IDLE_MS));
    const idle = getMores - before;
    // One getMore per poll interval at most, and a few more for timer slack (thousands before).
    const most = Math.ceil(IDLE_MS / FEED_POLL_MS) + 5;
    assert.ok(idle <= most, `${idle} getMore in ${IDLE_MS} ms idle (at most ${most})`);
    assert.ok(idle >= 1, "the idle feed polled the stream at all");

    const inserted = await store.insertElement({ server: "S", login: 7, password: "p" });
    assert.ok(inserted.ok);
    const change = (await pending).value;
    assert.equal(change?.op, "upsert");
    assert.equal(
      change?.op === "upsert" ? change.element.id : undefined,
      inserted.ok ? inserted.element.id : "",
    );

    // Closed while it waits between two idle polls: the pending read ends, nothing is left.
    const last = feed.next();
    await new Promise((resolve) => setTimeout(resolve, FEED_POLL_MS / 2));
    await feed.close();
    assert.equal((await last).done, true);
  } finally {
    await store.close();
    await server.stop();
  }
});
