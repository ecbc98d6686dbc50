/**
 * The one way riskguard starts another process: the terminal, the simulator, plugin processes
 * and (in admin mode) its risk children. A child never inherits the parent's environment: it
 * gets {@link childEnv} (locations and locale, nothing secret) plus what the caller names, so
 * `RISKGUARD_SECRET_KEY`, store URIs and tokens reach only the processes that need them.
 *
 * @module
 */
import type { CommandLine } from "./self_command.ts";

/**
 * Environment variables a child may inherit: where things are and the locale. Nothing here
 * can hold a secret.
 */
export const BASE_ENV_NAMES: readonly string[] = [
  "PATH",
  "HOME",
  "USERPROFILE",
  "DENO_DIR",
  "TMP",
  "TEMP",
  "TMPDIR",
  "SystemRoot",
  "SYSTEMROOT",
  "windir",
  "LOCALAPPDATA",
  "APPDATA",
  "XDG_CACHE_HOME",
  "LANG",
  "TZ",
  "NO_COLOR",
];

/**
 * The environment of a child: the parent's values of `names` (default {@link BASE_ENV_NAMES})
 * that are set, then `extra` on top.
 */
export function childEnv(
  extra: Record<string, string> = {},
  names: readonly string[] = BASE_ENV_NAMES,
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of names) {
    try {
      const value = Deno.env.get(name);
      if (value !== undefined) env[name] = value;
    } catch {
      // No permission to read the environment: the child gets nothing of it.
    }
  }
  return { ...env, ...extra };
}

/** How a child's standard stream is connected. */
export type StdioMode = "null" | "piped" | "inherit";

/** Options of {@link spawnProcess}. */
export interface SpawnOptions {
  /** Working directory (default: the parent's). */
  cwd?: string;
  /** The child's whole environment (default {@link childEnv}`()`); the parent's is never passed. */
  env?: Record<string, string>;
  /** Default `null` for each stream. */
  stdin?: StdioMode;
  stdout?: StdioMode;
  stderr?: StdioMode;
  /**
   * Runs the child in a session of its own (default false): a Ctrl+C on the terminal then
   * reaches only the parent, which stops the child itself, in order.
   */
  detached?: boolean;
}

/** A started process. */
export interface ChildProcess {
  /** Operating-system process id. */
  readonly pid: number;
  /** Resolves with the exit code when the process ends (128 + n for signal n on Unix). */
  readonly exited: Promise<number>;
  /** Ends the process (`SIGTERM` by default; on Windows every signal terminates at once). */
  kill(signal?: Deno.Signal): void;
  /** The child's standard input, when piped. */
  readonly stdin: WritableStream<Uint8Array> | null;
  /** The child's standard output, when piped. */
  readonly stdout: ReadableStream<Uint8Array> | null;
  /** The child's standard error, when piped. */
  readonly stderr: ReadableStream<Uint8Array> | null;
}

/** Starts a process; replaced in tests. */
export type Spawner = (command: CommandLine, options?: SpawnOptions) => ChildProcess;

/**
 * Starts `command` with a cleared environment (see {@link SpawnOptions.env}).
 *
 * @throws {Deno.errors.NotFound} and the like when the program cannot be started.
 */
export function spawnProcess(command: CommandLine, options: SpawnOptions = {}): ChildProcess {
  const child = new Deno.Command(command.path, {
    args: command.args,
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
    clearEnv: true,
    env: options.env ?? childEnv(),
    stdin: options.stdin ?? "null",
    stdout: options.stdout ?? "null",
    stderr: options.stderr ?? "null",
    ...(options.detached === true ? { detached: true } : {}),
  }).spawn();
  const piped = (mode: StdioMode | undefined) => mode === "piped";
  return {
    pid: child.pid,
    exited: child.status.then((status) => status.code),
    kill: (signal?: Deno.Signal) => {
      try {
        child.kill(signal);
      } catch {
        // It has exited already.
      }
    },
    stdin: piped(options.stdin) ? child.stdin : null,
    stdout: piped(options.stdout) ? child.stdout : null,
    stderr: piped(options.stderr) ? child.stderr : null,
  };
}

/** Options of {@link stopProcess}. */
export interface StopProcessOptions {
  /**
   * Asks the process to finish (e.g. closes its stdin or writes `stop`). Without it, or when it
   * throws, the process is killed at once.
   */
  ask?: (child: ChildProcess) => Promise<void> | void;
  /** How long the process may take after being asked, ms (default 10,000). */
  timeoutMs?: number;
}

/** How a process ended after {@link stopProcess}. */
export interface StopOutcome {
  /** The exit code. */
  code: number;
  /** True when it had to be killed because it did not finish in time. */
  killed: boolean;
}

/**
 * Stops a child without relying on signals it could handle (Windows has none to send): asks it
 * to finish, waits up to `timeoutMs`, then kills it (`SIGKILL`).
 */
export async function stopProcess(
  child: ChildProcess,
  options: StopProcessOptions = {},
): Promise<StopOutcome> {
  let asked = false;
  if (options.ask !== undefined) {
    try {
      await options.ask(child);
      asked = true;
    } catch {
      // Its channel is gone (it may have exited already): fall through to the kill.
    }
  }
  if (asked) {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), options.timeoutMs ?? 10_000);
    });
    const result = await Promise.race([child.exited, timeout]);
    clearTimeout(timer);
    if (result !== "timeout") return { code: result, killed: false };
  }
  child.kill("SIGKILL");
  return { code: await child.exited, killed: true };
}
