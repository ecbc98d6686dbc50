/**
 * The control folder: how admin and its risk children talk without signals and without pipes,
 * on Windows and Linux alike, and across an admin restart.
 *
 * - Each child writes `<element_id>.child.json` ({@link ChildRecord}: its pid, instance, start
 *   time) when it starts and removes it when it ends cleanly. A restarted admin reads these
 *   records to find the children it may adopt.
 * - Admin asks a child to stop by creating `<element_id>.stop`. The child polls for that file
 *   (every 250 ms by default), then finishes its writes, releases its lease and exits 0. The
 *   file is removed by the child on exit and by admin before it starts a new child.
 *
 * A pipe would die with admin (end of file on stdin would stop the children admin means to leave
 * guarding); a file in a folder known to both outlives either process.
 *
 * @module
 */
import { join } from "node:path";
import { tmpdir } from "node:os";
import { abortableSleep } from "../shared/async.ts";

/** What a child writes about itself into the control folder. */
export interface ChildRecord {
  /** The risk process's pid. */
  pid: number;
  /** The element it guards. */
  element_id: string;
  /** The instance it was started on (`null` when it chose one itself). */
  instance_id: string | null;
  /** When it started, epoch ms. */
  started_at: number;
}

/** Environment variable that hands the control folder to a child. */
export const CONTROL_DIR_ENV = "RISKGUARD_CONTROL_DIR";

/**
 * The default control folder of an admin: under the system temp folder, one per host name and
 * store, so two admins with different `--host` on one machine (tests, several stores) never
 * share it, and a restarted admin finds the same one.
 */
export function defaultControlDir(host: string, storeDescription: string, db: string): string {
  const key = fnv1a(`${storeDescription}\u0000${db}`).toString(16).padStart(8, "0");
  const safeHost = host.replace(/[^A-Za-z0-9_.-]/g, "_").slice(0, 64);
  return join(tmpdir(), "riskguard-control", `${safeHost}-${key}`);
}

/** The control folder of one admin host. */
export class ControlDir {
  /** The folder. */
  readonly path: string;

  /** Uses `path` (created on first write, readable by its owner only). */
  constructor(path: string) {
    this.path = path;
  }

  /** Creates the folder when missing. */
  async ensure(): Promise<void> {
    await Deno.mkdir(this.path, { recursive: true, mode: 0o700 });
  }

  /** Asks the child of `elementId` to stop. */
  async requestStop(elementId: string): Promise<void> {
    await this.ensure();
    await Deno.writeTextFile(this.#stopFile(elementId), `${Date.now()}\n`);
  }

  /** True when a stop was asked for `elementId` and not yet handled. */
  async stopRequested(elementId: string): Promise<boolean> {
    return await exists(this.#stopFile(elementId));
  }

  /** Forgets a stop request (before a new child starts, and by the child when it ends). */
  async clearStop(elementId: string): Promise<void> {
    await removeIfThere(this.#stopFile(elementId));
  }

  /** Writes the record of a running child. */
  async writeChild(record: ChildRecord): Promise<void> {
    await this.ensure();
    const file = this.#childFile(record.element_id);
    const temp = `${file}.${record.pid}.tmp`;
    await Deno.writeTextFile(temp, JSON.stringify(record), { mode: 0o600 });
    await Deno.rename(temp, file);
  }

  /** The record of the child of `elementId`, or `null`. */
  async readChild(elementId: string): Promise<ChildRecord | null> {
    try {
      const value = JSON.parse(await Deno.readTextFile(this.#childFile(elementId)));
      if (typeof value?.pid !== "number" || value.element_id !== elementId) return null;
      return value as ChildRecord;
    } catch {
      return null;
    }
  }

  /** Removes the record of the child of `elementId` when it still names `pid`. */
  async removeChild(elementId: string, pid?: number): Promise<void> {
    if (pid !== undefined) {
      const record = await this.readChild(elementId);
      if (record !== null && record.pid !== pid) return;
    }
    await removeIfThere(this.#childFile(elementId));
  }

  #stopFile(elementId: string): string {
    return join(this.path, `${fileSafe(elementId)}.stop`);
  }

  #childFile(elementId: string): string {
    return join(this.path, `${fileSafe(elementId)}.child.json`);
  }
}

/**
 * Child side: writes the child record, then resolves when admin asks this child to stop or
 * `signal` aborts. The returned `done` removes the record and the stop request.
 */
export async function registerChild(
  control: ControlDir,
  record: ChildRecord,
  signal: AbortSignal,
  pollMs = 250,
): Promise<{ stopped: Promise<void>; done: () => Promise<void> }> {
  // A request left over from an earlier child of this element is not meant for this one.
  await control.clearStop(record.element_id);
  await control.writeChild(record);
  const stopped = (async () => {
    while (!signal.aborted) {
      if (await control.stopRequested(record.element_id)) return;
      await abortableSleep(pollMs, signal);
    }
  })();
  return {
    stopped,
    done: async () => {
      await control.removeChild(record.element_id, record.pid).catch(() => {});
      await control.clearStop(record.element_id).catch(() => {});
    },
  };
}

/**
 * Whether a process with this pid is running. Linux: `/proc/<pid>`; Windows: `tasklist`.
 * Elsewhere (no way to tell) it answers true, and the ping age decides alone.
 */
export async function isProcessAlive(pid: number): Promise<boolean> {
  if (Deno.build.os === "linux") return await exists(`/proc/${pid}`);
  if (Deno.build.os === "windows") {
    try {
      const output = await new Deno.Command("tasklist", {
        args: ["/FI", `PID eq ${pid}`, "/NH", "/FO", "CSV"],
        stdout: "piped",
        stderr: "null",
      }).output();
      return new TextDecoder().decode(output.stdout).includes(`"${pid}"`);
    } catch {
      return true;
    }
  }
  return true;
}

function fileSafe(id: string): string {
  return id.replace(/[^A-Za-z0-9_.-]/g, "_");
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

async function removeIfThere(path: string): Promise<void> {
  try {
    await Deno.remove(path);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
}

/** 32-bit FNV-1a: a stable short key for a folder name (not a security measure). */
function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (const byte of new TextEncoder().encode(text)) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}
