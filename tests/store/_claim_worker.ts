/**
 * A claiming process for the concurrency test: opens the store given as first argument
 * (database name second), prints `ready`, waits for a line on stdin, then claims elements
 * onto FREE instances of host `race` until every element is held, and prints one JSON line
 * with the leases it won.
 *
 * @module
 */
import { openStore } from "../../src/store/mod.ts";

const [spec, db] = Deno.args;
const store = await openStore(spec, { ...(db === undefined ? {} : { db }) });
const won: { element_id: string; instance_id: string; lease: number }[] = [];
try {
  console.log("ready");
  const reader = Deno.stdin.readable.getReader();
  await reader.read();
  reader.releaseLock();
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const elements = await store.listElements();
    const unheld = elements.filter((p) => p.valid && p.element.instance_id === null);
    if (unheld.length === 0) break;
    // Each process walks the elements in its own random order to maximize collisions.
    unheld.sort(() => Math.random() - 0.5);
    for (const parsed of unheld) {
      // A little jitter between claims, as a real scheduler has, so the processes interleave.
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 3));
      try {
        const lease = await store.claimFreeInstance(parsed.id, "race", Date.now());
        won.push({
          element_id: lease.element_id,
          instance_id: lease.instance_id,
          lease: lease.lease,
        });
      } catch (error) {
        const code = (error as { code?: string }).code;
        if (code !== "ELEMENT_HELD" && code !== "CLAIM_FAILED") throw error;
      }
    }
  }
  console.log(JSON.stringify(won));
} finally {
  await store.close();
}
