/**
 * MongoStore sends the pings (and the equity samples) that arrive together as one batch (admin
 * serves the pings of every child of its VPS): fewer update commands than pings, counted through the driver's command
 * monitoring; a ping whose lease was lost is still refused with LEASE_LOST (and one whose
 * instance was lost with its own error) while the others of its batch succeed.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { Lease } from "../../src/store/mod.ts";
import { countingStore } from "./_counting_mongo.ts";

Deno.test("MongoStore: pings and samples sent together go as one batch; a lost lease is still refused", async () => {
  const counting = await countingStore();
  if (counting === null) return;
  const { store, counts } = counting;
  try {
    const leases: Lease[] = [];
    for (let i = 0; i < 10; i++) {
      const inserted = await store.insertElement({ server: "S", login: 100 + i, password: "p" });
      assert.ok(inserted.ok);
      await store.addInstance({ path: `C:/mt5/${i}`, host: "h1" });
      leases.push(await store.claimFreeInstance(inserted.element.id, "h1", 1_000));
    }
    const updates = () => counts.get("update") ?? 0;
    const before = updates();
    await Promise.all(leases.map((lease, i) => store.ping(lease, 2_000 + i)));
    const sent = updates() - before;
    assert.ok(sent <= 4, `${sent} update commands for 10 pings sent together (20 one by one)`);
    for (const [i, lease] of leases.entries()) {
      const parsed = await store.getElement(lease.element_id);
      assert.equal(parsed?.valid && parsed.element.last_ping, 2_000 + i);
    }

    // Samples sent together go as one batch too.
    const beforeSamples = updates();
    await Promise.all(leases.map((lease, i) =>
      store.appendSample({
        element_id: lease.element_id,
        at: 2_500 + i,
        balance: 10_000,
        equity: 10_000 + i,
        daily_pl: i,
        positions: 0,
      })
    ));
    const samples = updates() - beforeSamples;
    assert.ok(samples <= 2, `${samples} update commands for 10 samples sent together`);
    const stored = await store.listSamples(leases[3]!.element_id);
    assert.deepEqual(stored.map((sample) => sample.equity), [10_003]);

    // The lease of the first element moves on (released): its ping is refused, not the others'.
    await store.release(leases[0]!, { status: "INACTIVE", now: 3_000 });
    const results = await Promise.allSettled(leases.map((lease) => store.ping(lease, 4_000)));
    const first = results[0]!;
    assert.equal(first.status, "rejected");
    assert.equal((first as PromiseRejectedResult).reason?.code, "LEASE_LOST");
    assert.deepEqual(results.slice(1).map((result) => result.status), Array(9).fill("fulfilled"));
  } finally {
    await counting.stop();
  }
});
