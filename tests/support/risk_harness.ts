/**
 * Runs the real risk process against an in-process simulator over real ZMTP on loopback, on a
 * real SQLite store in a temporary folder, and collects what happened.
 *
 * @module
 */
import type { ScenarioName } from "../../src/mt5/sim/scenarios.ts";
import type { SimTerminal } from "../../src/mt5/sim/simulator.ts";
import type { TerminalHandle } from "../../src/mt5/terminal.ts";
import {
  type RiskEvent,
  type RiskRunOptions,
  type RiskStatus,
  runRisk,
} from "../../src/risk/mod.ts";
import { openStore, type Store } from "../../src/store/mod.ts";

export { freePortPair } from "../../src/shared/net.ts";
import { freePortPair } from "../../src/shared/net.ts";

/** The login the simulator reports. */
export const SIM_LOGIN = 5_000_001;

/** Options of {@link runScenario}. */
export interface ScenarioRun {
  scenario: ScenarioName;
  /** Element fields besides server/login/password. */
  element: Record<string, unknown>;
  /** Stop once this returns true for a status (then wait `settleMs`), or after `maxMs`. */
  until?: (status: RiskStatus, events: readonly RiskEvent[]) => boolean;
  settleMs?: number;
  maxMs?: number;
  /** Simulated ms per real ms. */
  speed?: number;
  seed?: number;
  /** Wraps the store handed to the risk process (fault injection). */
  wrapStore?: (store: Store) => Store;
  /** Extra options of the risk process. */
  risk?: Partial<RiskRunOptions>;
  /** Called once the terminal is up. */
  onTerminal?: (terminal: TerminalHandle) => void;
}

/** What a scenario run produced. */
export interface ScenarioResult {
  events: RiskEvent[];
  statuses: RiskStatus[];
  sim: SimTerminal;
  store: Store;
  elementId: string;
  /** The error the risk process stopped with, if any. */
  error: unknown;
  /** Removes the temporary store. */
  cleanup(): Promise<void>;
}

/** Runs one scenario; call `cleanup()` on the result. */
export async function runScenario(run: ScenarioRun): Promise<ScenarioResult> {
  const dir = await Deno.makeTempDir({ prefix: "riskguard-test-" });
  const store = await openStore(`sqlite:${dir}/risk.db`);
  const instance = await store.addInstance({
    path: `sim:${run.scenario}`,
    host: "test-host",
    port: freePortPair(),
  });
  const inserted = await store.insertElement({
    server: "RiskGuard-Sim",
    login: SIM_LOGIN,
    password: "sim-password",
    ...run.element,
  });
  if (!inserted.ok) throw new Error(`test element refused: ${inserted.field} ${inserted.reason}`);
  const elementId = inserted.element.id;
  const events: RiskEvent[] = [];
  const statuses: RiskStatus[] = [];
  const stop = new AbortController();
  const maxTimer = setTimeout(() => stop.abort(), run.maxMs ?? 20_000);
  let settleTimer: ReturnType<typeof setTimeout> | undefined;
  let terminal: TerminalHandle | undefined;
  let error: unknown;
  try {
    await runRisk({
      store: run.wrapStore?.(store) ?? store,
      elementId,
      host: "test-host",
      instanceId: instance._id,
      signal: stop.signal,
      sim: { seed: run.seed ?? 7, speed: run.speed ?? 4 },
      timing: {
        metricsIntervalMs: 200,
        pingIntervalMs: 500,
        retryBaseMs: 300,
        ackTimeoutMs: 2_000,
        feedRetryMs: 200,
        ...run.risk?.timing,
      },
      ...run.risk,
      onEvent: (event) => events.push(event),
      onStatus: (status) => {
        statuses.push(status);
        if (settleTimer === undefined && run.until?.(status, events)) {
          settleTimer = setTimeout(() => stop.abort(), run.settleMs ?? 1_500);
        }
      },
      onTerminal: (handle) => {
        terminal = handle;
        run.onTerminal?.(handle);
      },
    });
  } catch (caught) {
    error = caught;
  } finally {
    clearTimeout(maxTimer);
    clearTimeout(settleTimer);
  }
  const sim = terminal?.sim?.terminal;
  if (sim === undefined && error === undefined) throw new Error("the simulator did not start");
  return {
    events,
    statuses,
    sim: sim as SimTerminal,
    store,
    elementId,
    error,
    cleanup: async () => {
      await store.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/** Events of one type. */
export function eventsOf(events: readonly RiskEvent[], type: string): RiskEvent[] {
  return events.filter((event) => event.type === type);
}
