/**
 * The fleet hub's two sources against a real SQLite store: the change feed owns the element's
 * state, the once-a-second re-read only the figures. The feed is held at a gate here (the real
 * feed, started late), so the test decides what the feed has delivered when the re-read runs.
 *
 * The bug this guards against: the re-read published a lock the feed had not delivered; when
 * the lock was undone before the feed looked, the feed (which reports only what differs from
 * what it last delivered) reported nothing, and the row stayed locked until the next re-read.
 *
 * @module
 */
import assert from "node:assert/strict";
import { FleetHub, type FleetUpdate } from "../../src/dashboard/mod.ts";
import type { ElementChange, ElementFeed, Store } from "../../src/store/mod.ts";
import { buildFleet } from "./_fleet.ts";

/** The store, with element feeds that hand out nothing past `synced` while the gate is shut. */
function gatedStore(store: Store) {
  let open = Promise.resolve();
  let release = () => {};
  const gated = new Proxy(store, {
    get(target, name) {
      if (name === "watchElements") {
        return (...args: Parameters<Store["watchElements"]>) => gate(target.watchElements(...args));
      }
      const value = Reflect.get(target, name, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  function gate(feed: ElementFeed): ElementFeed {
    let synced = false;
    const gatedFeed: ElementFeed = {
      async next(): Promise<IteratorResult<ElementChange, undefined>> {
        // The inner feed looks the element up only once it is asked: after the gate opens.
        if (synced) await open;
        const result = await feed.next();
        if (!result.done && result.value.op === "synced") synced = true;
        return result;
      },
      close: () => feed.close(),
      [Symbol.asyncIterator]: () => gatedFeed,
    };
    return gatedFeed;
  }
  return {
    store: gated,
    shut() {
      const { promise, resolve } = Promise.withResolvers<void>();
      open = promise;
      release = resolve;
    },
    open: () => release(),
  };
}

/** Collects published updates; `until` waits for one that matches. */
function recorder(hub: FleetHub) {
  const seen: FleetUpdate[] = [];
  const waiters = new Set<{ match: (u: FleetUpdate) => boolean; resolve: () => void }>();
  hub.subscribe((update) => {
    seen.push(update);
    for (const waiter of waiters) {
      if (waiter.match(update)) {
        waiters.delete(waiter);
        waiter.resolve();
      }
    }
  });
  return {
    seen,
    until(match: (update: FleetUpdate) => boolean, what: string, timeoutMs = 5_000) {
      return new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no update: ${what}`)), timeoutMs);
        waiters.add({
          match,
          resolve: () => {
            clearTimeout(timer);
            resolve();
          },
        });
      });
    },
  };
}

Deno.test("fleet hub: the re-read carries figures only; states come from the feed", async () => {
  const fleet = await buildFleet();
  const gated = gatedStore(fleet.store);
  const hub = new FleetHub(gated.store, { refreshMs: 30 });
  const stop = new AbortController();
  const running = hub.run(stop.signal);
  const id = fleet.ids.calm;
  const lease = fleet.leases.calm;
  const metrics = (equity: number) => ({
    balance: 10_000,
    equity,
    daily_pl: equity - 10_000,
    positions: 2,
    orders: 1,
    updated_at: Date.now(),
  });
  try {
    await hub.synced;
    assert.equal(hub.row(id)?.trading, "ALLOWED");
    const log = recorder(hub);

    gated.shut();
    // A change the feed already waits for passes; the feed's next read waits at the gate.
    await fleet.store.setElementStatus(fleet.ids.idle, "DISABLED");
    await log.until(
      (u) => u.type === "row" && u.row.id === fleet.ids.idle && u.row.status === "DISABLED",
      "the change in flight",
    );
    await fleet.store.updateElement(lease, { trading: "LOCKED_DAY", lock_reason: "x" }, Date.now());
    await fleet.store.updateElement(lease, { metrics: metrics(9_111) }, Date.now());
    // The re-read (every 30 ms) brings the figures written after the lock...
    await log.until(
      (u) => u.type === "row" && u.row.id === id && u.row.equity === 9_111,
      "the re-read's figures",
    );
    // ...but not the lock, which only the feed may deliver.
    const rows = log.seen.flatMap((u) => u.type === "row" && u.row.id === id ? [u.row] : []);
    assert.deepEqual(rows.map((row) => row.trading), rows.map(() => "ALLOWED"));
    assert.equal(hub.row(id)?.trading, "ALLOWED");

    // The lock is undone before the feed looks: the feed reports nothing, and nothing is stale.
    await fleet.store.updateElement(lease, { trading: "ALLOWED", lock_reason: null }, Date.now());
    gated.open();
    await fleet.store.updateElement(lease, { metrics: metrics(9_222) }, Date.now());
    await log.until((u) => u.type === "row" && u.row.equity === 9_222, "figures after the gate");
    assert.equal(hub.row(id)?.trading, "ALLOWED");

    // A state change reaches subscribers through the feed.
    await fleet.store.updateElement(lease, { trading: "LOCKED", lock_reason: "y" }, Date.now());
    await log.until(
      (u) => u.type === "row" && u.row.id === id && u.row.trading === "LOCKED",
      "the lock through the feed",
    );
    assert.equal(hub.row(id)?.lock_reason, "y");
    assert.equal(hub.row(id)?.equity, 9_222, "the figures stay with the state change");
  } finally {
    gated.open();
    stop.abort();
    await running;
    await fleet.dispose();
  }
});
