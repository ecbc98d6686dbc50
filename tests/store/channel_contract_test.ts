/**
 * The Store contract suite against ChannelStore: every call goes over the loopback channel to
 * a StoreChannelServer (admin's side) serving a real store, SQLite here, MongoDB on the test
 * server when it is available. Single-element feeds go through the server's fan-out.
 *
 * @module
 */
import { runContract } from "./_contract.ts";
import { type Adapter, mongoAdapter, sqliteAdapter } from "./_harness.ts";
import { ChannelStore, StoreChannelServer } from "../../src/store/mod.ts";

/** Wraps an adapter: each fixture's store is reached through a channel server on it. */
function throughChannel(inner: Adapter): Adapter {
  return {
    name: `channel(${inner.name})`,
    async fresh() {
      const fixture = await inner.fresh();
      const token = crypto.randomUUID();
      const server = StoreChannelServer.listen(fixture.store, { token });
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
          await fixture.dispose();
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
