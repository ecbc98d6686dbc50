/**
 * A risk child that reaches the store through admin's channel, with real processes: admin's
 * side of the channel (`_channel_admin.ts`, its own process), a risk process started as admin
 * starts it (`--mode risk` with the channel in its environment) guarding a simulated account.
 *
 * - While admin lives, the child's writes go through it (the child is connected to it).
 * - admin is killed with SIGKILL before the account's loss: the child keeps enforcing, and
 *   the breach, the lock and the closes it records during the gap reach the store, directly
 *   with the child's own configuration (the fallback this design chose).
 * - On MongoDB, a child through admin never loads the MongoDB driver (its import map names a
 *   poison module instead), and still guards and pings.
 *
 * @module
 */
import assert from "node:assert/strict";
import { CHANNEL_ADDRESS_ENV, CHANNEL_TOKEN_ENV, openStore } from "../../src/store/mod.ts";
import type { Store } from "../../src/store/mod.ts";
import { freePortPair, SIM_LOGIN } from "../support/risk_harness.ts";
import { startMongo } from "../support/mongo_server.ts";
import { poisonedConfig } from "./_poisoned_config.ts";

const ROOT = new URL("../../", import.meta.url);
const MAIN = new URL("main.ts", ROOT).pathname;

/** A process whose output is read line by line and kept. */
class Proc {
  readonly child: Deno.ChildProcess;
  readonly lines: string[] = [];
  readonly #waiters = new Set<() => void>();
  readonly done: Promise<void>;

  constructor(args: string[], env: Record<string, string>) {
    this.child = new Deno.Command(Deno.execPath(), {
      args,
      cwd: ROOT.pathname,
      env: { NO_COLOR: "1", ...env },
      clearEnv: true,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.done = Promise.all([this.#read(this.child.stdout), this.#read(this.child.stderr)])
      .then(() => {});
  }

  async #read(stream: ReadableStream<Uint8Array>): Promise<void> {
    let buffer = "";
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      buffer += chunk;
      const parts = buffer.split("\n");
      buffer = parts.pop()!;
      this.lines.push(...parts);
      for (const wake of this.#waiters) wake();
    }
    if (buffer !== "") this.lines.push(buffer);
    for (const wake of this.#waiters) wake();
  }

  /** Waits for a line that matches; fails after `ms`. */
  async line(pattern: RegExp, ms = 30_000): Promise<RegExpExecArray> {
    const deadline = Date.now() + ms;
    for (;;) {
      for (const line of this.lines) {
        const match = pattern.exec(line);
        if (match !== null) return match;
      }
      assert.ok(Date.now() < deadline, `no line ${pattern} in:\n${this.lines.join("\n")}`);
      await new Promise<void>((resolve) => {
        const wake = () => {
          this.#waiters.delete(wake);
          resolve();
        };
        this.#waiters.add(wake);
        setTimeout(wake, 100);
      });
    }
  }

  async kill(): Promise<void> {
    try {
      this.child.kill("SIGKILL");
    } catch {
      // Already gone.
    }
    await this.child.status;
    await this.done;
  }
}

/** Polls `check` until it returns a value; fails after `ms`. */
async function until<T>(what: string, check: () => Promise<T | undefined>, ms = 30_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    assert.ok(Date.now() < deadline, `timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

async function seed(store: Store, scenario: string) {
  const instance = await store.addInstance({
    path: `sim:${scenario}`,
    host: "h",
    port: freePortPair(),
  });
  const inserted = await store.insertElement({
    server: "S",
    login: SIM_LOGIN,
    password: "p",
    max_daily_loss: 500,
  });
  assert.ok(inserted.ok);
  return { elementId: inserted.element.id, instanceId: instance._id };
}

function riskArgs(ids: { elementId: string; instanceId: string }, spec: string): string[] {
  return [
    "--mode",
    "risk",
    "--element_id",
    ids.elementId,
    "--instance",
    ids.instanceId,
    "--host",
    "h",
    "--store",
    spec,
    "--ping-interval",
    "1",
  ];
}

async function pinged(store: Store, id: string): Promise<number | undefined> {
  const parsed = await store.getElement(id);
  if (parsed?.valid !== true || parsed.element.status !== "ACTIVE") return undefined;
  return parsed.element.last_ping ?? undefined;
}

Deno.test("admin killed with SIGKILL: the child keeps enforcing and its writes reach the store", async () => {
  const dir = await Deno.makeTempDir({ prefix: "riskguard-channel-" });
  const spec = `sqlite:${dir}/store.db`;
  const store = await openStore(spec);
  const token = crypto.randomUUID();
  let admin: Proc | undefined;
  let risk: Proc | undefined;
  try {
    // `gap`: a 1-lot position loses 1 500 USD in one tick at 8 s, past the 500 USD limit.
    const ids = await seed(store, "gap");
    admin = new Proc(
      ["run", "-A", new URL("tests/store/_channel_admin.ts", ROOT).pathname, spec],
      { [CHANNEL_TOKEN_ENV]: token },
    );
    const address = (await admin.line(/^ADDRESS (\S+)/))[1]!;
    risk = new Proc(["run", "-A", MAIN, ...riskArgs(ids, spec)], {
      [CHANNEL_ADDRESS_ENV]: address,
      [CHANNEL_TOKEN_ENV]: token,
    });
    await admin.line(/^CONNECTIONS 1$/);
    await until("the first ping through admin", () => pinged(store, ids.elementId));
    assert.deepEqual(
      await store.listEvents(ids.elementId, { types: ["breach"] }),
      [],
      "no breach before admin dies",
    );

    await admin.kill();
    const killedAt = Date.now();

    // The child guards on: the breach, lock and closes after the kill are in the store.
    const breach = await until("a breach recorded after admin died", async () => {
      const events = await store.listEvents(ids.elementId, { types: ["breach"] });
      return events.find((event) => event.at >= killedAt);
    });
    assert.equal(breach.rule, "max_daily_loss");
    await until("the account locked and flat", async () => {
      const parsed = await store.getElement(ids.elementId);
      const element = parsed?.valid ? parsed.element : undefined;
      return element?.trading === "LOCKED_DAY" && element.metrics?.positions === 0
        ? true
        : undefined;
    });
    const after = await until("a ping after admin died", async () => {
      const last = await pinged(store, ids.elementId);
      return last !== undefined && last > killedAt ? last : undefined;
    });
    assert.ok(after > killedAt);
    await risk.line(/admin's store channel .* is gone/);
  } finally {
    await risk?.kill();
    await admin?.kill();
    await store.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a child through admin on MongoDB never loads the MongoDB driver", async () => {
  const mongo = await startMongo();
  if (!mongo.ok) {
    console.log(`SKIPPED channel child on MongoDB: ${mongo.reason}`);
    return;
  }
  const db = `rg_channel_${crypto.randomUUID().replaceAll("-", "").slice(0, 10)}`;
  const store = await openStore(mongo.server.uri, { db });
  const poison = await poisonedConfig();
  const token = crypto.randomUUID();
  let admin: Proc | undefined;
  let risk: Proc | undefined;
  try {
    const ids = await seed(store, "calm");
    admin = new Proc(
      ["run", "-A", new URL("tests/store/_channel_admin.ts", ROOT).pathname, mongo.server.uri, db],
      { [CHANNEL_TOKEN_ENV]: token },
    );
    const address = (await admin.line(/^ADDRESS (\S+)/))[1]!;
    risk = new Proc(
      [
        "run",
        "-A",
        "--no-lock",
        "--config",
        poison.config,
        MAIN,
        ...riskArgs(ids, mongo.server.uri),
        "--db",
        db,
      ],
      { [CHANNEL_ADDRESS_ENV]: address, [CHANNEL_TOKEN_ENV]: token },
    );
    await admin.line(/^CONNECTIONS 1$/);
    const first = await until("the first ping through admin", () => pinged(store, ids.elementId));
    await until("a second ping", async () => {
      const last = await pinged(store, ids.elementId);
      return last !== undefined && last > first ? last : undefined;
    });
    assert.ok(!risk.lines.some((line) => line.includes("POISON")), risk.lines.join("\n"));
  } finally {
    await risk?.kill();
    await admin?.kill();
    await store.close();
    await Deno.remove(poison.dir, { recursive: true });
    await mongo.server.stop();
  }
});
