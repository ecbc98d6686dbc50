/**
 * A MongoStore on a test server of its own whose client counts the commands it sends (the
 * driver's command monitoring), for tests of how many commands a store operation costs.
 *
 * @module
 */
import { MongoStore } from "../../src/store/mongo_store.ts";
import { startMongo } from "../support/mongo_server.ts";

/** A store on its own test server that counts the commands its client sends, or a skip. */
export async function countingStore(): Promise<
  { store: MongoStore; counts: Map<string, number>; stop(): Promise<void> } | null
> {
  const started = await startMongo();
  if (!started.ok) {
    if (Deno.env.get("CI") === "true") throw new Error(started.reason);
    console.log(`SKIPPED MongoDB feed test: ${started.reason}`);
    return null;
  }
  const server = started.server;
  const counts = new Map<string, number>();
  const store = await MongoStore.open({
    uri: server.uri,
    db: `feed_idle_${crypto.randomUUID().slice(0, 8)}`,
    onCommand: (name) => counts.set(name, (counts.get(name) ?? 0) + 1),
  }).catch(async (error) => {
    await server.stop();
    throw error;
  });
  return {
    store,
    counts,
    async stop() {
      await store.close();
      await server.stop();
    },
  };
}
