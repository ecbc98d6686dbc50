/**
 * The supervisor: one risk child per claimed element, run as `--mode risk --element_id <id>
 * --pathway <path> --instance <id>` with the configuration in its environment. Each child is
 * kept alive by {@link supervise}: crashes are restarted with backoff (1 s doubling to 60 s,
 * reset after 10 healthy minutes), exit code 2 is never restarted and leaves the element `ERROR`
 * with the child's reason, and 5 crashes within 10 minutes end in `ERROR` too. Every start,
 * exit, restart and give-up is an event in the store.
 *
 * A crashed child keeps its instance: the lease stays held through the restart delay and is
 * handed to the next child ({@link SupervisorOptions.reclaim}); it is released only when the
 * element is given up or is no longer this host's to run.
 *
 * Children are stopped through the control folder (see {@link ControlDir}), never by a signal
 * and never by closing positions; one that does not finish within the stop timeout is killed
 * and its lease released by admin. A child found running by a restarted admin is adopted: its
 * end is seen through its life lock in the control folder, and it is stopped through the same
 * folder. Admin kills only processes it has proven to be its own children: one it spawned, or
 * one that holds the life lock of the record naming its pid.
 *
 * Every risk child is started in {@link spawnRiskChild}, the one place that knows its command
 * line, environment and streams.
 *
 * @module
 */
import type { Logger } from "../shared/logging.ts";
import { type Clock, systemClock } from "../shared/clock.ts";
import { describeError, ExitCode, RiskGuardError } from "../shared/errors.ts";
import { type ChildProcess, type Spawner, spawnProcess, stopProcess } from "../shared/process.ts";
import { type CommandLine, selfCommand } from "../shared/self_command.ts";
import {
  isCrash,
  type RunContext,
  type RunOutcome,
  supervise,
  type SuperviseEvent,
} from "../shared/supervise.ts";
import type { ElementError, LeaseRef, Store } from "../store/mod.ts";
import type { ChildRecord, ControlDir } from "../shared/control_dir.ts";
import { forEachLine } from "../shared/lines.ts";
import { parseConsoleLine } from "./_console_line.ts";
import type { AdminTiming } from "./options.ts";

/** What the supervisor needs to start a child for an element. */
export interface ChildTarget {
  /** The element. */
  elementId: string;
  /** Its MT5 login (tags the child's log lines). */
  login: number;
  /** The lease admin holds for it, with the instance's id and path. */
  lease: LeaseRef & { path: string };
}

/** Options of {@link Supervisor}. */
export interface SupervisorOptions {
  /** The store. */
  store: Store;
  /** This admin's host. */
  host: string;
  /** The control folder shared with the children. */
  control: ControlDir;
  /** The children's whole environment (configuration; nothing else from admin's). */
  env: Record<string, string>;
  /** Timings (restart policy, stop timeout). */
  timing: AdminTiming;
  /** Admin's log. */
  log: Logger;
  /**
   * Claims the element again before a restart, handing over `kept` (the crashed child's lease,
   * still held) so the element keeps an instance; `null` when it is not this admin's to run any
   * more (disabled, deleted, pinned elsewhere, taken by another host, or no FREE instance:
   * then the scheduler has it).
   */
  reclaim(
    elementId: string,
    kept: (LeaseRef & { path: string }) | null,
  ): Promise<(LeaseRef & { path: string }) | null>;
  /** Called when a child's slot ends for good (its instance may be free again). */
  onSlotEnd?(elementId: string): void;
  /** Builds "this program" with arguments (default {@link selfCommand}). */
  command?: (args: readonly string[]) => CommandLine;
  /** Starts processes (default {@link spawnProcess}). */
  spawn?: Spawner;
  /** Time source. */
  clock?: Clock;
}

/** A child running (or being restarted) for one element. */
export interface ChildInfo {
  /** The element. */
  elementId: string;
  /** Its login. */
  login: number;
  /** The current child's pid (`null` between restarts). */
  pid: number | null;
  /** The instance it runs on. */
  instanceId: string | null;
  /** True when it was adopted from an earlier admin. */
  adopted: boolean;
}

/**
 * Bytes read from a child's stdout or stderr at a time, into one buffer per pipe: a child writes
 * a few log lines a minute, and admin waits on two pipes per child all the time.
 */
const CHILD_READ_BYTES = 1024;

/** Thrown by a run when the element is no longer this admin's to run: not restarted. */
class NotOurs extends Error {}

/** Runs and stops the risk children of this host. */
export class Supervisor {
  readonly #o: SupervisorOptions;
  readonly #slots = new Map<string, Slot>();
  readonly #clock: Clock;
  readonly #releases = new Set<Promise<unknown>>();
  #closed = false;

  /** Creates an idle supervisor. */
  constructor(options: SupervisorOptions) {
    this.#o = options;
    this.#clock = options.clock ?? systemClock;
  }

  /** True while a child of `elementId` runs or waits for its restart. */
  has(elementId: string): boolean {
    return this.#slots.has(elementId);
  }

  /** Number of supervised elements. */
  get size(): number {
    return this.#slots.size;
  }

  /** The supervised children. */
  children(): ChildInfo[] {
    return [...this.#slots.values()].map((slot) => slot.info());
  }

  /**
   * Starts a child for a freshly claimed element. After {@link Supervisor.stopAll} (a claim that
   * was in flight at shutdown) nothing starts and the lease is released.
   */
  start(target: ChildTarget): void {
    if (this.#closed) {
      const release = this.#o.store.release(target.lease, {
        status: "INACTIVE",
        now: this.#clock.now(),
      }).catch(() => {});
      this.#releases.add(release);
      void release.finally(() => this.#releases.delete(release));
      return;
    }
    if (this.#slots.has(target.elementId)) return;
    this.#open(target, null);
  }

  /** Adopts a child started by an earlier admin (found through its control record). */
  adopt(target: ChildTarget, record: ChildRecord): void {
    if (this.#closed || this.#slots.has(target.elementId)) return;
    this.#open(target, record);
  }

  /** Stops the child of `elementId` (asked, then killed after the stop timeout). */
  async stop(elementId: string, reason: string): Promise<void> {
    await this.#slots.get(elementId)?.stop(reason);
  }

  /** Stops every child, all at once, and refuses new ones from then on. */
  async stopAll(reason: string): Promise<void> {
    this.#closed = true;
    await Promise.all([...this.#slots.values()].map((slot) => slot.stop(reason)));
  }

  /** Waits for the releases of claims refused after {@link Supervisor.stopAll}. */
  async drain(): Promise<void> {
    while (this.#releases.size > 0) await Promise.all([...this.#releases]);
  }

  #open(target: ChildTarget, adopted: ChildRecord | null): void {
    const slot = new Slot(this.#o, this.#clock, target, adopted);
    this.#slots.set(target.elementId, slot);
    void slot.run().finally(() => {
      this.#slots.delete(target.elementId);
      this.#o.onSlotEnd?.(target.elementId);
    });
  }
}

/** One element's child and its restart loop. */
class Slot {
  readonly #o: SupervisorOptions;
  readonly #clock: Clock;
  readonly #target: ChildTarget;
  readonly #log: Logger;
  readonly #stop = new AbortController();
  #adopted: ChildRecord | null;
  #lease: (LeaseRef & { path: string }) | null;
  #pid: number | null = null;
  #stopReason = "";
  #done: Promise<void> | undefined;

  constructor(
    o: SupervisorOptions,
    clock: Clock,
    target: ChildTarget,
    adopted: ChildRecord | null,
  ) {
    this.#o = o;
    this.#clock = clock;
    this.#target = target;
    this.#adopted = adopted;
    this.#lease = target.lease;
    this.#log = o.log.with({ element_id: target.elementId, login: target.login });
  }

  info(): ChildInfo {
    return {
      elementId: this.#target.elementId,
      login: this.#target.login,
      pid: this.#pid,
      instanceId: this.#lease?.instance_id ?? null,
      adopted: this.#adopted !== null,
    };
  }

  run(): Promise<void> {
    this.#done ??= this.#supervise();
    return this.#done;
  }

  async stop(reason: string): Promise<void> {
    if (!this.#stop.signal.aborted) {
      this.#stopReason = reason;
      this.#stop.abort();
    }
    await this.#done;
  }

  async #supervise(): Promise<void> {
    const t = this.#o.timing;
    const result = await supervise({
      run: (context) => this.#runOnce(context),
      signal: this.#stop.signal,
      shouldRestart: (outcome) =>
        !(outcome.kind === "threw" && outcome.error instanceof NotOurs) && isCrash(outcome),
      backoff: { baseMs: t.restartBaseMs, maxMs: t.restartMaxMs },
      healthyAfterMs: t.healthyAfterMs,
      maxCrashes: t.maxCrashes,
      crashWindowMs: t.crashWindowMs,
      clock: this.#clock,
      onEvent: (event) => this.#onSuperviseEvent(event),
    }).catch((error) => {
      this.#log.error("supervisor of the child failed: {error}", { error: describeError(error) });
      return null;
    });
    // A lease kept for a restart that will not happen now (given up, stopped during the delay).
    const kept = this.#lease;
    this.#lease = null;
    if (result?.reason === "gave_up") {
      const message = `risk process crashed ${result.crashes} times within ` +
        `${Math.round(t.crashWindowMs / 1000)} s; not restarted (${outcomeText(result.outcome)})`;
      const error: ElementError = { code: "CRASH_LOOP", message, at: this.#clock.now() };
      if (kept === null || !await this.#release(kept, { status: "ERROR", error })) {
        await this.#markError(error);
      }
    } else if (kept !== null) {
      await this.#release(kept, { status: "INACTIVE" });
    }
  }

  async #runOnce(context: RunContext): Promise<number> {
    const adopted = this.#adopted !== null && context.attempt === 1 ? this.#adopted : null;
    let lease = this.#lease;
    if (lease === null || (adopted === null && context.attempt > 1)) {
      // A restart: the crashed child's lease (still held) is handed to the next one.
      lease = await this.#o.reclaim(this.#target.elementId, lease);
      this.#lease = lease;
      if (lease === null) throw new NotOurs("the element is not this host's to run any more");
    }
    let lastError = "";
    let child: ChildProcess;
    let pumps: Promise<void> = Promise.resolve();
    if (adopted !== null) {
      child = adoptedProcess(adopted, this.#o.control, this.#target.elementId);
      this.#log.info("adopted running risk process (pid {pid}) on instance {instance}", {
        pid: adopted.pid,
        instance: lease.instance_id,
      });
      // The child's lines since no admin read its output go to a file in the control folder
      // (it keeps writing there: its stderr pipe died with the admin that started it).
      const orphanLog = this.#o.control.orphanLog(this.#target.elementId);
      await this.#event(
        "lifecycle",
        `admin adopted the running risk process (pid ${child.pid}); its log: ${orphanLog}`,
        { pid: child.pid, instance_id: lease.instance_id, log: orphanLog },
      );
    } else {
      await this.#o.control.clearStop(this.#target.elementId);
      const spawned = spawnRiskChild(this.#o, this.#target.elementId, lease, (line) => {
        const parsed = parseConsoleLine(line);
        if (parsed.level === "error" || parsed.level === "fatal" || parsed.level === "warning") {
          lastError = parsed.text;
        }
        this.#log[parsed.level === "warning" ? "warn" : parsed.level]("{line}", {
          line: parsed.text,
        });
      });
      child = spawned.child;
      pumps = spawned.pumps;
      this.#log.info("started risk process (pid {pid}) on instance {instance} ({path})", {
        pid: child.pid,
        instance: lease.instance_id,
        path: lease.path,
      });
      await this.#event("lifecycle", `admin started the risk process (pid ${child.pid})`, {
        pid: child.pid,
        instance_id: lease.instance_id,
        pathway: lease.path,
        attempt: context.attempt,
      });
    }
    this.#pid = child.pid;

    const first = await untilAborted(child.exited, this.#stop.signal);
    let code: number;
    let killed = false;
    if (first === "aborted") {
      this.#log.info("stopping risk process (pid {pid}): {reason}", {
        pid: child.pid,
        reason: this.#stopReason,
      });
      const outcome = await stopProcess(child, {
        ask: () => this.#o.control.requestStop(this.#target.elementId, child.pid),
        timeoutMs: this.#o.timing.stopTimeoutMs,
      });
      code = outcome.code;
      killed = outcome.killed;
    } else {
      code = first;
    }
    // The child's last lines, unless a grandchild keeps its streams open.
    const linesDone = new AbortController();
    const linesTimer = setTimeout(() => linesDone.abort(), 1_000);
    await untilAborted(pumps, linesDone.signal);
    clearTimeout(linesTimer);
    this.#pid = null;
    if (killed) await this.#o.control.removeChild(this.#target.elementId, child.pid);
    const what = killed
      ? `did not stop within ${this.#o.timing.stopTimeoutMs} ms and was killed`
      : `exited with code ${code}`;
    // The last warning explains a failure; after a clean end it is only old news (a lock).
    const why = code === 0 && !killed ? "" : lastError;
    this.#log[code === 0 ? "info" : "warn"]("risk process (pid {pid}) {what}{last}", {
      pid: child.pid,
      what,
      last: why === "" ? "" : `: ${why}`,
    });
    await this.#event(
      code === 0 || first === "aborted" ? "lifecycle" : "error",
      `risk process ${what}${why === "" ? "" : `: ${why}`}`,
      { pid: child.pid, code, killed, last_error: why === "" ? null : why },
    );
    this.#adopted = null;

    if (first !== "aborted" && isCrash({ kind: "exit", code })) {
      // Restarted after the delay with the same lease: the instance stays this element's.
      this.#lease = lease;
      return code;
    }
    // Not restarted: the child releases its lease when it ends cleanly; otherwise admin does.
    this.#lease = null;
    if (code === ExitCode.InvalidInput && first !== "aborted") {
      const gone = await this.#goneOrDisabled();
      if (gone !== null) {
        // Disabled or deleted while the child started: a normal stop, not an input error.
        this.#log.info("risk process stopped: the element was {what} meanwhile", { what: gone });
        await this.#release(lease, { status: "INACTIVE" });
        return ExitCode.Ok;
      }
      const error: ElementError = {
        code: "CHILD_INPUT_ERROR",
        message: `risk process exited with code 2 (configuration or input error)` +
          (lastError === "" ? "" : `: ${lastError}`),
        at: this.#clock.now(),
      };
      // The child may have released the lease itself: then the element is marked unheld.
      if (!await this.#release(lease, { status: "ERROR", error })) await this.#markError(error);
    } else {
      await this.#release(lease, { status: "INACTIVE" });
    }
    return code;
  }

  /** `"DISABLED"` or `"deleted"` when the element is either now, else `null`. */
  async #goneOrDisabled(): Promise<string | null> {
    try {
      const current = await this.#o.store.getElement(this.#target.elementId);
      if (current === null) return "deleted";
      const status = current.valid ? current.element.status : current.raw.status;
      return status === "DISABLED" ? "DISABLED" : null;
    } catch {
      return null;
    }
  }

  async #release(
    lease: LeaseRef,
    options: { status: "INACTIVE" | "ERROR"; error?: ElementError },
  ): Promise<boolean> {
    try {
      await this.#o.store.release(lease, { ...options, now: this.#clock.now() });
      return true;
    } catch (error) {
      // LEASE_LOST: the child released it, or another manager holds the element now.
      if (!(error instanceof RiskGuardError && error.code === "LEASE_LOST")) {
        this.#log.warn("could not release lease {lease}: {error}", {
          lease: lease.lease,
          error: describeError(error),
        });
      }
      return false;
    }
  }

  async #markError(error: ElementError): Promise<void> {
    try {
      const current = await this.#o.store.getElement(this.#target.elementId);
      if (current === null || !current.valid) return;
      const element = current.element;
      if (element.status === "DISABLED" || element.instance_id !== null) return;
      await this.#o.store.setElementStatus(this.#target.elementId, "ERROR", {
        error,
        now: this.#clock.now(),
      });
      this.#log.error("element set to ERROR: {message}", { message: error.message });
    } catch (caught) {
      this.#log.warn("could not mark the element ERROR: {error}", {
        error: describeError(caught),
      });
    }
  }

  #onSuperviseEvent(event: SuperviseEvent): void {
    if (event.type === "ended" && event.restartInMs !== null) {
      this.#log.warn("restarting the risk process in {ms} ms (attempt {attempt})", {
        ms: event.restartInMs,
        attempt: event.attempt + 1,
      });
      void this.#event("lifecycle", `risk process restarts in ${event.restartInMs} ms`, {
        restart_in_ms: event.restartInMs,
        attempt: event.attempt + 1,
      });
    } else if (event.type === "gave_up") {
      this.#log.error("risk process gave up after {crashes} crashes", { crashes: event.crashes });
      void this.#event("error", `risk process given up after ${event.crashes} crashes`, {
        crashes: event.crashes,
        outcome: outcomeText(event.outcome),
      });
    }
  }

  async #event(type: string, message: string, detail: Record<string, unknown>): Promise<void> {
    try {
      await this.#o.store.appendEvent({
        element_id: this.#target.elementId,
        type,
        message,
        detail,
        host: this.#o.host,
        at: this.#clock.now(),
      });
    } catch (error) {
      this.#log.warn("could not record event ({message}): {error}", {
        message,
        error: describeError(error),
      });
    }
  }
}

function outcomeText(outcome: RunOutcome): string {
  return outcome.kind === "exit" ? `exit code ${outcome.code}` : describeError(outcome.error);
}

/**
 * Starts the risk child of `elementId` on `lease`: `--mode risk --element_id <id> --pathway
 * <path> --instance <id>`, its whole configuration in its environment ({@link
 * SupervisorOptions.env}), stdin closed, stdout/stderr relayed line by line to `onLine`, in a
 * session of its own (a Ctrl+C on admin's console reaches admin only, which stops its children
 * itself, in order; on Windows the child has no console at all).
 */
export function spawnRiskChild(
  o: Pick<SupervisorOptions, "env" | "command" | "spawn">,
  elementId: string,
  lease: LeaseRef & { path: string },
  onLine: (line: string) => void,
): { child: ChildProcess; pumps: Promise<void> } {
  const args = [
    "--mode",
    "risk",
    "--element_id",
    elementId,
    "--pathway",
    lease.path,
    "--instance",
    lease.instance_id,
  ];
  const child = (o.spawn ?? spawnProcess)((o.command ?? selfCommand)(args), {
    env: o.env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    detached: true,
  });
  const read = { readBytes: CHILD_READ_BYTES };
  const pumps = Promise.all([
    child.stdout === null ? undefined : forEachLine(child.stdout, onLine, read),
    child.stderr === null ? undefined : forEachLine(child.stderr, onLine, read),
  ]).then(() => {});
  return { child, pumps };
}

/** Resolves with `promise`'s value, or `"aborted"` as soon as `signal` aborts; leaves nothing. */
async function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T | "aborted"> {
  if (signal.aborted) return "aborted";
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<"aborted">((resolve) => {
    onAbort = () => resolve("aborted");
    signal.addEventListener("abort", onAbort, { once: true });
  });
  try {
    return await Promise.race([promise, aborted]);
  } finally {
    signal.removeEventListener("abort", onAbort!);
  }
}

/**
 * A running process started by an earlier admin, seen through its life lock in the control
 * folder: `exited` resolves when the system hands the lock over (the process is gone), with 0
 * when it removed its control record (it ended cleanly), else 1. `kill` acts only while the lock
 * is still held by the process that wrote the record naming `record.pid`: never on a pid that
 * may have been reused.
 */
function adoptedProcess(record: ChildRecord, control: ControlDir, elementId: string): ChildProcess {
  let gone = false;
  const exited = control.waitExit(elementId).catch(() => {}).then(async () => {
    gone = true;
    return (await control.readChild(elementId))?.pid === record.pid ? 1 : 0;
  });
  return {
    pid: record.pid,
    exited,
    kill: (signal: Deno.Signal = "SIGKILL") => {
      void control.probe(elementId).then((probe) => {
        if (gone || probe.state !== "alive" || probe.record.pid !== record.pid) return;
        try {
          Deno.kill(record.pid, signal);
        } catch {
          // gone already
        }
      });
    },
    stdin: null,
    stdout: null,
    stderr: null,
  };
}
