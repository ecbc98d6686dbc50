/**
 * Starts the simulator for a `sim:<scenario>` pathway, in this process or as a child process.
 *
 * - `in_process` (default; tests and the demo): a {@link SimTerminal} + {@link SimEa} in this
 *   process (`in_process.ts`, imported only then); the handle gives access to the terminal's
 *   history.
 * - `child_process`: runs `riskguard sim --scenario ... --port ...` as a separate process, like
 *   a real terminal would be (the program itself, see `shared/self_command.ts`). Like a real
 *   terminal it starts with a cleared environment (`shared/process.ts`): the token is passed in
 *   the environment variable `RISKGUARD_SIM_TOKEN`, never on the command line, and nothing else
 *   of the risk process (no `RISKGUARD_SECRET_KEY`, no store URI) reaches it. Like a real
 *   terminal it outlives a risk process that is killed; it stops by itself when a new agent
 *   refuses its token, or after {@link CHILD_EXIT_WITHOUT_AGENT_S} s without an agent.
 *
 * @module
 */
import { childEnv, spawnProcess } from "../../shared/process.ts";
import { selfCommand } from "../../shared/self_command.ts";
import type { SimEa } from "./ea.ts";
import type { ScenarioName } from "./scenarios.ts";
import type { SimTerminal } from "./simulator.ts";

/** Where the simulator runs. */
export type SimLaunchMode = "in_process" | "child_process";

/** Options of {@link startSimulator}. */
export interface SimLaunchOptions {
  scenario: ScenarioName;
  /** Agent base port. */
  port: number;
  /** Agent command port (default `port + 1`); in-process only. */
  commandPort?: number;
  /** PLAIN token. */
  token: string;
  /** Seed (default 1). */
  seed?: number;
  /** Simulated ms per real ms (default 1). */
  speed?: number;
  /** Real ms per trade request (default 150). */
  execDelayMs?: number;
  /** EA timer (default 100 ms) and heartbeat (default 1000 ms). */
  timerMs?: number;
  heartbeatMs?: number;
  /** Account number (default 5000001). */
  login?: number;
  /** Default `in_process`. */
  mode?: SimLaunchMode;
  /** Truth log file (see `truth_log.ts`); off by default. */
  truthLog?: string;
  /** Fault trigger file the simulated EA polls (see `ea.ts`); off by default. */
  faultFile?: string;
  /** Script to run for a child under `deno run` (default: the repository's main.ts). */
  mainPath?: string;
}

/** A running simulator. */
export interface SimHandle {
  /** Child process id, undefined in process. */
  readonly pid: number | undefined;
  /** The simulated terminal (in process only): positions, history. */
  readonly terminal: SimTerminal | undefined;
  /** The simulated EA (in process only): counters. */
  readonly ea: SimEa | undefined;
  /** Stops the simulator (kills the child). */
  stop(): Promise<void>;
  /** Resolves when the simulator has stopped (a child exited). */
  readonly done: Promise<void>;
}

/** The environment variable that carries the token to a child simulator. */
export const SIM_TOKEN_ENV = "RISKGUARD_SIM_TOKEN";

/** Starts a simulator. */
export async function startSimulator(options: SimLaunchOptions): Promise<SimHandle> {
  if ((options.mode ?? "in_process") !== "in_process") return startChild(options);
  // Imported here: a risk process whose simulator is a process of its own never loads it.
  const { startInProcess } = await import("./in_process.ts");
  return startInProcess(options);
}

/** Seconds without an agent after which a child simulator stops (`docs/protocol.md`, section 10). */
export const CHILD_EXIT_WITHOUT_AGENT_S = 30;

function startChild(options: SimLaunchOptions): SimHandle {
  const command = selfCommand([
    "sim",
    "--scenario",
    options.scenario,
    "--port",
    String(options.port),
    "--seed",
    String(options.seed ?? 1),
    "--speed",
    String(options.speed ?? 1),
    "--exec-delay",
    String(options.execDelayMs ?? 150),
    ...(options.timerMs === undefined ? [] : ["--timer", String(options.timerMs)]),
    ...(options.heartbeatMs === undefined ? [] : ["--heartbeat", String(options.heartbeatMs)]),
    ...(options.login === undefined ? [] : ["--login", String(options.login)]),
    ...(options.truthLog === undefined ? [] : ["--truth-log", options.truthLog]),
    ...(options.faultFile === undefined ? [] : ["--fault-file", options.faultFile]),
    // A simulator of its own process outlives a killed risk process: it stops when a new agent
    // refuses its token, or after this long without an agent.
    "--exit-without-agent",
    String(CHILD_EXIT_WITHOUT_AGENT_S),
  ], options.mainPath === undefined ? {} : { script: options.mainPath });
  const child = spawnProcess(command, {
    env: childEnv({ [SIM_TOKEN_ENV]: options.token }),
    stderr: "inherit",
  });
  const done = child.exited.then(() => {});
  return {
    pid: child.pid,
    terminal: undefined,
    ea: undefined,
    stop: async () => {
      child.kill("SIGTERM");
      await done;
    },
    done,
  };
}
