/**
 * A hinted channel whose hints never come (admin's watcher failing every time it opens its
 * feed) still delivers a child's element changes: each child's feed reads its element again
 * every `recheckMs`. Without that backstop the child kept its old limits for good.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  ChannelStore,
  type ElementChange,
  openStore,
  type Store,
  StoreChannelServer,
} from "../../src/store/mod.ts";
import { addElement } from "./_contract.ts";

const TOKEN = "a-token-of-sixteen-or-more";
/** Only a guard against a hang (the old code never delivered): not a timing figure. */
const GUARD_MS = 20_000;

async function nextChange(feed: AsyncIterator<ElementChange>): Promise<ElementChange> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const guard = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error("no change delivered")), GUARD_MS);
  });
  try {
    const result = await Promise.race([feed.next(), guard]);
    assert.equal(result.done, false);
    return result.value as ElementChange;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * A hinted channel on a fresh SQLite store with one element, a child connected to it, and that
 * child's feed of the element past its first upsert and `synced`.
 */
async function withChildFeed(
  recheckMs: number,
  body: (
    ctx: {
      store: Store;
      server: StoreChannelServer;
      id: string;
      feed: AsyncIterator<ElementChange>;
    },
  ) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "riskguard-channel-recheck-" });
  const store = await openStore(`sqlite:${dir}/store.db`);
  const server = StoreChannelServer.listen(store, { token: TOKEN, hinted: true, recheckMs });
  const child = await ChannelStore.connect({ address: server.address, token: TOKEN });
  try {
    const id = await addElement(store, 4_242, { max_daily_loss: 100 });
    const watched = child.watchElements({ elementId: id });
    const feed = watched[Symbol.asyncIterator]();
    try {
      assert.equal((await nextChange(feed)).op, "upsert");
      assert.equal((await nextChange(feed)).op, "synced");
      await body({ store, server, id, feed });
    } finally {
      await watched.close();
    }
  } finally {
    await child.close();
    await server.close();
    await store.close();
    await Deno.remove(dir, { recursive: true });
  }
}

function assertLimit(change: ElementChange, value: number): void {
  assert.ok(change.op === "upsert" && change.element.valid);
  assert.deepEqual(change.element.element.max_daily_loss, { kind: "money", value });
}

Deno.test("channel server (hinted, never hinted): a child's feed sees a limit change by the recheck", async () => {
  await withChildFeed(100, async ({ store, id, feed }) => {
    assert.ok((await store.configureElement(id, { max_daily_loss: 50 })).ok);
    assertLimit(await nextChange(feed), 50);
  });
});

Deno.test("channel server (hinted): the watcher's first synced makes every child's feed read again", async () => {
  // No backstop within the test: only the hint can deliver the change.
  await withChildFeed(3_600_000, async ({ store, server, id, feed }) => {
    // Changed between the child's first read and the watcher's stream start: the watcher's
    // first scan (`synced`) is the only word of it.
    assert.ok((await store.configureElement(id, { max_daily_loss: 60 })).ok);
    server.hint({ op: "synced" });
    assertLimit(await nextChange(feed), 60);
  });
});
