/**
 * `riskguard demo` end to end as a real process, through the production path: admin started as
 * a child on a temporary SQLite store, claiming three simulated terminals and launching their
 * risk processes. Checked from its output, from its store, and from the process table: nothing
 * of the demo survives it.
 */
import assert from "node:assert/strict";
import { childEnv } from "../../src/shared/process.ts";
import { MAIN_MODULE } from "../../src/shared/self_command.ts";
import { openStore } from "../../src/store/mod.ts";

/** A running `riskguard demo` with its stdout (not a terminal) collected. */
function startDemo(args: string[]) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN_MODULE.pathname, "demo", ...args],
    clearEnv: true,
    env: childEnv({ RISKGUARD_LOG_LEVEL: "warning" }),
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const out = { stdout: "", stderr: "" };
  const pump = async (stream: ReadableStream<Uint8Array>, key: "stdout" | "stderr") => {
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) out[key] += chunk;
  };
  const pumps = Promise.all([pump(child.stdout, "stdout"), pump(child.stderr, "stderr")]);
  const exited = child.status.then(async (status) => {
    await pumps;
    return status.code;
  });
  return { child, out, exited };
}

/** The store path the summary names. */
function storePath(stdout: string): string {
  const match = /^Store: (\S+) \(/m.exec(stdout);
  assert.ok(match, `no store path in:\n${stdout}`);
  return match[1]!;
}

/**
 * Running processes whose command line mentions any of `needles` (Linux `/proc`; zombies are
 * not running). Other OSes: `undefined` (the check is Linux only).
 */
function processesMentioning(needles: readonly string[]): string[] | undefined {
  if (Deno.build.os !== "linux") return undefined;
  const found: string[] = [];
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name) || Number(entry.name) === Deno.pid) continue;
    try {
      const cmdline = Deno.readTextFileSync(`/proc/${entry.name}/cmdline`).replaceAll("\0", " ");
      const stat = Deno.readTextFileSync(`/proc/${entry.name}/stat`);
      if (/^\d+ \(.*\) Z/.test(stat)) continue;
      if (needles.some((needle) => cmdline.includes(needle))) {
        found.push(`${entry.name}: ${cmdline}`);
      }
    } catch {
      // Ended meanwhile.
    }
  }
  return found;
}

/** Asserts that no process of the demo (admin, risk processes) runs any more. */
async function assertNothingLeft(dbPath: string): Promise<void> {
  const store = await openStore(`sqlite:${dbPath}`);
  let ids: string[];
  try {
    ids = [
      ...(await store.listElements()).map((e) => e.id),
      ...(await store.listInstances()).map((i) => i._id),
    ];
  } finally {
    await store.close();
  }
  const dir = dbPath.slice(0, dbPath.lastIndexOf("/"));
  const left = processesMentioning([dir, ...ids]);
  if (left === undefined) {
    console.warn("process-table check skipped: it reads /proc (Linux only)");
    return;
  }
  assert.deepEqual(left, [], "processes of the demo still running");
}

Deno.test({
  name: "demo --duration 60 --accounts 3: lock and flat, closed big trade, calm untouched, " +
    "nothing left running",
  fn: async () => {
    const demo = startDemo(["--duration", "60", "--accounts", "3"]);
    const code = await demo.exited;
    const { stdout, stderr } = demo.out;
    assert.equal(code, 0, `exit ${code}\n${stdout}\n${stderr}`);
    const db = storePath(stdout);
    try {
      assert.ok(!stdout.includes("\x1b"), "plain lines without a terminal: no escape codes");
      // Plain lines: one per event, the table every 10 s.
      assert.match(stdout, /LOCK +\[max_daily_loss\] LOCKED_DAY/);
      assert.match(stdout, /-- accounts after \d+ s --/);
      // A clean end is not explained by the child's last warning (the lock).
      assert.match(stdout, /risk process exited with code 0$/m);
      assert.doesNotMatch(stdout, /exited with code 0:/);
      // The summary tells the story.
      assert.match(stdout, /^5000001 calm: no breach, untouched; trading ALLOWED/m);
      assert.match(stdout, /^5000002 losing_day: 1 breach \(max_daily_loss\); trading LOCKED_DAY/m);
      assert.match(stdout, /max_daily_loss: locked and flat \d+ ms after the breaching snapshot/);
      assert.match(stdout, /final loss \d+\.\d\d against the limit 500\.00: overshoot/);
      assert.match(
        stdout,
        /^5000003 big_position: \d+ breach(es)? \(max_position_risk\); trading ALLOWED/m,
      );
      assert.match(
        stdout,
        /max_position_risk: position #\d+ closed \d+ ms after the breaching snapshot; the account stays tradable/,
      );
      assert.match(stdout, /^Logs: +\S+riskguard\.log$/m);
      assert.match(
        stdout,
        /^The same admin against MongoDB: riskguard --mode admin --store mongodb:/m,
      );
      // The store agrees: losing_day locked and flat, big_position flat of its big trade.
      const store = await openStore(`sqlite:${db}`);
      try {
        const elements = (await store.listElements()).flatMap((e) => e.valid ? [e.element] : []);
        const byLogin = new Map(elements.map((e) => [e.login, e]));
        assert.equal(byLogin.get(5_000_002)?.trading, "LOCKED_DAY");
        assert.equal(byLogin.get(5_000_002)?.metrics?.positions, 0);
        assert.equal(byLogin.get(5_000_001)?.trading, "ALLOWED");
        assert.equal(byLogin.get(5_000_003)?.trading, "ALLOWED");
        // Admin released every lease when it stopped.
        assert.deepEqual(elements.map((e) => e.instance_id), [null, null, null]);
      } finally {
        await store.close();
      }
      await assertNothingLeft(db);
    } finally {
      await Deno.remove(db.slice(0, db.lastIndexOf("/")), { recursive: true }).catch(() => {});
    }
  },
});

Deno.test({
  name: "demo: Ctrl+C (SIGINT) ends it with the summary and nothing left running",
  // Windows has no SIGINT to send to another process.
  ignore: Deno.build.os === "windows",
  fn: async () => {
    const demo = startDemo(["--accounts", "3", "--speed", "2"]);
    const deadline = Date.now() + 60_000;
    // Once the first table is printed, admin has claimed every account.
    while (!demo.out.stdout.includes("-- accounts after") && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    assert.ok(demo.out.stdout.includes("-- accounts after"), demo.out.stdout + demo.out.stderr);
    demo.child.kill("SIGINT");
    const code = await demo.exited;
    const { stdout, stderr } = demo.out;
    assert.equal(code, 0, `exit ${code}\n${stdout}\n${stderr}`);
    assert.match(stdout, /^Summary \(seed 7, speed 2\)$/m);
    assert.match(stdout, /^5000001 calm: /m);
    const db = storePath(stdout);
    try {
      await assertNothingLeft(db);
    } finally {
      await Deno.remove(db.slice(0, db.lastIndexOf("/")), { recursive: true }).catch(() => {});
    }
  },
});
