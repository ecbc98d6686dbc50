/**
 * The demo's admin: `riskguard --mode admin` started as a child process, exactly as a VPS runs
 * it, on the demo's store, with its log file and control folder in the demo's folder.
 *
 * Admin runs in a session of its own, so a Ctrl+C on the terminal reaches only the demo, which
 * then stops admin in order: admin asks its risk processes to finish (their writes flushed,
 * leases released) and exits. Windows has no signal to ask with: there admin is ended and the
 * demo asks the risk processes itself, through admin's control folder. Either way, a risk
 * process still running afterwards is ended, so nothing of the demo is left running.
 *
 * @module
 */
import { join } from "node:path";
import { abortableSleep } from "../shared/async.ts";
import {
  childEnv,
  type ChildProcess,
  spawnProcess,
  type StopOutcome,
  stopProcess,
} from "../shared/process.ts";
import { selfCommand } from "../shared/self_command.ts";
import type { DemoPaths } from "./setup.ts";

/** The environment variable that hands admin its control folder. */
const CONTROL_DIR_ENV = "RISKGUARD_CONTROL_DIR";

/** How long admin may take to stop its risk processes and exit, ms. */
const ADMIN_STOP_MS = 25_000;

/** How long a risk process left behind may take to stop when asked, ms. */
const CHILD_STOP_MS = 10_000;

/** A running admin. */
export interface AdminRun {
  /** Its pid. */
  readonly pid: number;
  /** Resolves with its exit code. */
  readonly exited: Promise<number>;
  /** Its last console lines (for a message when it fails). */
  tail(): string[];
  /** Stops it (see the module's description) and every risk process it left. */
  stop(): Promise<StopOutcome>;
}

/** Starts `riskguard --mode admin` for the demo. */
export function startAdmin(paths: DemoPaths, host: string): AdminRun {
  const command = selfCommand([
    "--mode",
    "admin",
    "--store",
    paths.storeUri,
    "--host",
    host,
    "--log-file",
    paths.logFile,
  ]);
  const child = spawnProcess(command, {
    env: childEnv({ [CONTROL_DIR_ENV]: paths.controlDir }),
    stdout: "piped",
    stderr: "piped",
    detached: true,
  });
  const lines: string[] = [];
  const keep = (line: string) => {
    lines.push(line);
    if (lines.length > 40) lines.shift();
  };
  // Both pipes are read to the end: a full pipe would block admin.
  const pumps = Promise.all([readLines(child.stdout, keep), readLines(child.stderr, keep)]);
  const exited = child.exited.then(async (code) => {
    await pumps;
    return code;
  });
  return {
    pid: child.pid,
    exited,
    tail: () => [...lines],
    stop: async () => {
      const outcome = await stopAdmin(child);
      await pumps;
      await stopLeftovers(paths.controlDir);
      return outcome;
    },
  };
}

async function stopAdmin(child: ChildProcess): Promise<StopOutcome> {
  if (Deno.build.os === "windows") return await stopProcess(child);
  return await stopProcess(child, { ask: (c) => c.kill("SIGINT"), timeoutMs: ADMIN_STOP_MS });
}

/**
 * Stops every risk process named in the control folder that still runs: asks it through its
 * stop file, then ends it. Returns the pids that were still running.
 */
export async function stopLeftovers(controlDir: string): Promise<number[]> {
  const running: { pid: number; elementId: string }[] = [];
  let entries: Deno.DirEntry[] = [];
  try {
    entries = [...Deno.readDirSync(controlDir)];
  } catch {
    return []; // admin never started a child
  }
  for (const entry of entries) {
    if (!entry.name.endsWith(".child.json")) continue;
    try {
      const record = JSON.parse(await Deno.readTextFile(join(controlDir, entry.name)));
      if (typeof record?.pid === "number" && isRunning(record.pid)) {
        running.push({ pid: record.pid, elementId: entry.name.slice(0, -".child.json".length) });
      }
    } catch {
      // A record being rewritten or removed right now: its process is handled by admin.
    }
  }
  for (const { elementId } of running) {
    await Deno.writeTextFile(join(controlDir, `${elementId}.stop`), `${Date.now()}\n`);
  }
  const deadline = Date.now() + CHILD_STOP_MS;
  const never = new AbortController().signal;
  while (running.some(({ pid }) => isRunning(pid)) && Date.now() < deadline) {
    await abortableSleep(100, never);
  }
  for (const { pid } of running) {
    if (!isRunning(pid)) continue;
    try {
      Deno.kill(pid, "SIGKILL");
    } catch {
      // It ended meanwhile.
    }
  }
  return running.map(({ pid }) => pid);
}

/**
 * Whether a process runs: Linux reads `/proc` (a zombie does not run); elsewhere a process is
 * taken as running, and ending it is tried.
 */
function isRunning(pid: number): boolean {
  if (Deno.build.os !== "linux") return true;
  try {
    return !/^\d+ \(.*\) Z/.test(Deno.readTextFileSync(`/proc/${pid}/stat`));
  } catch {
    return false;
  }
}

async function readLines(
  stream: ReadableStream<Uint8Array> | null,
  onLine: (line: string) => void,
): Promise<void> {
  if (stream === null) return;
  let rest = "";
  try {
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      rest += chunk;
      const parts = rest.split("\n");
      rest = parts.pop() ?? "";
      for (const line of parts) if (line.trim() !== "") onLine(line.replace(/\r$/, ""));
      if (rest.length > 64 * 1024) rest = "";
    }
  } catch {
    // Admin is gone: what was read is all there is.
  }
  if (rest.trim() !== "") onLine(rest);
}
