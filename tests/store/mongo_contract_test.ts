/**
 * The Store contract suite against MongoStore on mongo-java-server (started here), or on the
 * MongoDB of `MONGODB_URI`. Skipped with a printed reason when neither is available, except in
 * CI (`CI=true`), where that is a failure.
 *
 * @module
 */
import { runContract } from "./_contract.ts";
import { mongoAdapter } from "./_harness.ts";

Deno.test("MongoStore satisfies the Store contract", async (t) => {
  const adapter = await mongoAdapter();
  if ("skip" in adapter) {
    console.log(`SKIPPED MongoStore contract: ${adapter.skip}`);
    return;
  }
  try {
    await runContract(t, adapter);
  } finally {
    await adapter.stop();
  }
});
