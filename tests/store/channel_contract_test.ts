/**
 * The Store contract suite against ChannelStore: every call goes over the loopback channel to
 * a StoreChannelServer (admin's side) serving a real store, SQLite here, MongoDB on the test
 * server when it is available. Single-element feeds go through the server's fan-out.
 *
 * @module
 */
import assert from "node:assert/strict";
import { runContract } from "./_contract.ts";
import { type Adapter, mongoAdapter, sqliteAdapter } from "./_harness.ts";
import { ChannelStore, StoreChannelServer, type WatchOptions } from "../../src/store/mod.ts";

/**
 * Wraps an adapter: each fixture's store is reached through a channel server on it. `hinted`:
 * the server's element feeds are told of changes by a feed read beside it, as admin's watcher
 * tells admin's channel, and the server must not open a feed of its own for them.
 */
function throughChannel(inner: Adapter, hinted = false): Adapter {
  return {
    name: `channel(${inner.name})`,
    async fresh() {
      const fixture = await inner.fresh();
      const token = crypto.randomUUID();
      let ownFeeds = 0;
      const served = new Proxy(fixture.store, {
        get(target, key, receiver) {
          const value = Reflect.get(target, key, receiver);
          if (key !== "watchElements" || typeof value !== "function") {
            return typeof value === "function" ? value.bind(target) : value;
          }
          return (options?: WatchOptions) => {
            if (options === undefined) ownFeeds++;
            return value.call(target, options);
          };
        },
      });
      const server = StoreChannelServer.listen(served, { token, hinted });
      const watcher = hinted ? fixture.store.watchElements() : undefined;
      const hints = watcher === undefined ? Promise.resolve() : (async () => {
        for await (const change of watcher) server.hint(change);
      })().catch(() => {});
      const opened: ChannelStore[] = [];
      const connect = async () => {
        const store = await ChannelStore.connect({ address: server.address, token });
        opened.push(store);
        return store;
      };
      const store = await connect();
      return {
        ...fixture,
        store,
        connect,
        async dispose() {
          for (const channel of opened) await channel.close();
          await server.close();
          await watcher?.close();
          await hints;
          await fixture.dispose();
          if (hinted) assert.equal(ownFeeds, 0, "the hinted channel opened a feed of its own");
        },
      };
    },
    stop: () => inner.stop(),
  };
}

Deno.test("ChannelStore (through admin, on SQLite) satisfies the Store contract", async (t) => {
  const adapter = throughChannel(sqliteAdapter());
  try {
    await runContract(t, adapter);
  } finally {
    await adapter.stop();
  }
});

Deno.test("ChannelStore (admin's channel, hinted by its watcher's feed, on SQLite) satisfies the Store contract", async (t) => {
  const adapter = throughChannel(sqliteAdapter(), true);
  try {
    await runContract(t, adapter);
  } finally {
    await adapter.stop();
  }
});

Deno.test("ChannelStore (through admin, on MongoDB) satisfies the Store contract", async (t) => {
  const mongo = await mongoAdapter();
  if ("skip" in mongo) {
    console.log(`SKIPPED ChannelStore on MongoDB contract: ${mongo.skip}`);
    return;
  }
  const adapter = throughChannel(mongo);
  try {
    await runContract(t, adapter);
  } finally {
    await adapter.stop();
  }
});
