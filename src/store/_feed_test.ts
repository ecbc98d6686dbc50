import assert from "node:assert/strict";
import { Feed, type FeedSource, HistoryLostError, type RawChange } from "./_feed.ts";
import type { ElementChange } from "./types.ts";

/** An in-memory source whose stream fails on demand. */
class FakeSource implements FeedSource {
  docs = new Map<string, Record<string, unknown>>();
  changes: (RawChange | Error)[] = [];
  saved = new Map<string, unknown>();
  opened: unknown[] = [];
  scans = 0;
  down = false;
  #wake: (() => void) | undefined;
  #stopped = false;

  push(change: RawChange | Error): void {
    this.changes.push(change);
    this.#wake?.();
  }
  open(token: unknown): Promise<void> {
    this.#stopped = false;
    this.opened.push(token);
    if (this.down) return Promise.reject(new Error("database down"));
    if (token === "lost") return Promise.reject(new HistoryLostError("gone"));
    return Promise.resolve();
  }
  async next(): Promise<RawChange | null> {
    while (!this.#stopped) {
      const change = this.changes.shift();
      if (change instanceof Error) throw change;
      if (change !== undefined) return change;
      await new Promise<void>((resolve) => (this.#wake = resolve));
    }
    return null;
  }
  stop(): Promise<void> {
    this.#stopped = true;
    this.#wake?.();
    return Promise.resolve();
  }
  scan(): Promise<Record<string, unknown>[]> {
    this.scans++;
    return Promise.resolve([...this.docs.values()]);
  }
  lookup(id: string): Promise<Record<string, unknown> | null> {
    return Promise.resolve(this.docs.get(id) ?? null);
  }
  loadState(key: string): Promise<Record<string, unknown> | null> {
    if (!this.saved.has(key)) return Promise.resolve(null);
    return Promise.resolve({ _id: key, resume_token: this.saved.get(key), updated_at: 1 });
  }
  saveToken(key: string, token: unknown): Promise<void> {
    if (token === null) this.saved.delete(key);
    else this.saved.set(key, token);
    return Promise.resolve();
  }
}

function element(id: string, extra: Record<string, unknown> = {}) {
  return { _id: id, server: "S", login: 1, password: "p", ...extra };
}

async function take(feed: Feed, n: number): Promise<ElementChange[]> {
  const out: ElementChange[] = [];
  for (let i = 0; i < n; i++) {
    const next = await feed.next();
    assert.ok(!next.done);
    out.push(next.value);
  }
  return out;
}

function summary(changes: ElementChange[]): string[] {
  return changes.map((c) => c.op === "synced" ? "synced" : `${c.op}:${c.id}:${c.source}`);
}

Deno.test("after a stream error the feed reopens from the handled position and reconciles", async () => {
  const source = new FakeSource();
  source.docs.set("a", element("a"));
  const warnings: string[] = [];
  const feed = new Feed(source, { resumeKey: "h", onWarning: (m) => warnings.push(m) });
  try {
    assert.deepEqual(summary(await take(feed, 2)), ["upsert:a:reconcile", "synced"]);
    source.docs.set("b", element("b"));
    source.push({ token: 1, op: "change", id: "b" });
    assert.deepEqual(summary(await take(feed, 1)), ["upsert:b:change"]);
    // While the stream is broken, c is inserted and a is deleted.
    source.docs.set("c", element("c"));
    source.docs.delete("a");
    source.push(new Error("connection reset"));
    const after = summary(await take(feed, 3));
    assert.deepEqual(after, ["upsert:c:reconcile", "delete:a:reconcile", "synced"]);
    assert.deepEqual(source.opened, [null, 1], "reopened after the last handled change");
    assert.equal(source.saved.get("h"), 1, "the handled position was saved");
    assert.equal(source.scans, 2);
    assert.equal(warnings.length, 1);
    // The stream replays c's insert: already delivered, so it is skipped.
    source.push({ token: 2, op: "change", id: "c" });
    source.docs.set("c", element("c", { status: "DISABLED" }));
    source.push({ token: 3, op: "change", id: "c" });
    const replay = await take(feed, 1);
    assert.deepEqual(summary(replay), ["upsert:c:change"]);
  } finally {
    await feed.close();
  }
  assert.equal(source.saved.get("h"), 2, "position of the last change read and handled");
});

Deno.test("a lost resume position starts from now; the feed gives up when it cannot reopen", async () => {
  const source = new FakeSource();
  source.saved.set("h", "lost");
  source.docs.set("a", element("a"));
  const feed = new Feed(source, { resumeKey: "h", maxRetries: 1 });
  try {
    assert.deepEqual(summary(await take(feed, 2)), ["upsert:a:reconcile", "synced"]);
    assert.deepEqual(source.opened, ["lost", null]);
    source.down = true;
    source.push(new Error("stream broken"));
    await assert.rejects(feed.next(), { code: "STORE_UNAVAILABLE" });
  } finally {
    await feed.close();
  }
});

Deno.test("close ends a pending next and later calls are done", async () => {
  const source = new FakeSource();
  const feed = new Feed(source, {});
  await take(feed, 1);
  const pending = feed.next();
  await feed.close();
  assert.deepEqual(await pending, { done: true, value: undefined });
  assert.deepEqual(await feed.next(), { done: true, value: undefined });
});

Deno.test("rescans asked for by the stream are throttled, and the change still arrives once", async () => {
  const source = new FakeSource();
  source.docs.set("a", element("a"));
  const feed = new Feed(source, {});
  try {
    assert.deepEqual(summary(await take(feed, 2)), ["upsert:a:reconcile", "synced"]);
    source.docs.set("a", element("a", { status: "DISABLED" }));
    for (let n = 1; n <= 50; n++) source.push({ token: n, op: "reconcile" });
    const changes = await take(feed, 2);
    assert.deepEqual(summary(changes), ["upsert:a:reconcile", "synced"]);
    assert.ok(source.scans < 10, `50 hints caused ${source.scans} scans`);
  } finally {
    await feed.close();
  }
});

Deno.test("stream failures count across next() calls, so maxRetries is reached", async () => {
  const source = new FakeSource();
  source.docs.set("a", element("a"));
  // Opening and scanning work, but every read of the stream fails: each failure reopens and
  // reconciles, which yields a `synced` to the caller before the next read fails again.
  source.next = () => Promise.reject(new Error("stream broke (network)"));
  const feed = new Feed(source, { maxRetries: 2 });
  try {
    let error: unknown;
    for (let call = 0; call < 20 && error === undefined; call++) {
      try {
        const next = await feed.next();
        assert.ok(!next.done, "the feed must not end quietly");
      } catch (caught) {
        error = caught;
      }
    }
    assert.equal((error as { code?: string } | undefined)?.code, "STORE_UNAVAILABLE");
    assert.equal(source.opened.length, 3, "first open and two reopens, then it gives up");
  } finally {
    await feed.close();
  }
});

Deno.test("the failure count is reset once a real change is handled", async () => {
  const source = new FakeSource();
  source.docs.set("a", element("a"));
  const feed = new Feed(source, { maxRetries: 2 });
  try {
    assert.deepEqual(summary(await take(feed, 2)), ["upsert:a:reconcile", "synced"]);
    for (let round = 1; round <= 3; round++) {
      // Two failures in a row (each followed by a reconcile), then a real change.
      source.push(new Error("blip 1"));
      assert.deepEqual(summary(await take(feed, 1)), ["synced"]);
      source.push(new Error("blip 2"));
      assert.deepEqual(summary(await take(feed, 1)), ["synced"]);
      source.docs.set("a", element("a", { login: 100 + round }));
      source.push({ token: round, op: "change", id: "a" });
      assert.deepEqual(summary(await take(feed, 1)), ["upsert:a:change"]);
    }
    source.push(new Error("blip 1"));
    source.push(new Error("blip 2"));
    source.push(new Error("blip 3"));
    assert.deepEqual(summary(await take(feed, 1)), ["synced"]);
    assert.deepEqual(summary(await take(feed, 1)), ["synced"]);
    await assert.rejects(feed.next(), { code: "STORE_UNAVAILABLE" });
  } finally {
    await feed.close();
  }
});

Deno.test("a delete is delivered once, also for an element this feed never delivered", async () => {
  const source = new FakeSource();
  source.docs.set("a", element("a"));
  const feed = new Feed(source, {});
  try {
    assert.deepEqual(summary(await take(feed, 2)), ["upsert:a:reconcile", "synced"]);
    // b was deleted before this feed started (a resumed stream replays its delete).
    source.push({ token: 1, op: "delete", id: "b" });
    assert.deepEqual(summary(await take(feed, 1)), ["delete:b:change"]);
    source.docs.delete("a");
    source.push({ token: 2, op: "delete", id: "a" });
    assert.deepEqual(summary(await take(feed, 1)), ["delete:a:change"]);
    // Replays and rescans do not deliver them again.
    source.push({ token: 3, op: "delete", id: "a" });
    source.push({ token: 4, op: "delete", id: "b" });
    source.push(new Error("connection reset"));
    assert.deepEqual(summary(await take(feed, 1)), ["synced"]);
    // A new element with a deleted id is delivered again.
    source.docs.set("a", element("a"));
    source.push({ token: 5, op: "change", id: "a" });
    assert.deepEqual(summary(await take(feed, 1)), ["upsert:a:change"]);
  } finally {
    await feed.close();
  }
});

Deno.test("a skipped change (a ping) is neither read nor delivered; its position is handled", async () => {
  const source = new FakeSource();
  source.docs.set("a", element("a"));
  let lookups = 0;
  const lookup = source.lookup.bind(source);
  source.lookup = (id) => {
    lookups++;
    return lookup(id);
  };
  const feed = new Feed(source, { resumeKey: "h" });
  try {
    assert.deepEqual(summary(await take(feed, 2)), ["upsert:a:reconcile", "synced"]);
    source.push({ token: 1, op: "skip" });
    source.push({ token: 2, op: "skip" });
    source.docs.set("a", element("a", { status: "DISABLED" }));
    source.push({ token: 3, op: "change", id: "a" });
    assert.deepEqual(summary(await take(feed, 1)), ["upsert:a:change"]);
    assert.equal(lookups, 1, "only the real change was read");
    source.push({ token: 4, op: "skip" });
    source.push({ token: 5, op: "change", id: "a" }); // unchanged: not delivered
    const pending = feed.next();
    while (source.changes.length > 0) await new Promise((resolve) => setTimeout(resolve, 5));
    await feed.close();
    assert.equal((await pending).done, true);
  } finally {
    await feed.close();
  }
  assert.equal(source.saved.get("h"), 5, "the position after the skipped changes was saved");
});
