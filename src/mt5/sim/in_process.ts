/**
 * The simulator in the risk process's own process (`in_process` mode of `launch.ts`; tests and
 * the demo), and the simulated terminal `riskguard sim` runs. A file of its own so that a risk
 * process whose simulator runs as a child process (as a real terminal does) never loads the
 * simulator's code: `launch.ts` imports this file only for `in_process`.
 *
 * @module
 */
import { systemClock } from "../../shared/clock.ts";
import { SimEa } from "./ea.ts";
import type { SimHandle, SimLaunchOptions } from "./launch.ts";
import { scenario as scenarioOf, type ScenarioName } from "./scenarios.ts";
import { SimTerminal } from "./simulator.ts";
import { TruthLog } from "./truth_log.ts";

/** Starts a simulated terminal and its EA in this process (`startSimulator`'s `in_process`). */
export function startInProcess(options: SimLaunchOptions): SimHandle {
  const { terminal, truth } = createTerminal({
    scenario: options.scenario,
    seed: options.seed ?? 1,
    execDelayMs: options.execDelayMs ?? 150,
    speed: options.speed ?? 1,
    ...(options.login === undefined ? {} : { login: options.login }),
    ...(options.truthLog === undefined ? {} : { truthLog: options.truthLog }),
  });
  const ea = new SimEa({
    ...(truth === undefined ? {} : {
      onSend: (message) => truth.sent(message),
      onFault: (fault) => truth.fault(terminal.time, fault),
      onLink: (up) => truth.link(terminal.time, up),
    }),
    ...(options.faultFile === undefined ? {} : { faultFile: options.faultFile }),
    terminal,
    port: options.port,
    token: options.token,
    ...(options.commandPort === undefined ? {} : { commandPort: options.commandPort }),
    ...(options.speed === undefined ? {} : { speed: options.speed }),
    ...(options.timerMs === undefined ? {} : { timerMs: options.timerMs }),
    ...(options.heartbeatMs === undefined ? {} : { heartbeatMs: options.heartbeatMs }),
  });
  ea.start();
  let resolveDone!: () => void;
  const done = new Promise<void>((resolve) => resolveDone = resolve);
  return {
    pid: undefined,
    terminal,
    ea,
    stop: async () => {
      await ea.stop();
      truth?.close(terminal.time);
      resolveDone();
    },
    done,
  };
}

/** What {@link createTerminal} needs. */
export interface CreateTerminalOptions {
  scenario: ScenarioName;
  seed: number;
  execDelayMs: number;
  /** Simulated ms per real ms (recorded in the truth log). */
  speed: number;
  login?: number;
  truthLog?: string;
}

/**
 * A simulated terminal starting now, with its truth log when one is asked for (the caller
 * passes `truth.sent` to the EA and closes the log when it stops).
 */
export function createTerminal(
  options: CreateTerminalOptions,
): { terminal: SimTerminal; truth: TruthLog | undefined } {
  const startUtc = Date.now();
  const login = options.login ?? 5_000_001;
  const truth = options.truthLog === undefined ? undefined : new TruthLog(options.truthLog, {
    start_utc: startUtc,
    server_offset: SIM_SERVER_OFFSET_MS,
    login,
    server: SIM_SERVER,
    scenario: options.scenario,
    seed: options.seed,
    speed: options.speed,
    balance: scenarioBalance(options.scenario),
  });
  const terminal = new SimTerminal({
    scenario: options.scenario,
    seed: options.seed,
    execDelayMs: options.execDelayMs,
    login,
    server: SIM_SERVER,
    serverOffsetMs: SIM_SERVER_OFFSET_MS,
    startUtc,
    ...(truth === undefined ? {} : { observer: truth, clock: systemClock }),
  });
  return { terminal, truth };
}

/** Trade server name of launched simulators. */
const SIM_SERVER = "RiskGuard-Sim";
/** Trade server clock of launched simulators: UTC + 2 h, as most brokers. */
const SIM_SERVER_OFFSET_MS = 2 * 3_600_000;

function scenarioBalance(name: ScenarioName): number {
  return scenarioOf(name).balance;
}
