/**
 * Store benchmark: claim throughput, change-feed latency (insert -> event, p50/p99) and the
 * reap of 10,000 stale instances, for SqliteStore and MongoStore (on mongo-java-server, or the
 * MongoDB of `MONGODB_URI`), printed side by side with the targets of the store issue.
 *
 * Run: `deno run -A bench/store.ts` (or `deno task bench store`).
 *
 * @module
 */
import { DatabaseSync } from "node:sqlite";
import { MongoClient, ObjectId } from "mongodb";
import { openStore, type Store } from "../src/store/mod.ts";
import { startMongo } from "../tests/support/mongo_server.ts";

const CLAIMS = 1_000;
const WARMUP = 200;
const FEED_SAMPLES = 200;
const REAP = 10_000;
const HOST = "bench";

interface Figures {
  claimSeconds: number;
  claimsPerSecond: number;
  feedP50: number;
  feedP99: number;
  reapMs: number;
  reaped: number;
}

interface Target {
  /** Opens a fresh store on an empty database. */
  open(): Promise<Store>;
  /** Writes `count` OCCUPIED instances with a stale ping, bypassing the store (bulk). */
  seedStaleInstances(count: number, stalePing: number): Promise<void>;
  /** Writes `count` FREE instances on HOST, bypassing the store (bulk). */
  seedFreeInstances(count: number, host: string, offset: number): Promise<void>;
  dispose(): Promise<void>;
}

async function measure(target: Target): Promise<Figures> {
  // Claim throughput: one process claims CLAIMS elements onto CLAIMS instances.
  const store = await target.open();
  const writer = await target.open();
  try {
    const seed = async (count: number, host: string, offset: number) => {
      const ids: string[] = [];
      for (let n = 0; n < count; n++) {
        const result = await store.insertElement({
          server: "Bench",
          login: offset + n,
          password: "p",
        });
        if (!result.ok) throw new Error(result.reason);
        ids.push(result.element.id);
      }
      await target.seedFreeInstances(count, host, offset);
      return ids;
    };
    // Warm-up (JIT of Deno and of the JVM running mongo-java-server), not measured.
    for (const id of await seed(WARMUP, "warm-up", 1)) {
      await store.claimFreeInstance(id, "warm-up", Date.now());
    }
    const ids = await seed(CLAIMS, HOST, 10_000);
    const claimStart = performance.now();
    for (const id of ids) await store.claimFreeInstance(id, HOST, Date.now());
    const claimSeconds = (performance.now() - claimStart) / 1000;

    // Change feed latency: a consumer waits on the feed all the time (as the admin does) while
    // another connection inserts at random intervals; latency = insert call -> event delivered.
    const feed = store.watchElements({});
    for (;;) {
      const next = await feed.next();
      if (next.done || next.value.op === "synced") break;
    }
    const arrivals = new Map<string, number>();
    const waiters = new Map<string, () => void>();
    const consumer = (async () => {
      for await (const change of feed) {
        if (change.op !== "upsert") continue;
        arrivals.set(change.id, performance.now());
        waiters.get(change.id)?.();
      }
    })();
    const latencies: number[] = [];
    for (let n = 0; n < FEED_SAMPLES; n++) {
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 30));
      const start = performance.now();
      const result = await writer.insertElement({
        server: "Feed",
        login: 100_000 + n,
        password: "p",
      });
      if (!result.ok) throw new Error(result.reason);
      const id = result.element.id;
      if (!arrivals.has(id)) {
        await new Promise<void>((resolve) => waiters.set(id, resolve));
        waiters.delete(id);
      }
      latencies.push(arrivals.get(id)! - start);
    }
    await feed.close();
    await consumer;
    latencies.sort((a, b) => a - b);

    // Reap of REAP stale OCCUPIED instances.
    const now = Date.now();
    await target.seedStaleInstances(REAP, now - 10 * 60_000);
    const reapStart = performance.now();
    const reaped = await store.reap({ now });
    const reapMs = performance.now() - reapStart;
    return {
      claimSeconds,
      claimsPerSecond: CLAIMS / claimSeconds,
      feedP50: percentile(latencies, 0.5),
      feedP99: percentile(latencies, 0.99),
      reapMs,
      reaped: reaped.instances,
    };
  } finally {
    await writer.close();
    await store.close();
    await target.dispose();
  }
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)] ?? NaN;
}

async function sqliteTarget(): Promise<Target> {
  const dir = await Deno.makeTempDir({ prefix: "riskguard-bench-" });
  const path = `${dir}/bench.db`;
  const bulk = (docs: Record<string, unknown>[]) => {
    const db = new DatabaseSync(path);
    try {
      db.exec("PRAGMA busy_timeout = 5000; BEGIN IMMEDIATE");
      const insert = db.prepare("INSERT INTO instances (id, doc) VALUES (?, ?)");
      for (const doc of docs) insert.run(String(doc._id), JSON.stringify(doc));
      db.exec("COMMIT");
    } finally {
      db.close();
    }
    return Promise.resolve();
  };
  return {
    open: () => openStore(`sqlite:${path}`),
    seedFreeInstances: (count, host, offset) => bulk(freeInstances(count, host, offset)),
    seedStaleInstances: (count, ping) => bulk(staleInstances(count, ping)),
    dispose: () => Deno.remove(dir, { recursive: true }),
  };
}

async function mongoTarget(): Promise<{ target: Target } | { skip: string }> {
  const started = await startMongo().catch((error: Error) => ({
    ok: false as const,
    reason: error.message,
  }));
  if (!started.ok) return { skip: started.reason };
  const server = started.server;
  const db = `rg_bench_${crypto.randomUUID().slice(0, 8)}`;
  const client = new MongoClient(server.uri);
  await client.connect();
  const instances = client.db(db).collection<{ _id: ObjectId }>("instances");
  const bulk = async (docs: Record<string, unknown>[]) => {
    await instances.insertMany(docs.map((doc) => ({ ...doc, _id: new ObjectId(String(doc._id)) })));
  };
  return {
    target: {
      open: () => openStore(server.uri, { db }),
      seedFreeInstances: (count, host, offset) => bulk(freeInstances(count, host, offset)),
      seedStaleInstances: (count, ping) => bulk(staleInstances(count, ping)),
      async dispose() {
        await client.db(db).dropDatabase().catch(() => {});
        await client.close();
        await server.stop();
      },
    },
  };
}

function hexId(n: number, prefix: string): string {
  return (prefix + n.toString(16)).padStart(24, "0").slice(-24);
}

function freeInstances(count: number, host: string, offset: number): Record<string, unknown>[] {
  return Array.from({ length: count }, (_, n) => ({
    _id: hexId(offset + n, "a1"),
    path: `C:/mt5/free-${n}`,
    host,
    port: 15_000 + 2 * n,
    status: "FREE",
    element_id: null,
    lease: null,
    last_ping: null,
    pid: null,
  }));
}

function staleInstances(count: number, ping: number): Record<string, unknown>[] {
  return Array.from({ length: count }, (_, n) => ({
    _id: hexId(n, "b2"),
    path: `C:/mt5/stale-${n}`,
    host: `reap-${n % 10}`,
    port: 15_000 + 2 * Math.floor(n / 10),
    status: "OCCUPIED",
    element_id: `gone-${n}`,
    lease: 1,
    last_ping: ping,
    pid: 1000 + n,
  }));
}

function show(figures: Figures | string, pick: (f: Figures) => string): string {
  return typeof figures === "string" ? figures : pick(figures);
}

const sqlite = await measure(await sqliteTarget());
const mongoSetup = await mongoTarget();
const mongo: Figures | string = "skip" in mongoSetup ? "skipped" : await measure(mongoSetup.target);
const mongoLabel = "skip" in mongoSetup
  ? "mongodb"
  : Deno.env.get("MONGODB_URI")
  ? "mongodb (MONGODB_URI)"
  : "mongodb (mongo-java-server)";

const rows: [string, (f: Figures) => string, string][] = [
  [
    `claim ${CLAIMS.toLocaleString("en")} elements (after ${WARMUP} warm-up)`,
    (f) => `${f.claimSeconds.toFixed(2)} s`,
    "< 5 s (both)",
  ],
  ["claims per second", (f) => f.claimsPerSecond.toFixed(0), ""],
  [`change feed p50 (insert -> event, n=${FEED_SAMPLES})`, (f) => `${f.feedP50.toFixed(1)} ms`, ""],
  ["change feed p99", (f) => `${f.feedP99.toFixed(1)} ms`, "< 100 ms (SQLite)"],
  [
    `reap ${REAP.toLocaleString("en")} stale instances`,
    (f) => `${f.reapMs.toFixed(0)} ms (${f.reaped} freed)`,
    "",
  ],
];
const header = ["metric", "sqlite", mongoLabel, "target"];
const table = [
  header,
  ...rows.map(([name, pick, target]) => [name, show(sqlite, pick), show(mongo, pick), target]),
];
const widths = header.map((_, i) => Math.max(...table.map((row) => row[i]!.length)));
for (const row of table) {
  console.log(row.map((cell, i) => cell.padEnd(widths[i]!)).join("  ").trimEnd());
}
if ("skip" in mongoSetup) console.log(`mongodb skipped: ${mongoSetup.skip}`);
const verdicts = [
  `SQLite claim ${sqlite.claimSeconds < 5 ? "meets" : "MISSES"} the 5 s target`,
  `SQLite feed p99 ${sqlite.feedP99 < 100 ? "meets" : "MISSES"} the 100 ms target`,
];
if (typeof mongo !== "string") {
  verdicts.push(`MongoDB claim ${mongo.claimSeconds < 5 ? "meets" : "MISSES"} the 5 s target`);
}
console.log(verdicts.join("; "));
