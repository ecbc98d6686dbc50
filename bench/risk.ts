/**
 * Risk process benchmark (`deno task bench risk`).
 *
 * 1. Tick-to-command latency: the real risk runner (SQLite store, bridge over loopback ZMTP with
 *    PLAIN, engine, executor) runs in a process of its own (`_risk_process.ts`, with the V8 flags
 *    admin gives its children), as on a VPS; this process plays the EA, built on our ZMTP
 *    sockets. Each round the EA pushes a snapshot with a new position whose loss at its stop
 *    exceeds `max_position_risk`, and measures, where the EA sees it, the time until the
 *    `close_position` command for that ticket arrives; it acks every command and starts the
 *    next round at once, or `BENCH_RISK_PACE_MS` after the last one started (a real EA sends
 *    at most one snapshot per timer period, 250 ms by default, 10 ms at the least). p50/p99
 *    over 1,000 breaches (after 1,000 warm-up rounds, back to back). Target: p99 < 2 ms with
 *    50 accounts running (issue 16; `bench/fleet.ts` runs this file beside a fleet, back to
 *    back and paced).
 * 2. RSS of one risk process: `riskguard --mode risk` really spawned on a `sim:calm` instance,
 *    its resident set read from /proc after 8 s.
 *
 * Evaluation time per snapshot (200 positions, 10 rules) is measured by `bench/rules.ts`.
 * Targets are printed next to the figures; nothing here fails on a missed target.
 *
 * @module
 */
import { encodeMessage, PLAIN_USERNAME, type Snapshot } from "../src/mt5/protocol.ts";
import { samplePosition, sampleSnapshot } from "../src/rules/samples.ts";
import { decodeCommand } from "../src/mt5/protocol.ts";
import { PullSocket, PushSocket } from "../src/mt5/zmtp/mod.ts";
import { forEachLine } from "../src/shared/lines.ts";
import { freePortPair } from "../src/shared/net.ts";
import { v8FlagsArgument } from "../src/shared/v8_flags.ts";
import { openStore } from "../src/store/mod.ts";

const ROUNDS = 1_000;
/**
 * Rounds run before any is timed, back to back even when pacing: a risk process runs for days,
 * and its figures are those of its code once V8 has compiled it (50 left the JIT's tier-ups in
 * the timed rounds).
 */
const WARMUP = 1_000;
/** Least ms from one round's start to the next (0: back to back). */
const PACE_MS = Number(Deno.env.get("BENCH_RISK_PACE_MS") ?? 0);
const LOGIN = 7_000_001;

const latencies = await measureTickToCommand();
const floor = await measureFloor();
const rss = await measureRiskProcessRss();

const p = (q: number) => percentile(latencies, q).toFixed(2);
const f = (q: number) => percentile(floor, q).toFixed(2);
console.log("\nrisk process                                   measured      target");
console.log(
  PACE_MS > 0
    ? `breaches: one every ${PACE_MS} ms (BENCH_RISK_PACE_MS)`
    : "breaches: back to back (each round starts once the last close is acked)",
);
console.log(`tick-to-command p50 (ms, ${ROUNDS} breaches)        ${p(0.5).padStart(8)}`);
console.log(`tick-to-command p99 (ms)                       ${p(0.99).padStart(8)}      < 2`);
console.log(`  floor: ZMTP echo process p50 / p99 (ms)      ${f(0.5).padStart(8)} / ${f(0.99)}`);
console.log(
  `RSS of one risk process (MB)                   ${
    rss === undefined ? "     n/a" : (rss / 1024 / 1024).toFixed(1).padStart(8)
  }      < 120`,
);

async function measureTickToCommand(): Promise<number[]> {
  const dir = await Deno.makeTempDir({ prefix: "riskguard-bench-" });
  const db = `${dir}/bench.db`;
  const store = await openStore(`sqlite:${db}`);
  const instance = await store.addInstance({
    path: "bench:scripted-ea",
    host: "bench",
    port: freePortPair(),
  });
  const inserted = await store.insertElement({
    server: "Bench",
    login: LOGIN,
    password: "bench",
    max_position_risk: "1%",
  });
  await store.close();
  if (!inserted.ok) throw new Error(`${inserted.field} ${inserted.reason}`);
  // Admin's part (the store behind the channel) and the risk runner, each in a process of its
  // own as on a VPS: the bench's event loop (the EA and the measurement) shares nothing with
  // them, and the risk process never writes the database itself.
  const token = crypto.randomUUID();
  const admin = spawnBenchProcess("./_store_process.ts", [db, token]);
  let child: Deno.ChildProcess | undefined;
  const results: number[] = [];
  try {
    const address = await firstLine(admin.stdout);
    if (address === undefined) throw new Error("the store process ended before it listened");
    child = spawnBenchProcess("./_risk_process.ts", [
      address,
      token,
      inserted.element.id,
      instance._id,
    ]);
    const bridge = await firstLine(child.stdout);
    if (bridge === undefined) throw new Error("the risk process ended before its bridge was up");
    const ea = JSON.parse(bridge) as { port: number; token: string };
    await scriptedEa(ea.port, ea.token, results);
  } finally {
    for (const process of [child, admin]) {
      if (process === undefined) continue;
      await process.stdin.close();
      await process.status;
    }
    await Deno.remove(dir, { recursive: true });
  }
  return results.slice(WARMUP);
}

/**
 * Starts one of the bench's `_*.ts` processes with the V8 flags riskguard's children get; it
 * stops when its stdin closes.
 */
function spawnBenchProcess(script: string, args: string[]): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", v8FlagsArgument(), new URL(script, import.meta.url).pathname, ...args],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
}

/** The first line of `stream`; the rest is read and dropped so the writer never blocks. */
async function firstLine(stream: ReadableStream<Uint8Array>): Promise<string | undefined> {
  let found: (line: string | undefined) => void = () => {};
  const line = new Promise<string | undefined>((resolve) => found = resolve);
  void forEachLine(stream, (text) => found(text)).then(() => found(undefined));
  return await line;
}

/**
 * The floor: the same snapshots sent to `_zmtp_echo_process.ts`, which answers each with one
 * command at once (same V8 flags, same sockets and mechanism as a risk process).
 */
async function measureFloor(): Promise<number[]> {
  const port = freePortPair();
  const token = crypto.randomUUID();
  const child = spawnBenchProcess("./_zmtp_echo_process.ts", [String(port), token]);
  const results: number[] = [];
  try {
    if (await firstLine(child.stdout) !== "ready") throw new Error("the echo process failed");
    const { push, pull } = connectEa(port, token);
    for (let round = 1, last = 0; round <= ROUNDS + WARMUP; round++) {
      if (round > WARMUP) await pace(last);
      const started = last = performance.now();
      await push.send(encodeMessage(snapshot(round, 100_000 + round)));
      await pull.receive();
      results.push(performance.now() - started);
    }
    await Promise.all([push.close(), pull.close()]);
  } finally {
    await child.stdin.close();
    await child.status;
  }
  return results.slice(WARMUP);
}

/** Waits until {@link PACE_MS} after `started` (a round's start), when pacing. */
async function pace(started: number): Promise<void> {
  const wait = started + PACE_MS - performance.now();
  if (PACE_MS > 0 && wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
}

/** The EA's sockets: PLAIN client, PUSH to `port`, PULL from `port + 1`. */
function connectEa(port: number, token: string): { push: PushSocket; pull: PullSocket } {
  const mechanism = {
    type: "plain" as const,
    role: "client" as const,
    username: PLAIN_USERNAME,
    password: token,
  };
  const push = new PushSocket({ mechanism });
  const pull = new PullSocket({ mechanism });
  push.connect(`tcp://127.0.0.1:${port}`);
  pull.connect(`tcp://127.0.0.1:${port + 1}`);
  return { push, pull };
}

/** An EA stand-in on the risk process's bridge. */
async function scriptedEa(port: number, token: string, results: number[]): Promise<void> {
  const { push, pull } = connectEa(port, token);
  const utc = Date.now();
  await push.send(encodeMessage({
    type: "hello",
    protocol: 1,
    ea_version: "bench",
    terminal_build: 0,
    login: LOGIN,
    server: "Bench",
    locked: false,
    server_time: utc,
    utc_time: utc,
  }));
  for (let round = 1, last = 0; round <= ROUNDS + WARMUP; round++) {
    const ticket = 100_000 + round;
    if (round > WARMUP) await pace(last);
    const started = last = performance.now();
    await push.send(encodeMessage(snapshot(round, ticket)));
    // Wait for the close of this ticket; ack every command on the way.
    while (true) {
      const [frame] = await pull.receive();
      const decoded = decodeCommand(frame!);
      if (!decoded.ok) continue;
      const command = decoded.value;
      if (command.type === "close_position" && command.ticket === ticket) {
        results.push(performance.now() - started);
      }
      await push.send(encodeMessage({ type: "ack", id: command.id, ok: true, retcode: 10009 }));
      if (command.type === "close_position" && command.ticket === ticket) break;
    }
  }
  await push.close();
  await pull.close();
}

/** A snapshot whose only position risks 1,000 USD at its stop: over 1 % of 10,000. */
function snapshot(seq: number, ticket: number): Snapshot {
  const utc = Date.now();
  const position = samplePosition({ ticket, sl: 1.09 }, utc); // 1,000 ticks of 1 USD
  const sample = sampleSnapshot({ utc, seq, positions: [position] });
  return { ...sample, account: { ...sample.account, login: LOGIN } };
}

async function measureRiskProcessRss(): Promise<number | undefined> {
  if (Deno.build.os !== "linux") return undefined;
  const dir = await Deno.makeTempDir({ prefix: "riskguard-bench-rss-" });
  const path = `${dir}/rss.db`;
  const store = await openStore(`sqlite:${path}`);
  const instance = await store.addInstance({ path: "sim:calm", host: "bench" });
  const inserted = await store.insertElement({
    server: "Bench",
    login: 5_000_001,
    password: "bench",
    max_daily_loss: "5%",
    max_position_risk: "2%",
  });
  await store.close();
  if (!inserted.ok) throw new Error(`${inserted.field} ${inserted.reason}`);
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL("../main.ts", import.meta.url).pathname,
      "--mode",
      "risk",
      "--element_id",
      inserted.element.id,
      "--instance",
      instance._id,
      "--store",
      `sqlite:${path}`,
      "--host",
      "bench",
      "--log-level",
      "warning",
    ],
    stdout: "null",
    stderr: "null",
  }).spawn();
  await new Promise((resolve) => setTimeout(resolve, 8_000));
  let rss: number | undefined;
  try {
    const status = await Deno.readTextFile(`/proc/${child.pid}/status`);
    const match = /VmRSS:\s+(\d+) kB/.exec(status);
    rss = match === null ? undefined : Number(match[1]) * 1024;
  } finally {
    child.kill("SIGTERM");
    await child.status;
    await Deno.remove(dir, { recursive: true });
  }
  return rss;
}

function percentile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
}
