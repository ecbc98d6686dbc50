/**
 * Dashboard benchmark: store change -> row update on the dashboard's live stream (p50/p99 over
 * 100 changes, on SQLite; target p99 < 500 ms), for state changes (delivered by the change
 * feed) and for metrics-only writes (delivered by the once-a-second refresh), and the RSS of
 * a dashboard with 100 accounts and 10 open streams.
 *
 * The latency is measured at the SSE client (what a browser's EventSource receives), on all
 * ten streams; the browser's DOM swap adds well under a millisecond per row.
 *
 * A state change once took a whole refresh period (~1 010 ms) now and then: the refresh took
 * whole documents, so it could publish a lock the feed had not delivered yet; when the unlock
 * followed before the feed looked the element up, the feed saw no difference from what it had
 * last delivered and stayed silent, and the row kept the lock until the next refresh. The
 * refresh now carries only the figures the feed skips (see `src/dashboard/fleet_hub.ts`;
 * `tests/dashboard/fleet_hub_test.ts` reproduces the case).
 *
 * Run: `deno run -A bench/dashboard.ts` (or `deno task bench dashboard`).
 *
 * @module
 */
import { serveDashboard } from "../src/dashboard/mod.ts";
import { type LeaseRef, openStore } from "../src/store/mod.ts";

const ACCOUNTS = 100;
const STREAMS = 10;
const CHANGES = 100;

const dir = await Deno.makeTempDir({ prefix: "riskguard-bench-dash-" });
const store = await openStore(`sqlite:${dir}/bench.db`);
const stop = new AbortController();
try {
  const now = Date.now();
  const leases: LeaseRef[] = [];
  for (let i = 0; i < ACCOUNTS; i++) {
    const inserted = await store.insertElement({
      server: "Bench",
      login: 100_000 + i,
      password: "bench-password",
      max_daily_loss: "5%",
      max_drawdown: { limit: "10%", mode: "trailing_equity" },
    });
    if (!inserted.ok) throw new Error(inserted.reason);
    await store.addInstance({ path: `sim:calm`, host: `vps-${i % 5}`, port: 30_000 + 2 * i });
    const lease = await store.claimFreeInstance(inserted.element.id, `vps-${i % 5}`, now);
    await store.updateElement(lease, {
      metrics: {
        balance: 10_000,
        equity: 10_000,
        daily_pl: 0,
        positions: 1,
        orders: 0,
        updated_at: now,
      },
      day: {
        date: "2025-01-01",
        start_balance: 1e4,
        start_equity: 1e4,
        high_equity: 1e4,
        baseline: 1e4,
      },
      peak: { initial_balance: 1e4, high_balance: 1e4, high_equity: 1e4, since: now },
    }, now);
    leases.push(lease);
  }
  const server = await serveDashboard({ store, listen: "127.0.0.1:0", signal: stop.signal });
  const base = server.url.replace(/\/$/, "");
  const streams = await Promise.all(
    Array.from({ length: STREAMS }, () => openStream(`${base}/api/stream`)),
  );

  const stateLatencies: number[] = [];
  const metricLatencies: number[] = [];
  for (let n = 0; n < CHANGES; n++) {
    // A state change, as a risk process writes a lock and then its release.
    const lease = leases[Math.floor(n / 2) % ACCOUNTS]!;
    const trading = n % 2 === 0 ? "LOCKED_DAY" : "ALLOWED";
    const start = performance.now();
    const arrivals = streams.map((s) =>
      s.waitFor((row) => row.id === lease.element_id && row.trading === trading)
    );
    await store.updateElement(lease, { trading }, Date.now());
    for (const at of await Promise.all(arrivals)) stateLatencies.push(at - start);
  }
  for (let n = 0; n < CHANGES; n++) {
    const lease = leases[n % ACCOUNTS]!;
    const equity = 10_000 - n - 1;
    const start = performance.now();
    const arrivals = streams.map((s) =>
      s.waitFor((row) => row.id === lease.element_id && row.equity === equity)
    );
    const at = Date.now();
    await store.updateElement(lease, {
      metrics: {
        balance: 10_000,
        equity,
        daily_pl: equity - 10_000,
        positions: 1,
        orders: 0,
        updated_at: at,
      },
    }, at);
    for (const arrived of await Promise.all(arrivals)) metricLatencies.push(arrived - start);
  }
  const rssMb = Deno.memoryUsage().rss / 1024 / 1024;

  console.log(`accounts ${ACCOUNTS}, open streams ${STREAMS}, changes ${CHANGES} (SQLite)`);
  console.log(
    `state change -> row on every stream: p50 ${p(stateLatencies, 50)} ms, p99 ${
      p(stateLatencies, 99)
    } ms (target p99 < 500 ms: ${verdict(stateLatencies, 500)})`,
  );
  console.log(
    `metrics-only write -> row:            p50 ${p(metricLatencies, 50)} ms, p99 ${
      p(metricLatencies, 99)
    } ms (refresh every 1 000 ms: expected <= ~1 000 ms)`,
  );
  console.log(
    `RSS with ${ACCOUNTS} accounts and ${STREAMS} streams: ${rssMb.toFixed(0)} MB ` +
      "(this process: dashboard + store + the bench's stream clients)",
  );
  for (const s of streams) await s.close();
  stop.abort();
  await server.finished;
} finally {
  stop.abort();
  await store.close();
  await Deno.remove(dir, { recursive: true });
}

/** Whether the p99 of `values` is below `targetMs`. */
function verdict(values: number[], targetMs: number): string {
  return Number(p(values, 99)) < targetMs ? "met" : "MISSED";
}

function p(values: number[], percentile: number): string {
  const sorted = [...values].sort((a, b) => a - b);
  const index = Math.min(sorted.length - 1, Math.ceil(sorted.length * percentile / 100) - 1);
  return sorted[Math.max(0, index)]!.toFixed(1);
}

interface Row {
  id: string;
  trading: string | null;
  equity: number | null;
}

/** An SSE client that resolves waiters with the arrival time of matching rows. */
async function openStream(url: string) {
  const response = await fetch(url);
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  const waiters = new Set<{ match: (row: Row) => boolean; resolve: (at: number) => void }>();
  let buffer = "";
  const pump = (async () => {
    while (true) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value;
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        if (!block.startsWith("event: row")) continue;
        const data = block.split("\n").find((line) => line.startsWith("data:"));
        if (data === undefined) continue;
        const row = JSON.parse(data.slice(5)).row as Row;
        const at = performance.now();
        for (const waiter of waiters) {
          if (waiter.match(row)) {
            waiters.delete(waiter);
            waiter.resolve(at);
          }
        }
      }
    }
  })().catch(() => {});
  return {
    waitFor(match: (row: Row) => boolean): Promise<number> {
      return new Promise((resolve) => waiters.add({ match, resolve }));
    },
    async close() {
      await reader.cancel().catch(() => {});
      await pump;
    },
  };
}
