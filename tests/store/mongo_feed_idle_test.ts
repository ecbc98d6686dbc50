/**
 * An idle MongoDB change feed must wait, not spin: the driver's `ChangeStream.next()` sends
 * getMore after getMore while no change arrives, and mongo-java-server answers each at once, so
 * admin's two feeds cost a core. Counts the getMore commands of an idle feed through the
 * driver's command monitoring; a change after the idle spell still arrives, and closing the
 * feed while it waits between two polls ends it. A ping (an update of `last_ping` alone, most of
 * the stream when admin has many children) is not even read by the feed.
 *
 * @module
 */
import assert from "node:assert/strict";
import { FEED_POLL_MS } from "../../src/store/mongo_store.ts";
import { countingStore } from "./_counting_mongo.ts";

/** The idle spell watched, ms. */
const IDLE_MS = 2_000;

Deno.test("MongoStore: an idle change feed sends few getMore a second", async () => {
  const counting = await countingStore();
  if (counting === null) return;
  const { store, counts } = counting;
  const getMores = () => counts.get("getMore") ?? 0;
  try {
    const feed = store.watchElements();
    assert.equal((await feed.next()).value?.op, "synced");
    const pending = feed.next();
    const before = getMores();
    await new Promise((resolve) => setTimeout(resolve, IDLE_MS));
    const idle = getMores() - before;
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
    await counting.stop();
  }
});

Deno.test("MongoStore: the feed does not read an element for its pings", async () => {
  const counting = await countingStore();
  if (counting === null) return;
  const { store, counts } = counting;
  try {
    const pinged = await store.insertElement({ server: "S", login: 8, password: "p" });
    const other = await store.insertElement({ server: "S", login: 9, password: "p" });
    assert.ok(pinged.ok && other.ok);
    await store.addInstance({ path: "C:/mt5/1", host: "h1" });
    const lease = await store.claimFreeInstance(pinged.element.id, "h1", 1_000);
    const feed = store.watchElements();
    while ((await feed.next()).value?.op !== "synced");
    const finds = () => counts.get("find") ?? 0;
    const before = finds();
    for (let n = 1; n <= 20; n++) await store.ping(lease, 1_000 + n);
    // A change of another element after the pings: the feed reaches it only after it has gone
    // through every ping in the stream, and reads that element alone.
    await store.setElementStatus(other.element.id, "DISABLED");
    const { value } = await feed.next();
    assert.equal(value?.op === "upsert" ? value.id : value?.op, other.element.id);
    // The status change's own read and the feed's read of that element (22 when the feed
    // reads the element of every ping).
    const read = finds() - before;
    assert.ok(read <= 3, `${read} finds for 20 pings and one change (the feed read the pings)`);
    await feed.close();
  } finally {
    await counting.stop();
  }
});
