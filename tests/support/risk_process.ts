/**
 * Fault drills on a real risk process: `deno run -A main.ts --mode risk` as its own process,
 * the simulator inside it writing a truth log (`sim:<scenario>?seed=..&speed=..&truth=..`),
 * shortened timings and an optional clock offset through the drill hooks
 * (`src/cli/_risk_drill_env.ts`), on a store given by its `--store` value.
 *
 * @module
 */
import { childEnv } from "../../src/shared/process.ts";
import { MAIN_MODULE } from "../../src/shared/self_command.ts";
import { formatSimPathway, type SimPathwayOptions } from "../../src/mt5/sim/pathway.ts";
import type { ScenarioName } from "../../src/mt5/sim/scenarios.ts";
import type { RiskTiming } from "../../src/risk/runner.ts";
import type { EventRecord, Store } from "../../src/store/mod.ts";
import {
  type AccountVerdict,
  checkAccount,
  describeVerdict,
  type OracleOptions,
  type OracleSettings,
  readTruthLog,
  type TruthLine,
} from "./oracle.ts";
import { instancePortPair } from "./ports.ts";

/** The login of drill accounts. */
export const DRILL_LOGIN = 5_000_001;

/** Timings of drill risk processes: alarms and retries in a few seconds, not minutes. */
export const DRILL_TIMING: Partial<RiskTiming> = {
  metricsIntervalMs: 200,
  retryBaseMs: 300,
  ackTimeoutMs: 2_000,
  feedRetryMs: 200,
  snapshotAlarmMs: 1_500,
  terminalRestartMs: 4_000,
  leaseStaleMs: 3_000,
};

/** An account set up for a drill: element, instance with a `sim:` pathway, truth log file. */
export interface DrillAccount {
  elementId: string;
  instanceId: string;
  /** The truth log the simulator writes. */
  truthPath: string;
  /** The element settings, for the oracle. */
  settings: OracleSettings;
}

/** Options of {@link addDrillAccount}. */
export interface DrillAccountOptions {
  scenario: ScenarioName;
  /** Element fields besides server/login/password (limits). */
  element: OracleSettings & Record<string, unknown>;
  /** Folder for the truth log. */
  dir: string;
  seed?: number;
  speed?: number;
  login?: number;
  host?: string;
  /** The instance's bridge base port (default {@link instancePortPair}). */
  port?: number;
  /** More simulator options of the pathway (fault file, separate process). */
  sim?: Pick<SimPathwayOptions, "faultFile" | "process" | "timerMs" | "heartbeatMs">;
}

/** Adds an element and its simulator instance to the store. */
export async function addDrillAccount(
  store: Store,
  options: DrillAccountOptions,
): Promise<DrillAccount> {
  const login = options.login ?? DRILL_LOGIN;
  const truthPath = `${options.dir}/truth-${login}.jsonl`;
  const host = options.host ?? "drill-host";
  const instance = await store.addInstance({
    path: formatSimPathway(options.scenario, {
      seed: options.seed ?? 7,
      speed: options.speed ?? 4,
      truthLog: truthPath,
      ...options.sim,
    }),
    host,
    port: options.port ?? await instancePortPair(store),
  });
  const inserted = await store.insertElement({
    server: "RiskGuard-Sim",
    login,
    password: "sim-password",
    ...options.element,
  });
  if (!inserted.ok) throw new Error(`drill element refused: ${inserted.field} ${inserted.reason}`);
  return {
    elementId: inserted.element.id,
    instanceId: instance._id,
    truthPath,
    settings: options.element,
  };
}

/** A running risk process. */
export interface RiskProcess {
  pid: number;
  /** Resolves with the exit code. */
  exited: Promise<number>;
  /** Everything it printed so far (for failure messages). */
  output(): string;
  kill(signal: Deno.Signal): void;
  /** SIGTERM, then the exit code (SIGKILL after 15 s). */
  stop(): Promise<number>;
}

/** Options of {@link startRiskProcess}. */
export interface StartRiskOptions {
  /** `--store` and `--db` of the store. */
  store: { spec: string; db: string };
  account: DrillAccount;
  host?: string;
  timing?: Partial<RiskTiming>;
  /** File whose number of ms shifts the process's clock. */
  clockOffsetFile?: string;
  /** `--rules` plugin files. */
  rules?: string[];
  /** `--log-level` (default `warning`). */
  logLevel?: string;
  /**
   * The script `deno run` starts (default `main.ts`) and flags before it (default none; the
   * soak passes the V8 flags and lazy imports a child started by admin gets).
   */
  script?: { path: string; denoFlags: readonly string[] };
  /** More environment variables. */
  env?: Record<string, string>;
}

/** Starts `riskguard --mode risk` for the account as a real process. */
export function startRiskProcess(options: StartRiskOptions): RiskProcess {
  const rules = (options.rules ?? []).flatMap((file) => ["--rules", file]);
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      ...(options.script?.denoFlags ?? []),
      "-A",
      options.script?.path ?? MAIN_MODULE.pathname,
      "--mode",
      "risk",
      "--element_id",
      options.account.elementId,
      "--instance",
      options.account.instanceId,
      "--store",
      options.store.spec,
      "--db",
      options.store.db,
      "--host",
      options.host ?? "drill-host",
      "--ping-interval",
      "1",
      "--stale-after",
      "10",
      "--log-level",
      options.logLevel ?? "warning",
      ...rules,
    ],
    clearEnv: true,
    env: childEnv({
      ...options.env,
      NO_COLOR: "1",
      RISKGUARD_RISK_TIMING: JSON.stringify({ ...DRILL_TIMING, ...options.timing }),
      ...(options.clockOffsetFile === undefined
        ? {}
        : { RISKGUARD_CLOCK_OFFSET_FILE: options.clockOffsetFile }),
    }),
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let text = "";
  const decoder = new TextDecoder();
  const pump = (stream: ReadableStream<Uint8Array>) =>
    stream.pipeTo(
      new WritableStream({
        write(chunk) {
          text += decoder.decode(chunk, { stream: true });
          if (text.length > 200_000) text = text.slice(-100_000);
        },
      }),
    ).catch(() => {});
  const pumps = Promise.all([pump(child.stdout), pump(child.stderr)]);
  const exited = child.status.then(async (status) => {
    await pumps;
    return status.signal === null ? status.code : 128 + signalNumber(status.signal);
  });
  return {
    pid: child.pid,
    exited,
    output: () => text,
    kill: (signal) => {
      try {
        child.kill(signal);
      } catch {
        // already gone
      }
    },
    async stop() {
      try {
        child.kill("SIGTERM");
      } catch {
        // already gone
      }
      const timer = setTimeout(() => {
        try {
          child.kill("SIGKILL");
        } catch {
          // gone
        }
      }, 15_000);
      try {
        return await exited;
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

function signalNumber(signal: Deno.Signal): number {
  return signal === "SIGKILL" ? 9 : signal === "SIGTERM" ? 15 : 0;
}

/** Polls `check` every 50 ms until it returns a value other than undefined/false. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 20_000,
  context: () => string = () => "",
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (true) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}\n${context()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The truth log's lines of every run so far (empty before the simulator started). */
export async function truthLines(path: string): Promise<TruthLine[]> {
  try {
    return (await readTruthLog(path)).flatMap((run) => [run.start, ...run.lines]);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return [];
    throw error;
  }
}

/** Every event of the element, oldest first. */
export function allEvents(store: Store, elementId: string): Promise<EventRecord[]> {
  return store.listEvents(elementId, { limit: 100_000 });
}

/** The oracle's verdict for a drill account, from its truth log and the store's events. */
export async function verdictOf(
  store: Store,
  account: DrillAccount,
  options: OracleOptions = {},
): Promise<{ verdict: AccountVerdict; summary: string; events: EventRecord[] }> {
  const runs = await readTruthLog(account.truthPath);
  const events = await allEvents(store, account.elementId);
  const verdict = checkAccount(runs, events, account.settings, options);
  return { verdict, summary: describeVerdict(verdict), events };
}

/** The state of the simulated account at the end of its truth log's last run. */
export async function lastAccountState(
  path: string,
): Promise<{ locked: boolean; positions: number; orders: number } | undefined> {
  const runs = await readTruthLog(path).catch(() => []);
  const run = runs.at(-1);
  if (run === undefined) return undefined;
  let locked = false;
  let positions = 0;
  let orders = 0;
  for (const line of run.lines) {
    if (line.type === "lock") locked = line.locked === true;
    if (line.type === "account" || line.type === "snapshot") {
      positions = Number(line.positions);
      orders = Number(line.orders);
    }
  }
  return { locked, positions, orders };
}
