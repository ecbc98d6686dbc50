/**
 * The change feed sees writes made by another process (several processes share one SQLite
 * file; several agents share one MongoDB), each exactly once.
 *
 * @module
 */
import assert from "node:assert/strict";
import { type Adapter, mongoAdapter, sqliteAdapter } from "./_harness.ts";
import { collect } from "./_contract.ts";

const worker = new URL("./_insert_worker.ts", import.meta.url).pathname;

async function crossProcess(adapter: Adapter): Promise<void> {
  const fx = await adapter.fresh();
  const feed = fx.store.watchElements();
  try {
    await collect(feed, (c) => c.op === "synced");
    const output = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", worker, fx.spec, fx.db, "10", "500"],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.ok(output.success, new TextDecoder().decode(output.stderr));
    const ids: string[] = JSON.parse(new TextDecoder().decode(output.stdout).trim());
    assert.equal(ids.length, 10);
    const seen = new Set<string>();
    const changes = await collect(feed, (c) => {
      if (c.op === "upsert") seen.add(c.id);
      return ids.every((id) => seen.has(id));
    });
    const upserts = changes.flatMap((c) => c.op === "upsert" ? [c.id] : []);
    assert.deepEqual([...upserts].sort(), [...ids].sort(), "each insert exactly once");
    for (const change of changes) {
      assert.ok(change.op !== "upsert" || change.element.valid);
    }
  } finally {
    await feed.close();
    await fx.dispose();
  }
}

Deno.test("SQLite feed sees inserts made by another process", async () => {
  await crossProcess(sqliteAdapter());
});

Deno.test("MongoDB feed sees inserts made by another process", async () => {
  const adapter = await mongoAdapter();
  if ("skip" in adapter) {
    console.log(`SKIPPED MongoStore cross-process feed: ${adapter.skip}`);
    return;
  }
  try {
    await crossProcess(adapter);
  } finally {
    await adapter.stop();
  }
});
