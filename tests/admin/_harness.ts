/**
 * Real admin processes for the admin suite: `deno run -A main.ts --mode admin` on a test store
 * with shortened intervals (stale threshold 10 s, pings every second, reap every second), its
 * log lines collected, and helpers that wait for the store to reach a state.
 *
 * @module
 */
import assert from "node:assert/strict";
import { childEnv } from "../../src/shared/process.ts";
import { selfCommand } from "../../src/shared/self_command.ts";
import type { Element, EventRecord, Instance, Store } from "../../src/store/mod.ts";
import { type Adapter, type Fixture, mongoAdapter, sqliteAdapter } from "../store/_harness.ts";
import { instancePortPair } from "../support/ports.ts";

export { SIM_LOGIN } from "../support/risk_harness.ts";

/** Stale threshold of the suite, seconds (the smallest the configuration accepts). */
export const STALE_S = 10;

/** Shortened admin timings (ms) for the suite. */
export const FAST_ADMIN_ENV: Record<string, string> = {
  RISKGUARD_ADMIN_SWEEP_MS: "3000",
  RISKGUARD_ADMIN_REAP_MS: "1000",
  RISKGUARD_ADMIN_TABLE_MS: "60000",
  RISKGUARD_ADMIN_HEARTBEAT_MS: "1000",
  RISKGUARD_ADMIN_WAIT_POLL_MS: "500",
  RISKGUARD_ADMIN_STOP_TIMEOUT_MS: "8000",
  RISKGUARD_ADMIN_RESTART_BASE_MS: "200",
  RISKGUARD_ADMIN_RESTART_MAX_MS: "1000",
};

/** A running admin process. */
export interface AdminProcess {
  /** Its pid. */
  pid: number;
  /** Every log line so far. */
  lines: string[];
  /** Resolves with the exit code. */
  exited: Promise<number>;
  /** Sends a signal. */
  kill(signal: Deno.Signal): void;
  /** Waits for a log line matching `pattern`. */
  waitForLine(pattern: RegExp, timeoutMs?: number): Promise<string>;
}

/** Options of {@link startAdmin}. */
export interface StartAdminOptions {
  /** The test database. */
  fixture: Fixture;
  /** `--host`. */
  host: string;
  /** The control folder (one per host). */
  controlDir: string;
  /** More environment (e.g. another timing). */
  env?: Record<string, string>;
  /** `--stale-after` in seconds (default {@link STALE_S}). */
  staleS?: number;
  /** More command-line arguments (e.g. `--dashboard`). */
  args?: string[];
  /** More flags of `deno run` (e.g. `--cpu-prof`). */
  denoFlags?: string[];
}

/**
 * Starts `riskguard --mode admin` as a real process, the way admin starts its children under
 * `deno run` ({@link selfCommand}: the V8 flags the executable has built in, dynamic imports
 * loaded only when taken, as in the executable).
 */
export function startAdmin(options: StartAdminOptions): AdminProcess {
  const command = selfCommand([
    "--mode",
    "admin",
    "--store",
    options.fixture.spec,
    "--db",
    options.fixture.db,
    "--host",
    options.host,
    "--ping-interval",
    "1",
    "--stale-after",
    String(options.staleS ?? STALE_S),
    ...(options.args ?? []),
  ], { denoFlags: ["-A", ...(options.denoFlags ?? [])] });
  const child = new Deno.Command(command.path, {
    args: command.args,
    clearEnv: true,
    env: childEnv({
      ...FAST_ADMIN_ENV,
      RISKGUARD_CONTROL_DIR: options.controlDir,
      ...options.env,
    }),
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const lines: string[] = [];
  const waiters = new Set<() => void>();
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    let rest = "";
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      rest += chunk;
      const parts = rest.split("\n");
      rest = parts.pop()!;
      lines.push(...parts);
      for (const wake of waiters) wake();
    }
    if (rest !== "") lines.push(rest);
    for (const wake of waiters) wake();
  };
  const pumps = Promise.all([pump(child.stdout), pump(child.stderr)]);
  const exited = child.status.then(async (status) => {
    await pumps;
    return status.code;
  });
  return {
    pid: child.pid,
    lines,
    exited,
    kill: (signal) => {
      try {
        child.kill(signal);
      } catch {
        // gone already
      }
    },
    waitForLine: async (pattern, timeoutMs = 20_000) => {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        const line = lines.find((l) => pattern.test(l));
        if (line !== undefined) return line;
        await new Promise<void>((resolve) => {
          const timer = setTimeout(done, 200);
          waiters.add(done);
          function done() {
            clearTimeout(timer);
            waiters.delete(done);
            resolve();
          }
        });
      }
      throw new Error(
        `no log line matched ${pattern} within ${timeoutMs} ms:\n${lines.join("\n")}`,
      );
    },
  };
}

/** Stops an admin with SIGINT and asserts it exits 0. */
export async function stopAdmin(admin: AdminProcess): Promise<void> {
  admin.kill("SIGINT");
  const code = await admin.exited;
  assert.equal(code, 0, `admin exited ${code}:\n${admin.lines.slice(-30).join("\n")}`);
}

/** Polls `probe` until it returns a value other than `undefined`; fails after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    await new Promise((resolve) => setTimeout(resolve, 150));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${last}` : ""}`);
}

/** The valid element `id` (fails on an invalid or missing one). */
export async function element(store: Store, id: string): Promise<Element> {
  const parsed = await store.getElement(id);
  assert.ok(parsed !== null && parsed.valid, `element ${id} is missing or invalid`);
  return parsed.element;
}

/** Waits until the element is ACTIVE, held, and pinged within the last 3 s. */
export function waitGuarded(store: Store, id: string, timeoutMs = 20_000): Promise<Element> {
  return waitFor(`element ${id} guarded`, async () => {
    const e = await element(store, id);
    const fresh = e.last_ping !== null && Date.now() - e.last_ping < 3_000;
    return e.status === "ACTIVE" && e.instance_id !== null && fresh ? e : undefined;
  }, timeoutMs);
}

/** Inserts a simulator account (login {@link SIM_LOGIN} unless given) and returns its id. */
export async function insertSimElement(
  store: Store,
  extra: Record<string, unknown> = {},
): Promise<string> {
  const result = await store.insertElement({
    server: "Sim-Demo",
    login: 5_000_001,
    password: "pw-never-logged",
    max_daily_loss: 500,
    ...extra,
  });
  assert.ok(result.ok, JSON.stringify(result));
  return result.element.id;
}

/** Adds `count` `sim:<scenario>` instances on `host`. */
export async function addSimInstances(
  store: Store,
  host: string,
  count: number,
  scenario = "calm",
): Promise<Instance[]> {
  const instances: Instance[] = [];
  for (let i = 0; i < count; i++) {
    const port = await instancePortPair(store);
    instances.push(await store.addInstance({ path: `sim:${scenario}`, host, port }));
  }
  return instances;
}

/** The pid in the control record of the child of `elementId`, or `undefined`. */
export async function childPid(controlDir: string, elementId: string): Promise<number | undefined> {
  try {
    const record = JSON.parse(await Deno.readTextFile(`${controlDir}/${elementId}.child.json`));
    return typeof record.pid === "number" ? record.pid : undefined;
  } catch {
    return undefined;
  }
}

/** Whether a process runs (Linux `/proc`). */
export function alive(pid: number): boolean {
  try {
    Deno.statSync(`/proc/${pid}`);
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return !/^\d+ \(.*\) Z/.test(stat); // a zombie is not running
  } catch {
    return false;
  }
}

/** Every risk process running for `elementId` (by command line), to spot duplicates. */
export function riskProcessesOf(elementId: string): number[] {
  const pids: number[] = [];
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    try {
      const cmd = Deno.readTextFileSync(`/proc/${entry.name}/cmdline`).split("\0");
      const i = cmd.indexOf("--element_id");
      if (i >= 0 && cmd[i + 1] === elementId && cmd.includes("risk") && alive(Number(entry.name))) {
        pids.push(Number(entry.name));
      }
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

/** Events of an element whose message matches `pattern`. */
export async function eventsMatching(
  store: Store,
  id: string,
  pattern: RegExp,
): Promise<EventRecord[]> {
  return (await store.listEvents(id, { limit: 500 })).filter((e) => pattern.test(e.message));
}

/**
 * What a wait that timed out saw of an account: its element, whether its process runs, its
 * latest events and, given admin's control folder, the child's last lines written there once no
 * admin read them (a failed drill says why, not only that it timed out).
 */
export async function describeAccount(
  store: Store,
  id: string,
  pid?: number,
  controlDir?: string,
): Promise<string> {
  const parsed = await store.getElement(id).catch((error) => error as Error);
  const doc = parsed instanceof Error
    ? `element unreadable (${parsed.message})`
    : parsed === null || !parsed.valid
    ? "element missing or invalid"
    : `status ${parsed.element.status}, trading ${parsed.element.trading}, last ping ${
      parsed.element.last_ping === null
        ? "never"
        : `${Date.now() - parsed.element.last_ping} ms ago`
    }, lease ${parsed.element.lease}`;
  const running = pid === undefined ? "" : `; process ${pid} ${alive(pid) ? "runs" : "is gone"}`;
  const events = await store.listEvents(id, { limit: 500 }).catch(() => []);
  const latest = events.slice(-6).map((e) => `${e.type}: ${e.message}`).join(" | ");
  // The child's own lines once no admin read them (`<element>.log` in the control folder).
  const orphan = controlDir === undefined
    ? ""
    : await Deno.readTextFile(`${controlDir}/${id}.log`).then(
      (text) => `; its last lines:\n${text.trimEnd().split("\n").slice(-15).join("\n")}`,
      () => "",
    );
  return `${doc}${running}; latest events: ${latest || "none"}${orphan}`;
}

/** The adapters of the suite: SQLite always, MongoDB when its test server starts. */
export async function adapters(): Promise<{ list: Adapter[]; skipped: string | undefined }> {
  const list: Adapter[] = [sqliteAdapter()];
  const mongo = await mongoAdapter();
  if ("skip" in mongo) {
    console.warn(`admin suite: MongoDB skipped: ${mongo.skip}`);
    return { list, skipped: mongo.skip };
  }
  list.push(mongo);
  return { list, skipped: undefined };
}

/** A fresh temp folder. */
export function tempDir(): Promise<string> {
  return Deno.makeTempDir({ prefix: "riskguard-admin-" });
}

/** The session id of process `pid` (Linux `/proc/<pid>/stat`, field 6). */
export function sessionOf(pid: number): number {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[3]);
}

/** Waits until process `pid` has ended. */
export function waitGone(pid: number, timeoutMs = 20_000): Promise<true> {
  return waitFor(
    `process ${pid} gone`,
    () => Promise.resolve(alive(pid) ? undefined : true),
    timeoutMs,
  );
}
