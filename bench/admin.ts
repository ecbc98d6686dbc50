/**
 * Admin benchmark, with real processes (`deno run -A main.ts --mode admin`, simulator accounts):
 *
 * - insert -> child started -> first ping: p50/p99 over `BENCH_ADMIN_INSERTS` (default 100)
 *   inserts, one at a time, on SQLite and on the MongoDB test server (target p99 < 2 s on SQLite);
 * - admin's RSS and CPU while it supervises 20 simulated accounts (targets: idle CPU < 2 %,
 *   RSS < 80 MB), and the total RSS of those 20 risk processes.
 *
 * Linux only (reads `/proc`). Figures are printed beside their targets.
 *
 * @module
 */
import { type Adapter, mongoAdapter, sqliteAdapter } from "../tests/store/_harness.ts";
import {
  addSimInstances,
  childPid,
  insertSimElement,
  startAdmin,
  stopAdmin,
  tempDir,
  waitFor,
  waitGuarded,
} from "../tests/admin/_harness.ts";

const INSERTS = Number(Deno.env.get("BENCH_ADMIN_INSERTS") ?? 100);
const ACCOUNTS = Number(Deno.env.get("BENCH_ADMIN_ACCOUNTS") ?? 20);

if (Deno.build.os !== "linux") {
  console.log("admin benchmark skipped: it reads /proc (Linux only)");
  Deno.exit(0);
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

function rssMb(pid: number): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return kb / 1024;
}

function cpuTicks(pid: number): number {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(fields[11]) + Number(fields[12]); // utime + stime
}

/** Insert -> first ping latencies, ms. */
async function insertToPing(adapter: Adapter): Promise<number[]> {
  const fixture = await adapter.fresh();
  const control = await tempDir();
  await addSimInstances(fixture.store, "bench", 2);
  const admin = startAdmin({ fixture, host: "bench", controlDir: control });
  const latencies: number[] = [];
  try {
    await admin.waitForLine(/element feed reconciled/);
    for (let i = 0; i < INSERTS; i++) {
      const start = Date.now();
      const id = await insertSimElement(fixture.store, { login: 6_000_000 + i });
      await waitFor("first ping", async () => {
        const parsed = await fixture.store.getElement(id);
        return parsed?.valid && parsed.element.last_ping !== null &&
            parsed.element.last_ping >= start
          ? true
          : undefined;
      }, 30_000);
      latencies.push(Date.now() - start);
      const pid = await childPid(control, id);
      await fixture.store.removeElement(id, { force: true });
      // The next insert starts once this child is gone and its instance is free again.
      await waitFor("child gone", async () => {
        const free = await fixture.store.listInstances({ host: "bench", status: "FREE" });
        return free.length === 2 && (pid === undefined || !exists(`/proc/${pid}`))
          ? true
          : undefined;
      }, 30_000);
    }
  } finally {
    await stopAdmin(admin);
    await fixture.dispose();
    await Deno.remove(control, { recursive: true });
  }
  return latencies.sort((a, b) => a - b);
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

async function supervising(adapter: Adapter): Promise<void> {
  const fixture = await adapter.fresh();
  const control = await tempDir();
  await addSimInstances(fixture.store, "bench", ACCOUNTS);
  const admin = startAdmin({
    fixture,
    host: "bench",
    controlDir: control,
    // Production intervals: the figure is admin's idle cost as deployed (the children ping
    // every 10 s, the default, through admin's store channel; the harness's 1 s would serve ten
    // times the pings a VPS sees).
    args: ["--ping-interval", "10"],
    staleS: 300,
    env: {
      RISKGUARD_ADMIN_SWEEP_MS: "30000",
      RISKGUARD_ADMIN_REAP_MS: "60000",
      RISKGUARD_ADMIN_HEARTBEAT_MS: "10000",
      RISKGUARD_ADMIN_WAIT_POLL_MS: "2000",
    },
  });
  try {
    const ids: string[] = [];
    for (let i = 0; i < ACCOUNTS; i++) {
      ids.push(await insertSimElement(fixture.store, { login: 7_000_000 + i }));
    }
    for (const id of ids) await waitGuarded(fixture.store, id, 60_000);
    await new Promise((resolve) => setTimeout(resolve, 3_000)); // settle after the starts
    const hz = 100; // USER_HZ on Linux
    const seconds = 20;
    const before = cpuTicks(admin.pid);
    await new Promise((resolve) => setTimeout(resolve, seconds * 1_000));
    const cpu = ((cpuTicks(admin.pid) - before) / hz) / seconds * 100;
    const adminRss = rssMb(admin.pid);
    let childrenRss = 0;
    for (const id of ids) {
      const pid = await childPid(control, id);
      if (pid !== undefined) childrenRss += rssMb(pid);
    }
    console.log(
      `${adapter.name}: admin CPU while supervising ${ACCOUNTS} accounts (pings every 10 s): ${
        cpu.toFixed(2)
      } % (target < 2 %)`,
    );
    console.log(`${adapter.name}: admin RSS: ${adminRss.toFixed(1)} MB (target < 80 MB)`);
    console.log(
      `${adapter.name}: total RSS of the ${ACCOUNTS} risk processes: ${
        childrenRss.toFixed(0)
      } MB (${(childrenRss / ACCOUNTS).toFixed(1)} MB each; no target)`,
    );
  } finally {
    await stopAdmin(admin);
    await fixture.dispose();
    await Deno.remove(control, { recursive: true });
  }
}

const adapters: Adapter[] = [sqliteAdapter()];
const mongo = await mongoAdapter();
if ("skip" in mongo) console.log(`MongoDB skipped: ${mongo.skip}`);
else adapters.push(mongo);

for (const adapter of adapters) {
  const latencies = await insertToPing(adapter);
  const target = adapter.name === "sqlite" ? " (target p99 < 2000 ms)" : " (no target)";
  console.log(
    `${adapter.name}: insert -> child started -> first ping over ${latencies.length} inserts: ` +
      `p50 ${percentile(latencies, 50)} ms, p99 ${percentile(latencies, 99)} ms${target}`,
  );
}
await supervising(adapters[0]!);
for (const adapter of adapters) await adapter.stop();
