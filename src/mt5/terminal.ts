/**
 * Prepares and starts a real MT5 terminal with the bridge EA, or the simulator for a
 * `sim:<scenario>` pathway.
 *
 * For a real terminal (Windows only):
 * 1. writes the startup configuration `<folder>/riskguard-startup.ini` (UTF-16LE with BOM, CRLF)
 *    with `[Common]` login/password/server, `[Experts]` switches and `[StartUp]` Expert +
 *    ExpertParameters;
 * 2. writes the EA preset `<folder>/MQL5/Presets/riskguard-<port>.set` (UCS-2 LE with BOM, CRLF)
 *    with the bridge port and the per-launch token;
 * 3. starts `<folder>/terminal64.exe /portable /config:<ini>`;
 * 4. once the EA has said hello ({@link TerminalHandle.helloReceived}), deletes both files:
 *    they hold the account password and the token;
 * 5. watches the process with the shared supervisor (`shared/supervise.ts`): whenever it ends
 *    (whatever its exit code: the terminal is not riskguard, so exit code 2 means nothing
 *    special) it writes the files again and restarts it with a growing delay (1 s, 2 s, 4 s ...
 *    60 s); the EA's hello resets the delay.
 *
 * The terminal starts with a cleared environment: the locations and locale of
 * `shared/process.ts`'s `childEnv` and what Windows and Wine need to run a program, never
 * `RISKGUARD_SECRET_KEY`, the store URI or anything else of the risk process. Every EA and script
 * a trader runs in that terminal sees only this environment.
 *
 * @module
 */
import { RiskGuardError } from "../shared/errors.ts";
import {
  BASE_ENV_NAMES,
  childEnv,
  type ChildProcess,
  type Spawner,
  spawnProcess,
} from "../shared/process.ts";
import { supervise, type SuperviseEvent } from "../shared/supervise.ts";
import type { ScenarioName } from "./sim/scenarios.ts";
import { parseSimPathway, type SimPathwayOptions } from "./sim/pathway.ts";
import { type SimHandle, type SimLaunchMode, startSimulator } from "./sim/launch.ts";

/** The EA's file name under `MQL5/Experts` (without `.ex5`). */
export const DEFAULT_EXPERT = "RiskGuardBridge";

/** File name of the startup configuration in the terminal folder. */
export const STARTUP_INI_NAME = "riskguard-startup.ini";

/** Error starting or watching a terminal (code `TERMINAL`). */
export class TerminalError extends RiskGuardError {
  /** Creates a terminal error. */
  constructor(message: string, options: { cause?: unknown } = {}) {
    super("TERMINAL", message, options);
  }
}

/** What goes into the startup configuration file. */
export interface StartupConfig {
  /** Trading account number. */
  login: number;
  /** Account password (kept only until the EA says hello). */
  password: string;
  /** Trade server name as in the broker's list, e.g. `MetaQuotes-Demo`. */
  server: string;
  /** EA path relative to `MQL5/Experts`, without extension (default `RiskGuardBridge`). */
  expert?: string;
  /** File name of the preset in `MQL5/Presets`. */
  presetName: string;
  /** Chart symbol the EA is attached to (default `EURUSD`). */
  symbol?: string;
  /** Chart period (default `M1`). */
  period?: string;
}

/** The EA inputs written to the preset. */
export interface BridgeInputs {
  /** Base port: the EA PUSHes to `port` and PULLs from `port + 1`. */
  port: number;
  /** PLAIN password of this launch. */
  token: string;
  /** EA timer period in ms (default 250). */
  timerMs?: number;
  /** Heartbeat interval in ms when nothing changed (default 1000). */
  heartbeatMs?: number;
}

/**
 * Renders the startup configuration (the text, before encoding). Lines end with CRLF. Values
 * are written verbatim: a password containing a line break is refused.
 */
export function renderStartupIni(config: StartupConfig): string {
  const values = [["password", config.password], ["server", config.server], [
    "symbol",
    config.symbol ?? "",
  ]];
  for (const [name, value] of values) {
    if (/[\r\n]/.test(value!)) {
      throw new TerminalError(`Cannot write startup ini: ${name} contains a line break`);
    }
  }
  const lines = [
    "[Common]",
    `Login=${config.login}`,
    `Password=${config.password}`,
    `Server=${config.server}`,
    "",
    "[Experts]",
    "AllowLiveTrading=1",
    "AllowDllImport=1",
    "Enabled=1",
    "Account=0",
    "Profile=0",
    "",
    "[StartUp]",
    `Expert=${config.expert ?? DEFAULT_EXPERT}`,
    `ExpertParameters=${config.presetName}`,
    `Symbol=${config.symbol ?? "EURUSD"}`,
    `Period=${config.period ?? "M1"}`,
    "",
  ];
  return lines.join("\r\n");
}

/** Renders the EA preset (`name=value` per input, CRLF). */
export function renderPreset(inputs: BridgeInputs): string {
  if (!/^[\x21-\x7e]+$/.test(inputs.token)) {
    throw new TerminalError("Cannot write preset: the token must be printable ASCII");
  }
  const lines = [
    "; riskguard bridge inputs, written per launch and deleted after the EA connects",
    `InpPort=${inputs.port}`,
    `InpToken=${inputs.token}`,
    `InpTimerMs=${inputs.timerMs ?? 250}`,
    `InpHeartbeatMs=${inputs.heartbeatMs ?? 1000}`,
    "",
  ];
  return lines.join("\r\n");
}

/** Encodes text as UTF-16 little endian, with a byte order mark (FF FE) unless told not to. */
export function encodeUtf16le(text: string, bom = true): Uint8Array {
  const offset = bom ? 2 : 0;
  const bytes = new Uint8Array(offset + text.length * 2);
  if (bom) {
    bytes[0] = 0xff;
    bytes[1] = 0xfe;
  }
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    bytes[offset + 2 * i] = unit & 0xff;
    bytes[offset + 2 * i + 1] = unit >>> 8;
  }
  return bytes;
}

/** The preset file name of a launch. */
export function presetName(port: number): string {
  return `riskguard-${port}.set`;
}

/** Paths written by {@link writeStartupFiles}. */
export interface StartupFiles {
  ini: string;
  preset: string;
}

/** Writes the startup ini and the preset into a portable terminal folder. */
export async function writeStartupFiles(
  folder: string,
  config: Omit<StartupConfig, "presetName">,
  inputs: BridgeInputs,
): Promise<StartupFiles> {
  const name = presetName(inputs.port);
  const ini = joinPath(folder, STARTUP_INI_NAME);
  const presetDir = joinPath(folder, "MQL5", "Presets");
  const preset = joinPath(presetDir, name);
  await Deno.mkdir(presetDir, { recursive: true });
  await Deno.writeFile(preset, encodeUtf16le(renderPreset(inputs)), { mode: 0o600 });
  await Deno.writeFile(ini, encodeUtf16le(renderStartupIni({ ...config, presetName: name })), {
    mode: 0o600,
  });
  return { ini, preset };
}

/** Deletes the files that hold the password and the token; missing files are fine. */
export async function removeStartupFiles(files: StartupFiles): Promise<void> {
  for (const path of [files.ini, files.preset]) {
    try {
      await Deno.remove(path);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) {
        throw new TerminalError(`Cannot delete ${path}`, { cause: error });
      }
    }
  }
}

/**
 * Environment variables the terminal gets from the risk process: {@link BASE_ENV_NAMES} and what
 * a Windows program (natively or under Wine) needs to start. None of them can hold a secret.
 */
export const TERMINAL_ENV_NAMES: readonly string[] = [
  ...BASE_ENV_NAMES,
  "SystemDrive",
  "ProgramData",
  "ProgramFiles",
  "ProgramFiles(x86)",
  "CommonProgramFiles",
  "ComSpec",
  "PATHEXT",
  "OS",
  "PROCESSOR_ARCHITECTURE",
  "NUMBER_OF_PROCESSORS",
  "COMPUTERNAME",
  "USERNAME",
  "USERDOMAIN",
  "HOMEDRIVE",
  "HOMEPATH",
  "PUBLIC",
  "ALLUSERSPROFILE",
  "WINEPREFIX",
  "WINEARCH",
  "WINEDEBUG",
  "DISPLAY",
  "WAYLAND_DISPLAY",
  "XDG_RUNTIME_DIR",
];

/** Events of a running terminal. */
export type TerminalEvent =
  | { type: "started"; pid: number | undefined; attempt: number }
  | { type: "exited"; code: number; restartInMs: number | null }
  | { type: "files_removed" }
  | { type: "error"; error: Error };

/** Options of {@link launchTerminal}. */
export interface LaunchTerminalOptions {
  /** Portable terminal folder holding `terminal64.exe`, or `sim:<scenario>`. */
  path: string;
  login: number;
  password: string;
  server: string;
  /** Bridge base port. */
  port: number;
  /** PLAIN token of this launch. */
  token: string;
  /** EA timer and heartbeat (ms). */
  timerMs?: number;
  heartbeatMs?: number;
  /** EA path under MQL5/Experts (default `RiskGuardBridge`). */
  expert?: string;
  /** Chart symbol the EA is attached to (default `EURUSD`; brokers may name it `EURUSD.m`). */
  symbol?: string | undefined;
  /** Restart the process when it dies (default true). */
  restart?: boolean;
  /** First restart delay in ms (default 1000), doubled per consecutive crash up to 60 s. */
  restartDelayMs?: number;
  /** For `sim:` pathways: run the simulator in this process or as a child (default in_process). */
  simMode?: SimLaunchMode;
  /** For `sim:` pathways: random seed, speed factor and real ms per trade request. */
  simSeed?: number;
  simSpeed?: number;
  simExecDelayMs?: number;
  /** Receives lifecycle events. */
  onEvent?: (event: TerminalEvent) => void;
  /** Replaces process spawning (tests); default `spawnProcess` with a cleared environment. */
  spawn?: Spawner;
  /** Replaces the check "is `pid` a running MT5 terminal?" (tests). */
  isTerminalProcess?: (pid: number) => Promise<boolean>;
  /** Replaces ending a leftover terminal process (tests). */
  killProcess?: (pid: number) => void;
}

/** A started terminal (real or simulated). */
export interface TerminalHandle {
  /** `mt5` for a real terminal, `sim` for the simulator. */
  readonly kind: "mt5" | "sim";
  /** Process id of the terminal or simulator child; undefined for an in-process simulator. */
  readonly pid: number | undefined;
  /** The simulator, for `sim:` pathways started in process (history for tests). */
  readonly sim: SimHandle | undefined;
  /** Tell the launcher the EA said hello: files holding the password are removed. */
  helloReceived(): Promise<void>;
  /** Stops the terminal and the restart loop. */
  stop(): Promise<void>;
  /** Resolves when the handle is stopped for good. */
  readonly done: Promise<void>;
}

/**
 * Parses `sim:<scenario>` (with optional launch options, see `sim/pathway.ts`); returns
 * undefined for a folder path.
 */
export function parseSimPath(path: string): ScenarioName | undefined {
  return simPathway(path)?.scenario;
}

function simPathway(
  path: string,
): { scenario: ScenarioName; options: SimPathwayOptions } | undefined {
  try {
    return parseSimPathway(path);
  } catch (error) {
    throw new TerminalError((error as Error).message);
  }
}

/**
 * Starts the terminal of an instance: the simulator for `sim:<scenario>`, otherwise
 * `terminal64.exe /portable /config:<ini>` in the folder, restarted when it dies.
 */
export async function launchTerminal(options: LaunchTerminalOptions): Promise<TerminalHandle> {
  const sim = simPathway(options.path);
  if (sim !== undefined) return await launchSim(options, sim.scenario, sim.options);
  const launcher = new TerminalLauncher(options);
  await launcher.start();
  return launcher;
}

async function launchSim(
  options: LaunchTerminalOptions,
  scenario: ScenarioName,
  fromPath: SimPathwayOptions,
): Promise<TerminalHandle> {
  // Options given by the caller win over those of the pathway.
  const seed = options.simSeed ?? fromPath.seed;
  const speed = options.simSpeed ?? fromPath.speed;
  const execDelayMs = options.simExecDelayMs ?? fromPath.execDelayMs;
  const heartbeatMs = options.heartbeatMs ?? fromPath.heartbeatMs;
  const timerMs = options.timerMs ?? fromPath.timerMs;
  const sim = await startSimulator({
    scenario,
    port: options.port,
    token: options.token,
    // The simulated account is the element's account, so the bridge's login check holds.
    login: options.login,
    // The caller's mode wins; a pathway may ask for a separate process (`process=child`).
    mode: options.simMode ?? (fromPath.process === "child" ? "child_process" : "in_process"),
    ...(fromPath.faultFile === undefined ? {} : { faultFile: fromPath.faultFile }),
    ...(seed === undefined ? {} : { seed }),
    ...(speed === undefined ? {} : { speed }),
    ...(execDelayMs === undefined ? {} : { execDelayMs }),
    ...(heartbeatMs === undefined ? {} : { heartbeatMs }),
    ...(timerMs === undefined ? {} : { timerMs }),
    ...(fromPath.truthLog === undefined ? {} : { truthLog: fromPath.truthLog }),
  });
  options.onEvent?.({ type: "started", pid: sim.pid, attempt: 1 });
  return {
    kind: "sim",
    pid: sim.pid,
    sim,
    helloReceived: () => Promise.resolve(),
    stop: () => sim.stop(),
    done: sim.done,
  };
}

class TerminalLauncher implements TerminalHandle {
  readonly kind = "mt5" as const;
  readonly sim = undefined;
  readonly done: Promise<void>;
  #options: LaunchTerminalOptions;
  #spawn: Spawner;
  #process: ChildProcess | undefined;
  #files: StartupFiles | undefined;
  #stop = new AbortController();
  #markHealthy: (() => void) | undefined;
  #attempt = 0;
  #resolveDone!: () => void;

  constructor(options: LaunchTerminalOptions) {
    this.#options = options;
    this.#spawn = options.spawn ?? spawnProcess;
    this.done = new Promise((resolve) => this.#resolveDone = resolve);
  }

  get pid(): number | undefined {
    return this.#process?.pid;
  }

  /** Starts the first process (its failure is the caller's), then supervises it. */
  async start(): Promise<void> {
    const o = this.#options;
    if (o.spawn === undefined) {
      try {
        await Deno.stat(this.#executable);
      } catch (error) {
        throw new TerminalError(`Cannot start terminal: ${this.#executable} not found`, {
          cause: error,
        });
      }
    }
    const first = await this.#startProcess();
    const restart = o.restart ?? true;
    supervise({
      run: async ({ signal, attempt, markHealthy }) => {
        this.#markHealthy = markHealthy;
        const process = attempt === 1 ? first : await this.#startProcess();
        return await this.#watch(process, signal);
      },
      signal: this.#stop.signal,
      // Every end of the terminal is restarted (unless restarts are off): its exit codes are
      // MT5's, not riskguard's.
      shouldRestart: () => restart,
      backoff: { baseMs: o.restartDelayMs ?? 1_000, maxMs: 60_000 },
      // Only the EA's hello says the terminal is healthy (see helloReceived).
      healthyAfterMs: Infinity,
      onEvent: (event) => this.#onSupervisorEvent(event),
    }).catch((error) => o.onEvent?.({ type: "error", error: error as Error }))
      .finally(() => this.#finish());
  }

  async helloReceived(): Promise<void> {
    // The next crash restarts after the shortest delay again, and counts attempts from 1.
    this.#markHealthy?.();
    this.#attempt = 0;
    if (this.#files === undefined) return;
    const files = this.#files;
    this.#files = undefined;
    await removeStartupFiles(files);
    this.#options.onEvent?.({ type: "files_removed" });
  }

  async stop(): Promise<void> {
    this.#stop.abort();
    await this.done;
  }

  get #executable(): string {
    return joinPath(this.#options.path, "terminal64.exe");
  }

  get #pidFile(): string {
    return joinPath(this.#options.path, TERMINAL_PID_FILE);
  }

  /** Writes the startup files and starts `terminal64.exe`; a failure leaves no secret files. */
  async #startProcess(): Promise<ChildProcess> {
    const o = this.#options;
    await this.#endLeftoverTerminal();
    this.#files = await writeStartupFiles(
      o.path,
      {
        login: o.login,
        password: o.password,
        server: o.server,
        ...(o.expert === undefined ? {} : { expert: o.expert }),
        ...(o.symbol === undefined ? {} : { symbol: o.symbol }),
      },
      {
        port: o.port,
        token: o.token,
        ...(o.timerMs === undefined ? {} : { timerMs: o.timerMs }),
        ...(o.heartbeatMs === undefined ? {} : { heartbeatMs: o.heartbeatMs }),
      },
    );
    this.#attempt++;
    let process: ChildProcess;
    try {
      process = this.#spawn(
        { path: this.#executable, args: ["/portable", `/config:${this.#files.ini}`] },
        { cwd: o.path, env: childEnv({}, TERMINAL_ENV_NAMES) },
      );
    } catch (error) {
      await removeStartupFiles(this.#files).catch(() => {});
      this.#files = undefined;
      throw new TerminalError(`Cannot start ${this.#executable}: ${(error as Error).message}`, {
        cause: error,
      });
    }
    this.#process = process;
    await Deno.writeTextFile(this.#pidFile, String(process.pid)).catch(() => {});
    o.onEvent?.({ type: "started", pid: process.pid, attempt: this.#attempt });
    return process;
  }

  /** Waits for the process to end; when the launcher is stopped, ends it first. */
  async #watch(process: ChildProcess, signal: AbortSignal): Promise<number> {
    const kill = () => process.kill();
    signal.addEventListener("abort", kill, { once: true });
    if (signal.aborted) kill();
    try {
      return await process.exited;
    } finally {
      signal.removeEventListener("abort", kill);
      if (this.#process === process) this.#process = undefined;
    }
  }

  #onSupervisorEvent(event: SuperviseEvent): void {
    if (event.type !== "ended") return;
    const { outcome } = event;
    if (outcome.kind === "threw") {
      this.#options.onEvent?.({ type: "error", error: outcome.error as Error });
    }
    this.#options.onEvent?.({
      type: "exited",
      code: outcome.kind === "exit" ? outcome.code : -1,
      restartInMs: event.restartInMs,
    });
  }

  /** The supervisor ended (stopped, or restarts are off): no secret files or pid file remain. */
  async #finish(): Promise<void> {
    if (this.#files !== undefined) await removeStartupFiles(this.#files).catch(() => {});
    this.#files = undefined;
    await Deno.remove(this.#pidFile).catch(() => {});
    this.#resolveDone();
  }

  /**
   * A terminal started by an earlier risk process that died still runs with the old token: its
   * EA can never authenticate with this process, and MT5 refuses a second copy in the same
   * folder. End it first (only when the recorded pid is still an MT5 terminal).
   */
  async #endLeftoverTerminal(): Promise<void> {
    const recorded = await Deno.readTextFile(this.#pidFile).catch(() => undefined);
    if (recorded === undefined) return;
    const pid = Number(recorded.trim());
    const isTerminal = this.#options.isTerminalProcess ?? isTerminalProcess;
    if (Number.isInteger(pid) && pid > 0 && pid !== this.#process?.pid && await isTerminal(pid)) {
      this.#options.onEvent?.({
        type: "error",
        error: new TerminalError(`Ending terminal process ${pid} left by an earlier run`),
      });
      try {
        (this.#options.killProcess ?? killProcess)(pid);
      } catch {
        // it ended by itself meanwhile
      }
      for (let n = 0; n < 50 && await isTerminal(pid); n++) {
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
    await Deno.remove(this.#pidFile).catch(() => {});
  }
}

/** The file in a terminal folder that holds the pid of the terminal riskguard started. */
export const TERMINAL_PID_FILE = "riskguard-terminal.pid";

/**
 * True when `pid` is a running `terminal64.exe` (Windows: `tasklist`; elsewhere, e.g. under
 * Wine: `/proc/<pid>/cmdline`). A recycled pid of another program is never touched.
 */
async function isTerminalProcess(pid: number): Promise<boolean> {
  try {
    if (Deno.build.os === "windows") {
      const output = await new Deno.Command("tasklist", {
        args: ["/FI", `PID eq ${pid}`, "/FO", "CSV", "/NH"],
        stdout: "piped",
        stderr: "null",
      }).output();
      return /terminal64\.exe/i.test(new TextDecoder().decode(output.stdout));
    }
    const cmdline = await Deno.readTextFile(`/proc/${pid}/cmdline`);
    return /terminal64\.exe/i.test(cmdline);
  } catch {
    return false;
  }
}

function killProcess(pid: number): void {
  Deno.kill(pid, "SIGKILL");
}

function joinPath(...parts: string[]): string {
  const sep = Deno.build.os === "windows" ? "\\" : "/";
  return parts.map((part, i) => (i === 0 ? part.replace(/[\\/]+$/, "") : part)).join(sep);
}
