/**
 * Handshake fairness benchmark (issue 11 item 7): how long the real peer takes to connect and
 * deliver its first message to a PLAIN PULL socket (the bridge's setup) while another process
 * attacks the port with
 *
 * - slowloris: 40 connections each sending one greeting byte per second, reopened when dropped;
 * - junk flood: connections opened as fast as possible that send nothing.
 *
 * The peer is our PLAIN PUSH client (the EA's role); each sample is a fresh connection, from
 * `connect()` to the first message received, taken once the attack has run for a second.
 * Target: p99 below 100 ms under each attack.
 *
 * Run: `deno run -A bench/zmtp_handshake.ts` (or `deno task bench zmtp_handshake`).
 *
 * @module
 */
import { PullSocket, PushSocket } from "../src/mt5/zmtp/mod.ts";

const SAMPLES = Number(Deno.env.get("ZMTP_HANDSHAKE_SAMPLES") ?? 100);
const TARGET_MS = 100;
const TOKEN = "bench-token";

/** The attacking process: `--attack <slowloris|flood> <port>`. */
async function attack(kind: string, port: number): Promise<void> {
  const open = new Set<Deno.TcpConn>();
  const connect = async () => {
    try {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      open.add(conn);
      return conn;
    } catch {
      return undefined;
    }
  };
  const drop = (conn: Deno.TcpConn) => {
    open.delete(conn);
    try {
      conn.close();
    } catch {
      // Closed by the server.
    }
  };
  if (kind === "slowloris") {
    for (let i = 0; i < 40; i++) {
      void (async () => {
        for (;;) {
          const conn = await connect();
          if (conn === undefined) continue;
          try {
            for (let at = 0; at < 64; at++) {
              await conn.write(Uint8Array.of(at === 0 ? 0xff : 0));
              await new Promise((resolve) => setTimeout(resolve, 1_000));
            }
          } catch {
            // Dropped by the server: open another.
          }
          drop(conn);
        }
      })();
    }
  } else {
    for (;;) {
      const conn = await connect();
      while (open.size > 500) drop(open.values().next().value!);
      if (conn === undefined) await new Promise((resolve) => setTimeout(resolve, 1));
    }
  }
  console.log("attacking");
  await new Promise(() => {});
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? NaN;
}

async function sample(port: number, pull: PullSocket): Promise<number> {
  const push = new PushSocket({
    mechanism: { type: "plain", role: "client", username: "riskguard", password: TOKEN },
    reconnectIntervalMs: 10,
    reconnectMaxIntervalMs: 100,
  });
  const started = performance.now();
  push.connect(`tcp://127.0.0.1:${port}`);
  await push.send("hello");
  await pull.receive();
  const elapsed = performance.now() - started;
  await push.close();
  return elapsed;
}

async function measure(kind: string | undefined): Promise<{ ms: number[]; evictions: number }> {
  const pull = new PullSocket({
    mechanism: {
      type: "plain",
      role: "server",
      authenticate: (user, pass) => user === "riskguard" && pass === TOKEN,
    },
    handshakeTimeoutMs: 5_000,
  });
  await pull.bind("tcp://127.0.0.1:0");
  let child: Deno.ChildProcess | undefined;
  try {
    if (kind !== undefined) {
      child = new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", new URL(import.meta.url).pathname, "--attack", kind, `${pull.port}`],
        stdout: "null",
        stderr: "inherit",
      }).spawn();
      // Let the attack fill the pending-handshake queue and reach its steady rate first.
      const deadline = Date.now() + 10_000;
      while (pull.stats.connections < 60 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      await new Promise((resolve) => setTimeout(resolve, 1_000));
    }
    const ms: number[] = [];
    for (let i = 0; i < SAMPLES; i++) ms.push(await sample(pull.port, pull));
    return { ms, evictions: pull.stats.evictions };
  } finally {
    try {
      child?.kill("SIGKILL");
    } catch {
      // Already gone.
    }
    await child?.status;
    await pull.close();
  }
}

async function main(): Promise<void> {
  console.log(
    `ZMTP handshake under attack: PLAIN PUSH -> PULL on 127.0.0.1, ${SAMPLES} fresh ` +
      `connections each, connect() to first message received`,
  );
  console.log(
    "attack".padEnd(34) + "p50 ms".padStart(9) + "p99 ms".padStart(9) + "max ms".padStart(9) +
      "evictions".padStart(11) + "  target",
  );
  for (
    const [label, kind] of [
      ["none", undefined],
      ["40 slowloris (1 byte/s)", "slowloris"],
      ["junk flood (idle connections)", "flood"],
    ] as const
  ) {
    const { ms, evictions } = await measure(kind);
    const p99 = percentile(ms, 0.99);
    console.log(
      label.padEnd(34) + percentile(ms, 0.5).toFixed(1).padStart(9) + p99.toFixed(1).padStart(9) +
        Math.max(...ms).toFixed(1).padStart(9) + `${evictions}`.padStart(11) +
        `  p99 < ${TARGET_MS} ms ${p99 < TARGET_MS ? "(met)" : "(MISSED)"}`,
    );
  }
}

if (Deno.args[0] === "--attack") await attack(Deno.args[1]!, Number(Deno.args[2]));
else await main();
