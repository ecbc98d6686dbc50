/**
 * Fleet benchmark (issue 16): one admin guarding `BENCH_FLEET_ACCOUNTS` (default 50) simulated
 * accounts on the MongoDB test server, with real processes (`main.ts --mode admin`, which starts
 * one `--mode risk` child per account; each child starts its simulator as a process of its own,
 * as a real terminal is). Prints each figure beside its target:
 *
 * - TCP connections to MongoDB held by admin and its children, counted at the OS level
 *   (`/proc/net/tcp`), with the server's own count; change-stream cursors open on the server
 *   (`serverStatus` `metrics.cursor.open.total` while idle);
 * - RSS of the risk children (average, largest), of admin, and the fleet's sum; PSS beside RSS
 *   (RSS counts the pages of the deno binary shared by every process once per process);
 * - insert -> first ping p50/p99 over `BENCH_FLEET_INSERTS` (default 10) accounts added one at
 *   a time while the others run;
 * - tick-to-command p99 (`bench/risk.ts`, 1,000 breaches) and the plugin round trip p99 on 200
 *   positions (`bench/rules.ts`), each run while the fleet runs.
 *
 * Heavy (50 deno processes): run it on its own, `deno task bench fleet`; it is not a test.
 * `BENCH_FLEET_PING_S` sets the children's ping interval (default 10 s, a VPS's default; the
 * test suite's is 1 s);
 * `BENCH_FLEET_ADMIN_PROFILE=<folder>` has admin write a V8 CPU profile there.
 * Linux only (reads `/proc`).
 *
 * @module
 */
import { MongoClient } from "mongodb";
import { mongoAdapter } from "../tests/store/_harness.ts";
import {
  childPid,
  insertSimElement,
  startAdmin,
  stopAdmin,
  tempDir,
  waitFor,
  waitGuarded,
} from "../tests/admin/_harness.ts";
import { connectionsTo, rssMb } from "../tests/support/proc_net.ts";
import { formatSimPathway } from "../src/mt5/sim/pathway.ts";

const ACCOUNTS = Number(Deno.env.get("BENCH_FLEET_ACCOUNTS") ?? 50);
const INSERTS = Number(Deno.env.get("BENCH_FLEET_INSERTS") ?? 10);
const HOST = "fleet-bench";
const HERE = new URL(".", import.meta.url);

if (Deno.build.os !== "linux") {
  console.log("fleet benchmark skipped: it reads /proc (Linux only)");
  Deno.exit(0);
}

const rows: string[] = [];

/** Prints one figure beside its target. */
function row(name: string, value: string, target = "", ok?: boolean): void {
  const verdict = ok === undefined ? "" : ok ? "ok" : "MISSED";
  const line = `${name.padEnd(52)} ${value.padStart(12)}   ${target.padEnd(10)} ${verdict}`;
  rows.push(line);
  console.log(line);
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)]!;
}

/** True when `port` and `port + 1` can be bound on 127.0.0.1 now. */
function portsFree(port: number): boolean {
  try {
    Deno.listen({ hostname: "127.0.0.1", port }).close();
    Deno.listen({ hostname: "127.0.0.1", port: port + 1 }).close();
    return true;
  } catch {
    return false;
  }
}

/** PSS of a process in MB (its share of pages shared with other processes). */
function pssMb(pid: number): number {
  try {
    const rollup = Deno.readTextFileSync(`/proc/${pid}/smaps_rollup`);
    return Number(/^Pss:\s+(\d+)/m.exec(rollup)?.[1] ?? 0) / 1024;
  } catch {
    return 0;
  }
}

/** A process's anonymous and file-backed resident memory, `anon / file` in MB. */
function adminRssParts(pid: number): string {
  try {
    const status = Deno.readTextFileSync(`/proc/${pid}/status`);
    const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+)`, "m").exec(status)?.[1]);
    return `${(kb("RssAnon") / 1024).toFixed(1)} / ${(kb("RssFile") / 1024).toFixed(1)}`;
  } catch {
    return "n/a";
  }
}

/** Runs another benchmark script while the fleet runs; returns its output. */
async function runScript(script: string, env: Record<string, string> = {}): Promise<string> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL(script, HERE).pathname],
    env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  return new TextDecoder().decode(output.stdout) + new TextDecoder().decode(output.stderr);
}

const adapter = await mongoAdapter();
if ("skip" in adapter) {
  console.log(`fleet benchmark skipped: ${adapter.skip}`);
  Deno.exit(0);
}
const fixture = await adapter.fresh();
const mongoPort = Number(new URL(fixture.spec.replace(/^mongodb:/, "http:")).port);
const observer = new MongoClient(fixture.spec, { maxPoolSize: 1 });
await observer.connect();
const control = await tempDir();
const { store } = fixture;
// The children ping every 10 s, as on a VPS, unless BENCH_FLEET_PING_S says otherwise (1: the
// test suite's timing); admin's CPU is mostly serving those pings.
const pingS = Deno.env.get("BENCH_FLEET_PING_S") ?? "10";
console.log(
  `fleet benchmark: ${ACCOUNTS} simulated accounts under one admin on the MongoDB test ` +
    `server, pings every ${pingS} s, Deno ${Deno.version.deno}, ` +
    `${navigator.hardwareConcurrency} cores`,
);

// Bridge ports below the kernel's ephemeral range (as a VPS's instances are, 15000 and up):
// with 50 children each making outgoing connections, a pair picked from the ephemeral range is
// soon taken by one of them and the child cannot bind.
for (let i = 0, port = 20_000 + 2 * Math.floor(Math.random() * 3_000); i < ACCOUNTS + INSERTS;) {
  port += 2;
  if (!portsFree(port)) continue;
  // The simulator runs in a process of its own, as an MT5 terminal does: a child's figures
  // are the risk process's alone.
  await store.addInstance({
    path: formatSimPathway("calm", { process: "child" }),
    host: HOST,
    port,
  });
  i++;
}
const ids: string[] = [];
for (let i = 0; i < ACCOUNTS; i++) {
  ids.push(await insertSimElement(store, { login: 5_200_000 + i }));
}
// Admin runs as the executable runs it: startAdmin gives it the V8 flags the executable has
// built in and lazy dynamic imports, as selfCommand gives its children. With
// BENCH_FLEET_ADMIN_PROFILE=<folder>, admin also writes a V8 CPU profile there when it stops.
const profileDir = Deno.env.get("BENCH_FLEET_ADMIN_PROFILE");
const admin = startAdmin({
  fixture,
  host: HOST,
  controlDir: control,
  // The table (and admin's memory line, printed at the end) every 20 s.
  env: { RISKGUARD_ADMIN_TABLE_MS: "20000" },
  // A lease is stale after six missed pings (the default's ratio: 10 s pings, 60 s).
  args: ["--ping-interval", pingS],
  staleS: 6 * Number(pingS),
  ...(profileDir === undefined
    ? {}
    : { denoFlags: ["--cpu-prof", `--cpu-prof-dir=${profileDir}`] }),
});
try {
  const started = Date.now();
  for (const id of ids) await waitGuarded(store, id, 600_000);
  console.log(
    `all ${ACCOUNTS} accounts guarded after ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
  await new Promise((resolve) => setTimeout(resolve, 10_000)); // settle
  const pids = await Promise.all(
    ids.map((id) => waitFor(`child of ${id}`, () => childPid(control, id))),
  );

  console.log(`\n${"figure".padEnd(52)} ${"measured".padStart(12)}   target`);
  // Connections and cursors.
  const counts = connectionsTo(mongoPort, [admin.pid, ...pids]);
  const total = [...counts.values()].reduce((sum, n) => sum + n, 0);
  const childrenWith = pids.filter((pid) => (counts.get(pid) ?? 0) > 0).length;
  row("TCP connections to MongoDB (admin + children, /proc)", String(total), "<= 12", total <= 12);
  row("  of which admin's", String(counts.get(admin.pid) ?? 0));
  row("  children holding any", `${childrenWith} of ${pids.length}`);
  const status = await observer.db("admin").command({ serverStatus: 1 });
  const cursors = Number(status.metrics?.cursor?.open?.total ?? NaN);
  row("change-stream cursors open on the server", String(cursors), "<= 2", cursors <= 2);

  // Memory (of the children running now: one may be between a restart).
  const running = pids.filter((pid) => rssMb(pid) !== undefined);
  const childRss = running.map((pid) => rssMb(pid) ?? 0).sort((a, b) => a - b);
  const childPss = running.map(pssMb);
  const adminRss = rssMb(admin.pid) ?? 0;
  const avg = childRss.reduce((sum, v) => sum + v, 0) / childRss.length;
  row("RSS of one risk child, average (MB)", avg.toFixed(1), "<= 45", avg <= 45);
  row(
    "RSS of one risk child, largest (MB)",
    childRss.at(-1)!.toFixed(1),
    "<= 45",
    childRss.at(-1)! <= 45,
  );
  row(
    "  PSS of one risk child, average (MB)",
    (childPss.reduce((sum, v) => sum + v, 0) / childPss.length).toFixed(1),
  );
  row("RSS of admin (MB)", adminRss.toFixed(1), "<= 100", adminRss <= 100);
  row("  admin RSS anonymous / file-backed (MB)", adminRssParts(admin.pid));
  const fleetRss = adminRss + childRss.reduce((sum, v) => sum + v, 0);
  const fleetPss = pssMb(admin.pid) + childPss.reduce((sum, v) => sum + v, 0);
  row(`fleet RSS sum, admin + ${running.length} children (MB)`, fleetRss.toFixed(0));
  row(`fleet PSS sum (MB)`, fleetPss.toFixed(0));

  // Where the CPU goes: each process's share of one core over 10 s.
  const ticks = (pid: number) => {
    try {
      const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      return Number(fields[11]) + Number(fields[12]); // utime + stime, 1/100 s
    } catch {
      return NaN;
    }
  };
  const before = [admin.pid, ...running].map(ticks);
  await new Promise((resolve) => setTimeout(resolve, 10_000));
  const used = [admin.pid, ...running].map((pid, i) => (ticks(pid) - before[i]!) / 10);
  const childCpu = used.slice(1).filter(Number.isFinite);
  row("CPU of admin (% of one core)", used[0]!.toFixed(1));
  row(
    "CPU of one risk child, average (% of one core)",
    (childCpu.reduce((sum, v) => sum + v, 0) / childCpu.length).toFixed(1),
  );

  // Insert -> first ping while the fleet runs.
  const latencies: number[] = [];
  for (let i = 0; i < INSERTS; i++) {
    const t0 = Date.now();
    const id = await insertSimElement(store, { login: 5_300_000 + i });
    await waitFor(`first ping of ${id}`, async () => {
      const parsed = await store.getElement(id);
      return parsed?.valid && parsed.element.status === "ACTIVE" &&
          parsed.element.last_ping !== null
        ? true
        : undefined;
    }, 60_000);
    latencies.push(Date.now() - t0);
  }
  latencies.sort((a, b) => a - b);
  row(`insert -> first ping p50 (ms, ${INSERTS} inserts)`, String(percentile(latencies, 0.5)));
  const insertP99 = percentile(latencies, 0.99);
  row("insert -> first ping p99 (ms)", String(insertP99), "< 2000", insertP99 < 2_000);

  // The enforcement path and plugins, measured while the fleet runs: breaches back to back,
  // then one every 50 ms (a real EA sends at most one snapshot per 250 ms timer period).
  for (const paceMs of [0, 50]) {
    const risk = await runScript("risk.ts", { BENCH_RISK_PACE_MS: String(paceMs) });
    const tick = /tick-to-command p99 \(ms\)\s+([\d.]+)/.exec(risk)?.[1];
    row(
      `tick-to-command p99 (ms, 1,000 breaches, ${
        paceMs === 0 ? "back to back" : `every ${paceMs} ms`
      })`,
      tick ?? "n/a",
      "< 2",
      tick === undefined ? false : Number(tick) < 2,
    );
    // The floor under the same load: a process that answers at once over the same sockets.
    const floor = /floor: ZMTP echo process p50 \/ p99 \(ms\)\s+[\d.]+ \/ ([\d.]+)/.exec(risk)?.[1];
    row("  floor: ZMTP echo process p99 (ms)", floor ?? "n/a");
  }
  const rules = await runScript("rules.ts");
  const plugin = /plugin round trip\s+p50 [\d.]+ ms\s+p99 ([\d.]+) ms/.exec(rules)?.[1];
  row(
    "plugin round trip p99 (ms, 200 positions, bench/rules.ts)",
    plugin ?? "n/a",
    "< 0.5",
    // The figure counts only when the plugin answered every snapshot (bench/rules.ts says so).
    plugin === undefined || /plugin round trip[^\n]*\n  NOT A ROUND TRIP/.test(rules)
      ? false
      : Number(plugin) < 0.5,
  );
  const pipeFloor = /bare-echo floor[^\n]*?p99 ([\d.]+) ms/.exec(rules)?.[1];
  row("  floor: bare echo of the same line p99 (ms)", pipeFloor ?? "n/a");
  // Admin's own memory line, every 20 s through the run: how its RSS moved, not only where.
  const memory = admin.lines.filter((line) => line.includes("admin memory:"));
  console.log(`admin's own figures (every 20 s, ${memory.length} lines):`);
  for (const line of memory) console.log(`  ${line.slice(line.indexOf("admin memory:"))}`);
  const restarts = (await store.listEvents(null, { limit: 10_000 })).filter((event) =>
    /restarts in/.test(event.message)
  ).length;
  console.log(`child restarts during the run: ${restarts}`);
  const load = Deno.readTextFileSync("/proc/loadavg").split(" ").slice(0, 3).join(" ");
  console.log(`\nload average at the end: ${load} (${navigator.hardwareConcurrency} cores)`);
} finally {
  await stopAdmin(admin).catch((error) => {
    console.log(`admin did not stop cleanly: ${error}`);
    admin.kill("SIGKILL");
  });
  await observer.close();
  await fixture.dispose();
  await adapter.stop();
  await Deno.remove(control, { recursive: true }).catch(() => {});
}
