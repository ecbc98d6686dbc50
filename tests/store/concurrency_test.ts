/**
 * Four real processes race to claim 50 elements onto 50 instances, on SQLite (one file) and on
 * MongoDB: every element must be claimed exactly once and no instance twice, and the database
 * must agree with what the processes were told.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { Store } from "../../src/store/mod.ts";
import { type Adapter, mongoAdapter, sqliteAdapter } from "./_harness.ts";

const WORKERS = 4;
const COUNT = 50;
const worker = new URL("./_claim_worker.ts", import.meta.url).pathname;

async function race(adapter: Adapter): Promise<void> {
  const fx = await adapter.fresh();
  try {
    await seed(fx.store);
    const children = Array.from({ length: WORKERS }, () =>
      new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", worker, fx.spec, fx.db],
        stdin: "piped",
        stdout: "piped",
        stderr: "piped",
      }).spawn());
    const readers = children.map((child) => new Lines(child.stdout));
    const errors = children.map((child) => new Response(child.stderr).text());
    // Start all four at once: each has printed "ready" before any gets the go.
    for (const reader of readers) assert.equal(await reader.next(), "ready");
    for (const child of children) {
      const writer = child.stdin.getWriter();
      await writer.write(new TextEncoder().encode("go\n"));
      await writer.close();
    }
    const won: { element_id: string; instance_id: string; lease: number }[] = [];
    for (const [n, child] of children.entries()) {
      const line = await readers[n]!.next();
      await readers[n]!.drain();
      const stderr = await errors[n]!;
      const status = await child.status;
      assert.ok(status.success && line !== null, `worker ${n} failed: ${stderr}`);
      const mine = JSON.parse(line);
      if (Deno.env.get("RG_DEBUG_RACE")) console.log(`worker ${n} won ${mine.length}`);
      won.push(...mine);
    }
    const elements = won.map((w) => w.element_id);
    const instances = won.map((w) => w.instance_id);
    assert.equal(won.length, COUNT, "every element claimed");
    assert.equal(new Set(elements).size, COUNT, "no element claimed twice");
    assert.equal(new Set(instances).size, COUNT, "no instance claimed twice");
    const byElement = new Map(won.map((w) => [w.element_id, w]));
    for (const parsed of await fx.store.listElements()) {
      assert.ok(parsed.valid);
      const claim = byElement.get(parsed.id);
      assert.equal(parsed.element.instance_id, claim?.instance_id, "the database agrees");
      assert.equal(parsed.element.lease, claim?.lease);
      assert.equal(parsed.element.status, "ACTIVE");
    }
    for (const instance of await fx.store.listInstances({ host: "race" })) {
      assert.equal(instance.status, "OCCUPIED");
      assert.equal(byElement.get(instance.element_id ?? "")?.instance_id, instance._id);
    }
  } finally {
    await fx.dispose();
  }
}

async function seed(store: Store): Promise<void> {
  for (let n = 0; n < COUNT; n++) {
    const result = await store.insertElement({ server: "Race", login: 10_000 + n, password: "p" });
    assert.ok(result.ok);
    await store.addInstance({ path: `C:/mt5/race-${n}`, host: "race" });
  }
}

/** Reads a byte stream line by line. */
class Lines {
  #reader: ReadableStreamDefaultReader<string>;
  #buffer = "";

  constructor(stream: ReadableStream<Uint8Array>) {
    this.#reader = stream.pipeThrough(new TextDecoderStream()).getReader();
  }

  /** The next line, or null at the end (then the stream is fully consumed). */
  async next(): Promise<string | null> {
    while (!this.#buffer.includes("\n")) {
      const { value, done } = await this.#reader.read();
      if (done) {
        const rest = this.#buffer;
        this.#buffer = "";
        return rest === "" ? null : rest;
      }
      this.#buffer += value;
    }
    const index = this.#buffer.indexOf("\n");
    const line = this.#buffer.slice(0, index);
    this.#buffer = this.#buffer.slice(index + 1);
    return line.trim();
  }

  /** Reads to the end. */
  async drain(): Promise<void> {
    while ((await this.next()) !== null) { /* discard */ }
  }
}

Deno.test("4 processes race to claim 50 elements on SQLite: each claimed exactly once", async () => {
  await race(sqliteAdapter());
});

Deno.test("4 processes race to claim 50 elements on MongoDB: each claimed exactly once", async () => {
  const adapter = await mongoAdapter();
  if ("skip" in adapter) {
    console.log(`SKIPPED MongoStore concurrency: ${adapter.skip}`);
    return;
  }
  try {
    await race(adapter);
  } finally {
    await adapter.stop();
  }
});
