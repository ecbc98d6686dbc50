/**
 * One item's write error in a batch of pings or samples (MongoStore sends those that arrive
 * together as one command) reaches that item only: the others of its batch succeed. The write
 * errors are real ones of the server: a unique index the test adds makes one item of the batch
 * a duplicate. Before, one failing update rejected every ping or sample of its batch. And a
 * ping added while the store closes is still sent (its batch used to start after the close).
 *
 * @module
 */
import assert from "node:assert/strict";
import { MongoClient } from "mongodb";
import type { Lease } from "../../src/store/mod.ts";
import { MongoStore } from "../../src/store/mongo_store.ts";
import { type MongoHandle, startMongo } from "../support/mongo_server.ts";

/** A test MongoDB, or `null` (told) when there is none outside CI. */
async function mongoOrSkip(): Promise<MongoHandle | null> {
  const started = await startMongo();
  if (started.ok) return started.server;
  if (Deno.env.get("CI") === "true") throw new Error(started.reason);
  console.log(`SKIPPED MongoDB batch test: ${started.reason}`);
  return null;
}

Deno.test("MongoStore: one ping's or sample's write error in a batch rejects only that one", async () => {
  const server = await mongoOrSkip();
  if (server === null) return;
  const db = `batch_errors_${crypto.randomUUID().slice(0, 8)}`;
  const store = await MongoStore.open({ uri: server.uri, db });
  const client = new MongoClient(server.uri);
  try {
    await store.ensureIndexes();
    const leases: Lease[] = [];
    for (let i = 0; i < 5; i++) {
      const inserted = await store.insertElement(
        { server: "S", login: 300 + i, password: "p" },
        500 + i,
      );
      assert.ok(inserted.ok);
      await store.addInstance({ path: `C:/mt5/${i}`, host: "h1" });
      // Distinct claim times: the unique index below must hold before the pings.
      leases.push(await store.claimFreeInstance(inserted.element.id, "h1", 1_000 + i));
    }
    const raw = client.db(db);
    // A ping sets `updated_at` too (mongo-java-server has no partial indexes, and `last_ping`
    // is null before the first ping).
    await raw.collection("elements").createIndex({ updated_at: 1 }, { unique: true });
    await raw.collection("samples").createIndex({ equity: 1 }, { unique: true });

    // Pings 0 and 1 set the same updated_at: one of them breaks the index, the others pass.
    const times = [5_000, 5_000, 5_002, 5_003, 5_004];
    const pings = await Promise.allSettled(leases.map((lease, i) => store.ping(lease, times[i]!)));
    const refused = pings.filter((result) => result.status === "rejected");
    assert.equal(refused.length, 1, JSON.stringify(pings.map((result) => result.status)));
    assert.equal((refused[0] as PromiseRejectedResult).reason?.code, "STORE_CONFLICT");
    assert.deepEqual(pings.slice(2).map((result) => result.status), Array(3).fill("fulfilled"));
    for (const [i, lease] of leases.entries()) {
      if (i < 2) continue;
      const parsed = await store.getElement(lease.element_id);
      assert.equal(parsed?.valid && parsed.element.last_ping, times[i]);
    }

    // Samples 0 and 1 have the same equity: likewise.
    const equities = [10_000, 10_000, 10_002, 10_003, 10_004];
    const samples = await Promise.allSettled(leases.map((lease, i) =>
      store.appendSample({
        element_id: lease.element_id,
        at: 6_000,
        balance: 10_000,
        equity: equities[i]!,
        daily_pl: 0,
        positions: 0,
      })
    ));
    const lost = samples.filter((result) => result.status === "rejected");
    assert.equal(lost.length, 1, JSON.stringify(samples.map((result) => result.status)));
    assert.deepEqual(samples.slice(2).map((result) => result.status), Array(3).fill("fulfilled"));
    for (const lease of leases.slice(2)) {
      assert.equal((await store.listSamples(lease.element_id)).length, 1);
    }
  } finally {
    await client.close();
    await store.close();
    await server.stop();
  }
});

Deno.test("MongoStore: a ping added while the store closes is sent before it closes", async () => {
  const server = await mongoOrSkip();
  if (server === null) return;
  const db = `batch_close_${crypto.randomUUID().slice(0, 8)}`;
  const store = await MongoStore.open({ uri: server.uri, db });
  let reopened: MongoStore | undefined;
  try {
    const inserted = await store.insertElement({ server: "S", login: 400, password: "p" });
    assert.ok(inserted.ok);
    await store.addInstance({ path: "C:/mt5/0", host: "h1" });
    const lease = await store.claimFreeInstance(inserted.element.id, "h1", 1_000);
    // close() has taken the waiting pings (none) when this one arrives: a new batch.
    const closing = store.close();
    const ping = store.ping(lease, 7_000);
    await closing;
    await ping;
    reopened = await MongoStore.open({ uri: server.uri, db });
    const parsed = await reopened.getElement(lease.element_id);
    assert.equal(parsed?.valid && parsed.element.last_ping, 7_000);
  } finally {
    await store.close();
    await reopened?.close();
    await server.stop();
  }
});
