/**
 * The control folder: how admin and its risk children talk without signals and without pipes,
 * on Windows and Linux alike, and across an admin restart.
 *
 * - Each child takes an exclusive operating-system lock on `<element_id>.lock`
 *   ({@link Deno.FsFile.tryLock}) for its whole life, then writes `<element_id>.child.json`
 *   ({@link ChildRecord}: its pid, instance, start time) and removes the record when it ends
 *   cleanly. The lock is the proof of life: the system releases it when the process ends, however
 *   it ends (kill -9, crash, zombie), and a pid reused by an unrelated process holds no lock. So
 *   admin asks "can I take the lock?" instead of "does a process with this pid run?": no polling,
 *   no `tasklist`, immune to pid reuse. The lock lives in a file of its own because a Windows lock
 *   (LockFileEx) also blocks reads of the locked file through other handles.
 * - Admin asks a child to stop by creating `<element_id>.stop` naming the child's pid. The child
 *   polls for that file (every 250 ms by default), then finishes its writes, releases its lease
 *   and exits 0. A request naming another pid (left over from an earlier child) is ignored; the
 *   file is removed by the child on exit and by admin before it starts a new child. A child never
 *   erases a request on start: one sent right after the spawn must reach it.
 *
 * A pipe would die with admin (end of file on stdin would stop the children admin means to leave
 * guarding); a file in a folder known to both outlives either process. The folder is private to
 * the user admin runs as: created 0700 on Unix and refused when another user owns it or can read
 * it; on Windows it lives under the user's `LOCALAPPDATA` by default.
 *
 * @module
 */
import { join } from "node:path";
import { tmpdir } from "node:os";
import { abortableSleep } from "./async.ts";
import { ConfigError, RiskGuardError } from "./errors.ts";

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

/** What admin knows about the child of an element from the control folder. */
export type ChildProbe =
  /** No record: no child of admin's ever ran for it, or the last one ended cleanly. */
  | { state: "none" }
  /** The record's process holds its lock: it runs, and it is the one that wrote the record. */
  | { state: "alive"; record: ChildRecord }
  /** A record is left but no process holds the lock: that child is gone (crashed or killed). */
  | { state: "dead"; record: ChildRecord };

/** Environment variable that hands the control folder to a child. */
export const CONTROL_DIR_ENV = "RISKGUARD_CONTROL_DIR";

/**
 * The default control folder of an admin, one per host name and store, so two admins with
 * different `--host` on one machine (tests, several stores) never share it, and a restarted admin
 * finds the same one. Windows: under `LOCALAPPDATA` (private to the user; SYSTEM has its own),
 * else `ProgramData`. Elsewhere: under the temp folder in a folder named after the user id.
 */
export function defaultControlDir(
  host: string,
  storeDescription: string,
  db: string,
  env: Record<string, string | undefined> = {},
): string {
  const key = fnv1a(`${storeDescription}\u0000${db}`).toString(16).padStart(8, "0");
  const leaf = `${host.replace(/[^A-Za-z0-9_.-]/g, "_").slice(0, 64)}-${key}`;
  if (Deno.build.os === "windows") {
    const base = env.LOCALAPPDATA || env.ProgramData || env.PROGRAMDATA || tmpdir();
    return join(base, "riskguard", "control", leaf);
  }
  return join(tmpdir(), `riskguard-control-${Deno.uid() ?? "user"}`, leaf);
}

/** The control folder of one admin host. */
export class ControlDir {
  /** The folder. */
  readonly path: string;
  #checked = false;

  /** Uses `path` (created on first write, readable by its owner only). */
  constructor(path: string) {
    this.path = path;
  }

  /**
   * Creates the folder when missing (0700) and checks that it is private.
   *
   * @throws {ConfigError} (exit 2) on Unix when another user owns the folder or its parent, or
   * when group or others may use the folder: its files steer which processes admin adopts.
   */
  async ensure(): Promise<void> {
    if (this.#checked) return;
    await Deno.mkdir(this.path, { recursive: true, mode: 0o700 });
    if (Deno.build.os !== "windows") {
      await checkPrivate(this.path, true);
      await checkPrivate(join(this.path, ".."), false);
    }
    this.#checked = true;
  }

  /** Asks the child of `elementId` (the one with `pid`, when known) to stop. */
  async requestStop(elementId: string, pid?: number): Promise<void> {
    await this.ensure();
    const request = { at: Date.now(), ...(pid === undefined ? {} : { pid }) };
    await Deno.writeTextFile(this.#stopFile(elementId), `${JSON.stringify(request)}\n`, {
      mode: 0o600,
    });
  }

  /** True when a stop was asked for the child `pid` of `elementId` (or for any child of it). */
  async stopRequested(elementId: string, pid: number): Promise<boolean> {
    let text: string;
    try {
      text = await Deno.readTextFile(this.#stopFile(elementId));
    } catch {
      return false;
    }
    try {
      const request = JSON.parse(text);
      return typeof request?.pid !== "number" || request.pid === pid;
    } catch {
      // Written by hand (`echo > id.stop`) or half written: a stop is a stop.
      return true;
    }
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

  /**
   * Child side: takes the element's life lock, held until the returned file is closed (or the
   * process ends). Retries for about a second (admin's probe holds it for an instant).
   *
   * @throws {RiskGuardError} `ELEMENT_HELD` when another live process holds it.
   */
  async holdLock(elementId: string): Promise<Deno.FsFile> {
    await this.ensure();
    const file = await Deno.open(this.#lockFile(elementId), {
      read: true,
      write: true,
      create: true,
      mode: 0o600,
    });
    for (let attempt = 0; attempt < 10; attempt++) {
      if (await file.tryLock(true)) return file;
      await abortableSleep(100);
    }
    file.close();
    const other = await this.readChild(elementId);
    throw new RiskGuardError(
      "ELEMENT_HELD",
      `Another risk process of element ${elementId} runs on this host` +
        (other === null ? "" : ` (pid ${other.pid})`) + `; not starting a second one`,
    );
  }

  /**
   * Admin side: whether the child recorded for `elementId` runs. `alive` only when its life lock
   * is held; `dead` when a record is left and the lock is free.
   */
  async probe(elementId: string): Promise<ChildProbe> {
    const record = await this.readChild(elementId);
    if (record === null) return { state: "none" };
    let file: Deno.FsFile;
    try {
      file = await Deno.open(this.#lockFile(elementId), { read: true, write: true });
    } catch {
      // A record without a lock file was not written by a process that held one: not alive.
      return { state: "dead", record };
    }
    try {
      if (!await file.tryLock(true)) return { state: "alive", record };
      await file.unlock();
      return { state: "dead", record };
    } finally {
      file.close();
    }
  }

  /**
   * Admin side: resolves when the process holding the life lock of `elementId` has ended (the
   * system hands the lock over at that moment; nothing is polled).
   */
  async waitExit(elementId: string): Promise<void> {
    const file = await Deno.open(this.#lockFile(elementId), { read: true, write: true });
    try {
      await file.lock(true);
      await file.unlock();
    } finally {
      file.close();
    }
  }

  /**
   * Where the child of `elementId` writes its console lines once admin is gone (its stderr has
   * no reader then): `<element_id>.log`, kept for the next admin and for people.
   */
  orphanLog(elementId: string): string {
    return join(this.path, `${fileSafe(elementId)}.log`);
  }

  #stopFile(elementId: string): string {
    return join(this.path, `${fileSafe(elementId)}.stop`);
  }

  #childFile(elementId: string): string {
    return join(this.path, `${fileSafe(elementId)}.child.json`);
  }

  #lockFile(elementId: string): string {
    return join(this.path, `${fileSafe(elementId)}.lock`);
  }
}

/**
 * Child side: takes the life lock, writes the child record, then resolves `stopped` when admin
 * asks this child to stop or `signal` aborts. The returned `done` removes the record and the
 * stop request and lets the lock go.
 */
export async function registerChild(
  control: ControlDir,
  record: ChildRecord,
  signal: AbortSignal,
  pollMs = 250,
): Promise<{ stopped: Promise<void>; done: () => Promise<void> }> {
  const lock = await control.holdLock(record.element_id);
  await control.writeChild(record);
  const stopped = (async () => {
    while (!signal.aborted) {
      if (await control.stopRequested(record.element_id, record.pid)) return;
      await abortableSleep(pollMs, signal);
    }
  })();
  return {
    stopped,
    done: async () => {
      await control.removeChild(record.element_id, record.pid).catch(() => {});
      await control.clearStop(record.element_id).catch(() => {});
      try {
        lock.close();
      } catch {
        // closed already
      }
    },
  };
}

async function checkPrivate(path: string, strict: boolean): Promise<void> {
  const info = await Deno.stat(path);
  const uid = Deno.uid();
  if (uid !== null && info.uid !== null && info.uid !== uid && (strict || info.uid !== 0)) {
    throw new ConfigError(
      `Control folder ${path} belongs to user ${info.uid}, not to this user (${uid}); ` +
        `remove it or set RISKGUARD_CONTROL_DIR to a folder of your own`,
    );
  }
  if (strict && info.mode !== null && (info.mode & 0o077) !== 0) {
    throw new ConfigError(
      `Control folder ${path} may be used by other users (mode ${
        (info.mode & 0o777).toString(8)
      }); run chmod 700 on it or set RISKGUARD_CONTROL_DIR to a private folder`,
    );
  }
}

function fileSafe(id: string): string {
  return id.replace(/[^A-Za-z0-9_.-]/g, "_");
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
