/**
 * ZMTP benchmark: our PUSH/PULL (Deno) side by side with libzmq 4.3.5 (npm:zeromq under Node),
 * 1 KiB messages over 127.0.0.1.
 *
 * - PULL throughput: a libzmq PUSH (Node) feeds our PULL, vs the same libzmq PUSH feeding a
 *   libzmq PULL (Node). Each receiver runs under its own runtime.
 * - PUSH throughput: our PUSH feeds a libzmq PULL, vs a libzmq PUSH feeding the same libzmq PULL.
 * - Round trip: a PUSH/PULL ping-pong pair against a libzmq echo (Node); ours vs a libzmq pair.
 * - RSS of the process running each side.
 *
 * Throughput is end to end: from the moment the sender starts (after the handshake) to the
 * moment the receiver holds the last message; median of several runs. Because one side of each
 * pair is always a libzmq peer under Node, that peer can cap the end-to-end rate; the benchmark
 * therefore also prints the CPU cost of the side under test (messages per CPU-second of its
 * process: ours = the Deno process, libzmq = the Node process in the same role), which does not
 * depend on the peer's speed.
 *
 * Run: `deno run -A bench/zmtp.ts` (or `deno task bench zmtp`). Needs Node and the interop peer
 * (`npm ci --prefix tests/interop/node`).
 *
 * @module
 */
import process from "node:process";
import { PullSocket, PushSocket } from "../src/mt5/zmtp/mod.ts";

const NODE_DIR = new URL("../tests/interop/node/", import.meta.url);
const SCRIPT = new URL("bench_peer.mjs", NODE_DIR).pathname;
const COUNT = Number(Deno.env.get("ZMTP_BENCH_COUNT") ?? 200_000);
const RUNS = Number(Deno.env.get("ZMTP_BENCH_RUNS") ?? 3);
const SIZE = 1024;
const PINGS = 5_000;
const WARMUP = 500;
const MiB = 1024 * 1024;

interface Line {
  event: string;
  [key: string]: unknown;
}

/** A Node helper process speaking JSON lines. */
class NodeProc {
  #child: Deno.ChildProcess;
  #lines: Line[] = [];
  #waiters = new Set<() => void>();
  #reader: Promise<void>;
  #stdin: WritableStreamDefaultWriter<Uint8Array>;

  constructor(config: Record<string, unknown>) {
    this.#child = new Deno.Command("node", {
      args: [SCRIPT, JSON.stringify(config)],
      cwd: NODE_DIR.pathname,
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    this.#stdin = this.#child.stdin.getWriter();
    this.#reader = this.#read();
  }

  async waitFor(event: string, timeoutMs = 60_000): Promise<Line> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const line = this.#lines.find((l) => l.event === event);
      if (line !== undefined) return line;
      if (Date.now() > deadline) throw new Error(`node helper: no "${event}" in ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, 1_000);
        function done() {
          clearTimeout(timer);
          resolve();
        }
        this.#waiters.add(done);
      });
    }
  }

  async stop(): Promise<void> {
    try {
      await this.#stdin.close();
    } catch {
      // Already gone.
    }
    const timer = setTimeout(() => {
      try {
        this.#child.kill("SIGKILL");
      } catch {
        // Exited.
      }
    }, 5_000);
    await this.#child.status;
    clearTimeout(timer);
    await this.#reader;
  }

  async #read(): Promise<void> {
    let buffered = "";
    for await (const text of this.#child.stdout.pipeThrough(new TextDecoderStream())) {
      buffered += text;
      let newline: number;
      while ((newline = buffered.indexOf("\n")) >= 0) {
        const line = buffered.slice(0, newline).trim();
        buffered = buffered.slice(newline + 1);
        if (line !== "") this.#lines.push(JSON.parse(line) as Line);
      }
      const waiters = [...this.#waiters];
      this.#waiters.clear();
      for (const waiter of waiters) waiter();
    }
  }
}

let oursRss = 0;
function sampleRss(): void {
  oursRss = Math.max(oursRss, Deno.memoryUsage().rss);
}

/** A throughput run: end-to-end msgs/s and the CPU the side under test used (ms). */
interface Run {
  rate: number;
  cpuMs: number;
}

function cpuSince(since: { user: number; system: number }): number {
  const used = process.cpuUsage(since);
  return (used.user + used.system) / 1000;
}

/** libzmq PUSH -> our PULL. */
async function oursPull(): Promise<Run> {
  const pull = new PullSocket();
  await pull.bind("tcp://127.0.0.1:0");
  const sender = new NodeProc({
    mode: "push",
    endpoint: `tcp://127.0.0.1:${pull.port}`,
    count: COUNT,
    size: SIZE,
  });
  const cpu = process.cpuUsage();
  const start = Number((await sender.waitFor("start")).at);
  for (let i = 0; i < COUNT; i++) await pull.receive();
  const last = Date.now();
  const cpuMs = cpuSince(cpu);
  sampleRss();
  await sender.waitFor("sent");
  await sender.stop();
  await pull.close();
  return { rate: COUNT / ((last - start) / 1000), cpuMs };
}

/** our PUSH -> libzmq PULL. */
async function oursPush(): Promise<Run & { peerRss: number }> {
  const receiver = new NodeProc({
    mode: "pull",
    endpoint: "tcp://127.0.0.1:0",
    bind: true,
    count: COUNT,
  });
  const endpoint = String((await receiver.waitFor("ready")).endpoint);
  const push = new PushSocket();
  const connected = new Promise<void>((resolve) => push.on("connect", () => resolve()));
  push.connect(endpoint);
  await connected;
  const body = new Uint8Array(SIZE).fill(7);
  const cpu = process.cpuUsage();
  const start = Date.now();
  for (let i = 0; i < COUNT; i++) await push.send(body);
  sampleRss();
  const done = await receiver.waitFor("done");
  const cpuMs = cpuSince(cpu);
  await push.close();
  await receiver.stop();
  return {
    rate: COUNT / ((Number(done.last) - start) / 1000),
    cpuMs,
    peerRss: Number(done.rss),
  };
}

/** libzmq PUSH -> libzmq PULL (the reference for both directions). */
async function libzmqPair(): Promise<
  { rate: number; rss: number; pullCpuMs: number; pushCpuMs: number }
> {
  const receiver = new NodeProc({
    mode: "pull",
    endpoint: "tcp://127.0.0.1:0",
    bind: true,
    count: COUNT,
  });
  const endpoint = String((await receiver.waitFor("ready")).endpoint);
  const sender = new NodeProc({ mode: "push", endpoint, count: COUNT, size: SIZE });
  const start = Number((await sender.waitFor("start")).at);
  const done = await receiver.waitFor("done");
  const sent = await sender.waitFor("sent");
  await sender.stop();
  await receiver.stop();
  return {
    rate: COUNT / ((Number(done.last) - start) / 1000),
    rss: Math.max(Number(done.rss), Number(sent.rss)),
    pullCpuMs: Number(done.cpu),
    pushCpuMs: Number(sent.cpu),
  };
}

async function startEcho(): Promise<{ echo: NodeProc; into: string; from: string }> {
  const echo = new NodeProc({ mode: "echo", in: "tcp://127.0.0.1:0", out: "tcp://127.0.0.1:0" });
  const ready = await echo.waitFor("ready");
  return { echo, into: String(ready.in), from: String(ready.out) };
}

/** Our PUSH/PULL pair ping-ponging with a libzmq echo. */
async function oursRoundTrip(): Promise<number[]> {
  const { echo, into, from } = await startEcho();
  const push = new PushSocket();
  const pull = new PullSocket();
  let ready = 0;
  const connected = new Promise<void>((resolve) => {
    const count = () => ++ready === 2 && resolve();
    push.on("connect", count);
    pull.on("connect", count);
  });
  push.connect(into);
  pull.connect(from);
  await connected;
  const body = new Uint8Array(SIZE).fill(7);
  const us: number[] = [];
  for (let i = 0; i < WARMUP + PINGS; i++) {
    const started = performance.now();
    await push.send(body);
    await pull.receive();
    if (i >= WARMUP) us.push((performance.now() - started) * 1000);
  }
  sampleRss();
  await push.close();
  await pull.close();
  await echo.stop();
  return us;
}

/** A libzmq PUSH/PULL pair (Node) ping-ponging with the same libzmq echo. */
async function libzmqRoundTrip(): Promise<{ us: number[]; rss: number }> {
  const { echo, into, from } = await startEcho();
  const client = new NodeProc({
    mode: "pingpong",
    in: into,
    out: from,
    count: PINGS,
    warmup: WARMUP,
    size: SIZE,
  });
  const result = await client.waitFor("rtt");
  await client.stop();
  await echo.stop();
  return { us: result.us as number[], rss: Number(result.rss) };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
}

function pct(fraction: number): string {
  return `${Math.round(fraction * 100)} %`;
}

function fmt(n: number): string {
  return Math.round(n).toLocaleString("en-US");
}

function row(label: string, ours: string, ref: string, ratio: string, target: string): string {
  return label.padEnd(30) + ours.padStart(14) + ref.padStart(16) + ratio.padStart(9) + "  " +
    target;
}

async function main(): Promise<void> {
  try {
    Deno.statSync(new URL("node_modules/zeromq/package.json", NODE_DIR));
  } catch {
    console.log(
      "bench/zmtp: skipped, the Node libzmq peer is not installed " +
        "(npm ci --prefix tests/interop/node)",
    );
    return;
  }
  const pullRuns: Run[] = [];
  const pushRuns: Run[] = [];
  const refRates: number[] = [];
  const refPullCpu: number[] = [];
  const refPushCpu: number[] = [];
  let refRss = 0;
  for (let run = 0; run < RUNS; run++) {
    const reference = await libzmqPair();
    refRates.push(reference.rate);
    refPullCpu.push(reference.pullCpuMs);
    refPushCpu.push(reference.pushCpuMs);
    refRss = Math.max(refRss, reference.rss);
    pullRuns.push(await oursPull());
    const push = await oursPush();
    pushRuns.push(push);
    refRss = Math.max(refRss, push.peerRss);
  }
  const ours = await oursRoundTrip();
  const reference = await libzmqRoundTrip();
  refRss = Math.max(refRss, reference.rss);

  const ref = median(refRates);
  const pullRate = median(pullRuns.map((r) => r.rate));
  const pushRate = median(pushRuns.map((r) => r.rate));
  // Runs are paired (reference, ours PULL, ours PUSH back to back), so the ratio is the median of
  // the per-run ratios: less sensitive to a noisy machine than a ratio of medians.
  const pullRatio = median(pullRuns.map((r, i) => r.rate / refRates[i]!));
  const pushRatio = median(pushRuns.map((r, i) => r.rate / refRates[i]!));
  const busy = (r: Run) => (r.cpuMs * r.rate) / (COUNT * 1000);
  const perCpuSecond = (cpuMs: number) => COUNT / (cpuMs / 1000);
  const pullEff = [
    median(pullRuns.map((r) => perCpuSecond(r.cpuMs))),
    median(refPullCpu.map(perCpuSecond)),
  ] as const;
  const pushEff = [
    median(pushRuns.map((r) => perCpuSecond(r.cpuMs))),
    median(refPushCpu.map(perCpuSecond)),
  ] as const;
  const p50 = [percentile(ours, 0.5), percentile(reference.us, 0.5)] as const;
  const p99 = [percentile(ours, 0.99), percentile(reference.us, 0.99)] as const;
  console.log(
    `ZMTP PUSH/PULL, ${SIZE} B messages over 127.0.0.1; throughput: ${fmt(COUNT)} messages, ` +
      `median of ${RUNS} runs; round trip: ${fmt(PINGS)} pings after ${WARMUP} warm-up`,
  );
  console.log(
    `ours: TypeScript ZMTP on Deno ${Deno.version.deno}; reference: libzmq 4.3.5 ` +
      `(npm:zeromq 6.8.0) on Node`,
  );
  console.log(row("", "ours (Deno)", "libzmq (Node)", "ratio", "target"));
  console.log(
    row(
      "PULL throughput (msgs/s)",
      fmt(pullRate),
      fmt(ref),
      `x${pullRatio.toFixed(2)}`,
      ">= x1.50 (ours/libzmq)",
    ),
  );
  console.log(
    row(
      "PUSH throughput (msgs/s)",
      fmt(pushRate),
      fmt(ref),
      `x${pushRatio.toFixed(2)}`,
      ">= x1.50 (ours/libzmq)",
    ),
  );
  console.log(
    row(
      "PULL msgs per CPU-second",
      fmt(pullEff[0]),
      fmt(pullEff[1]),
      `x${(pullEff[0] / pullEff[1]).toFixed(2)}`,
      "receiver process CPU (user+sys)",
    ),
  );
  console.log(
    row(
      "PUSH msgs per CPU-second",
      fmt(pushEff[0]),
      fmt(pushEff[1]),
      `x${(pushEff[0] / pushEff[1]).toFixed(2)}`,
      "sender process CPU (user+sys)",
    ),
  );
  console.log(
    row(
      "round trip p50 (us)",
      fmt(p50[0]),
      fmt(p50[1]),
      `x${(p50[0] / p50[1]).toFixed(2)}`,
      "<= x1.50 (ours/libzmq)",
    ),
  );
  console.log(
    row(
      "round trip p99 (us)",
      fmt(p99[0]),
      fmt(p99[1]),
      `x${(p99[0] / p99[1]).toFixed(2)}`,
      "<= x1.50 (ours/libzmq)",
    ),
  );
  console.log(
    row(
      "peak RSS (MiB)",
      (oursRss / MiB).toFixed(1),
      (refRss / MiB).toFixed(1),
      `x${(oursRss / refRss).toFixed(2)}`,
      "(ours: the Deno bench process; libzmq: largest Node peer)",
    ),
  );
  console.log(
    `our process was busy ${pct(median(pullRuns.map(busy)))} of the PULL runs and ` +
      `${pct(median(pushRuns.map(busy)))} of the PUSH runs: below 100 % the libzmq peer, not our ` +
      `side, limits the end-to-end rate (then compare msgs per CPU-second)`,
  );
  console.log(
    `runs (msgs/s): ours PULL ${pullRuns.map((r) => fmt(r.rate)).join(", ")}; ours PUSH ` +
      `${pushRuns.map((r) => fmt(r.rate)).join(", ")}; libzmq ${refRates.map(fmt).join(", ")}`,
  );
}

await main();
