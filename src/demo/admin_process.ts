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
import { CONTROL_DIR_ENV, ControlDir } from "../admin/mod.ts";
import { abortableSleep } from "../shared/async.ts";
import {
  childEnv,
  type ChildProcess,
  spawnProcess,
  type StopOutcome,
  stopProcess,
} from "../shared/process.ts";
import { forEachLine } from "../shared/lines.ts";
import { selfCommand } from "../shared/self_command.ts";
import type { DemoPaths } from "./setup.ts";

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
  /**
   * Asks it to stop without waiting (synchronous: usable while this process exits); on Windows,
   * where there is no signal to ask with, it is ended.
   */
  interrupt(): void;
  /** Stops it (see the module's description) and every risk process of `elementIds` it left. */
  stop(elementIds: readonly string[]): Promise<StopOutcome>;
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
  const pumps = Promise.all([forEachLine(child.stdout!, keep), forEachLine(child.stderr!, keep)]);
  const exited = child.exited.then(async (code) => {
    await pumps;
    return code;
  });
  return {
    pid: child.pid,
    exited,
    tail: () => [...lines],
    interrupt: () => child.kill(Deno.build.os === "windows" ? "SIGKILL" : "SIGINT"),
    stop: async (elementIds) => {
      const outcome = await stopAdmin(child);
      await pumps;
      await stopLeftovers(paths.controlDir, elementIds);
      return outcome;
    },
  };
}

async function stopAdmin(child: ChildProcess): Promise<StopOutcome> {
  if (Deno.build.os === "windows") return await stopProcess(child);
  return await stopProcess(child, { ask: (c) => c.kill("SIGINT"), timeoutMs: ADMIN_STOP_MS });
}

/**
 * Stops the risk processes of `elementIds` that admin's control folder names and that still
 * run: asks each through its stop file, and ends those still running after `timeoutMs`.
 * Returns the pids that were still running.
 */
export async function stopLeftovers(
  controlDir: string,
  elementIds: readonly string[],
  timeoutMs = CHILD_STOP_MS,
): Promise<number[]> {
  const control = new ControlDir(controlDir);
  // A child runs while it holds its life lock (see src/admin/control.ts): a recorded pid alone
  // may belong to another process by now, and must never be killed on its own say-so.
  const runs = async (elementId: string, pid: number) => {
    const probe = await control.probe(elementId);
    return probe.state === "alive" && probe.record.pid === pid;
  };
  const running: { pid: number; elementId: string }[] = [];
  for (const elementId of elementIds) {
    const probe = await control.probe(elementId);
    if (probe.state === "alive") running.push({ pid: probe.record.pid, elementId });
  }
  for (const { elementId, pid } of running) await control.requestStop(elementId, pid);
  const deadline = Date.now() + timeoutMs;
  const never = new AbortController().signal;
  const alive = async () => {
    const states = await Promise.all(running.map(({ elementId, pid }) => runs(elementId, pid)));
    return running.filter((_, i) => states[i]);
  };
  let left = await alive();
  while (left.length > 0 && Date.now() < deadline) {
    await abortableSleep(100, never);
    left = await alive();
  }
  for (const { pid, elementId } of left) {
    if (!await runs(elementId, pid)) continue;
    try {
      Deno.kill(pid, "SIGKILL");
    } catch {
      // It ended meanwhile.
    }
  }
  return running.map(({ pid }) => pid);
}
