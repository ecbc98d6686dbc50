/**
 * Bridge ports for the instances a test stores: each test's "hosts" are all this machine.
 *
 * @module
 */
import { freePortPair } from "../../src/shared/net.ts";
import type { Store } from "../../src/store/mod.ts";

/**
 * A free port pair below the kernel's ephemeral range (32768 and up on Linux) for a new instance
 * of `store`: an instance's ports are stored now and bound later, perhaps again after a restart,
 * and meanwhile an outgoing connection (MongoDB clients keep pools of them, so do 50 children)
 * can take an ephemeral port and keep it. Pairs overlapping an instance already stored (on any
 * host: every host of a test is this machine; not bound yet) are skipped.
 */
export async function instancePortPair(store: Store): Promise<number> {
  const registered = (await store.listInstances()).map((instance) => instance.port);
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    if (registered.some((used) => Math.abs(used - port) <= 1)) continue;
    try {
      Deno.listen({ hostname: "127.0.0.1", port }).close();
      Deno.listen({ hostname: "127.0.0.1", port: port + 1 }).close();
      return port;
    } catch {
      // taken: try another
    }
  }
  return freePortPair();
}
