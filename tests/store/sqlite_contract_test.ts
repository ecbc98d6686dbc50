/**
 * The Store contract suite against SqliteStore (a fresh temp file per case).
 *
 * @module
 */
import { runContract } from "./_contract.ts";
import { sqliteAdapter } from "./_harness.ts";

Deno.test("SqliteStore satisfies the Store contract", async (t) => {
  const adapter = sqliteAdapter();
  try {
    await runContract(t, adapter);
  } finally {
    await adapter.stop();
  }
});
