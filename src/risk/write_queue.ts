/**
 * Ordered, bounded queue of store writes for the risk process, so that enforcement never waits
 * for the database and nothing important is lost while it is unreachable.
 *
 * - Writes run one at a time in submission order, never in the turn that submits them: the
 *   caller (enforcement) finishes its turn first. A store that writes synchronously (SQLite)
 *   holds the event loop for at most about {@link WRITE_SLICE_MS} before the queue yields it.
 * - A write that fails with a transient error (store unreachable) stays at the head and is
 *   retried with backoff; the queue is "offline" until it succeeds.
 * - Writes with the same coalescing key (metrics, pings, state fields) replace the one still
 *   waiting (the newer one goes to the end of the queue), so a long outage keeps only the
 *   latest of each and never lets an older value land after a newer one.
 * - Beyond `maxPending`, the oldest metrics are dropped first, then the oldest pings; events and
 *   state changes are never dropped.
 * - A fatal error (a lost lease) stops the queue and is reported once through `onFatal`.
 *
 * @module
 */
import type { Logger } from "../shared/logging.ts";
import { describeError, RiskGuardError } from "../shared/errors.ts";
import { exponentialBackoff } from "../shared/backoff.ts";

/** What a write is, which decides coalescing and dropping. */
export type WriteKind = "event" | "state" | "metrics" | "ping";

/** One write waiting to reach the store. */
export interface Write {
  /** Events are never coalesced or dropped; metrics are dropped first when the queue is full. */
  kind: WriteKind;
  /** Writes of the same kind and key replace each other while waiting (ignored for events). */
  key?: string;
  /** Performs the write. */
  run(): Promise<void>;
}

/** Options of {@link WriteQueue}. */
export interface WriteQueueOptions {
  /** Writes kept while offline before metrics and pings are dropped. */
  maxPending?: number;
  /** First retry delay while offline; doubles up to `maxRetryMs`. */
  retryMs?: number;
  /** Longest retry delay. */
  maxRetryMs?: number;
  /** True for errors worth retrying; default: `RiskGuardError` with code STORE_UNAVAILABLE. */
  isTransient?: (error: unknown) => boolean;
  /** True for errors that must stop the process; default: code LEASE_LOST. */
  isFatal?: (error: unknown) => boolean;
  /** Called once with the first fatal error. */
  onFatal?: (error: unknown) => void;
  /** Called when the queue goes offline or back online. */
  onOnlineChange?: (online: boolean) => void;
  /** Logger for dropped and failed writes. */
  log?: Logger | undefined;
}

/** Counters of a {@link WriteQueue}. */
export interface WriteQueueStats {
  written: number;
  coalesced: number;
  dropped: number;
  failed: number;
  retries: number;
}

/** Time writes may hold the event loop in a row before the queue yields it, ms. */
const WRITE_SLICE_MS = 1;
/** Replaced writes tolerated in the queue before they are dropped from it. */
const COMPACT_AFTER = 64;

/** Longest retry delay of a queue by default, ms (admin's reaper waits this out after an outage). */
export const DEFAULT_MAX_RETRY_MS = 10_000;

/** See the module documentation. */
export class WriteQueue {
  /** Waiting writes in order, with the ones a newer write replaced still in place (skipped). */
  #pending: Write[] = [];
  /** Writes in `#pending` that a newer write of the same kind and key replaced. */
  readonly #superseded = new Set<Write>();
  /** The waiting write of each coalescing key (kind and key), for a lookup without a scan. */
  readonly #waiting = new Map<string, Write>();
  /** Waiting writes of each kind (without the superseded ones). */
  readonly #counts: Record<WriteKind, number> = { event: 0, state: 0, metrics: 0, ping: 0 };
  readonly #options: Required<Omit<WriteQueueOptions, "log" | "onFatal" | "onOnlineChange">>;
  readonly #onFatal: ((error: unknown) => void) | undefined;
  readonly #onOnlineChange: ((online: boolean) => void) | undefined;
  readonly #log: Logger | undefined;
  readonly #stats: WriteQueueStats = {
    written: 0,
    coalesced: 0,
    dropped: 0,
    failed: 0,
    retries: 0,
  };
  #inFlight: Write | undefined;
  #worker: Promise<void> | undefined;
  #online = true;
  #stopped = false;
  #wake: (() => void) | undefined;
  readonly #idleWaiters: Array<() => void> = [];

  /** Creates an empty queue. */
  constructor(options: WriteQueueOptions = {}) {
    this.#options = {
      maxPending: options.maxPending ?? 1_000,
      retryMs: options.retryMs ?? 250,
      maxRetryMs: options.maxRetryMs ?? DEFAULT_MAX_RETRY_MS,
      isTransient: options.isTransient ?? ((error) => hasCode(error, "STORE_UNAVAILABLE")),
      isFatal: options.isFatal ?? ((error) => hasCode(error, "LEASE_LOST")),
    };
    this.#onFatal = options.onFatal;
    this.#onOnlineChange = options.onOnlineChange;
    this.#log = options.log;
  }

  /** False while the store is unreachable. */
  get online(): boolean {
    return this.#online;
  }

  /** Writes waiting (not counting the one in flight). */
  get pending(): number {
    return this.#pending.length - this.#superseded.size;
  }

  /** Writes held in memory, replaced ones not yet dropped included (bounded: see `#supersede`). */
  get held(): number {
    return this.#pending.length;
  }

  /** True while a state or metrics write (trading, day, peak) has not reached the store. */
  get stateUnwritten(): boolean {
    const kind = this.#inFlight?.kind;
    return kind === "state" || kind === "metrics" || this.#counts.state + this.#counts.metrics > 0;
  }

  /** Counters so far. */
  get stats(): Readonly<WriteQueueStats> {
    return { ...this.#stats };
  }

  /** Adds a write and returns at once. */
  submit(write: Write): void {
    if (this.#stopped) return;
    if (write.kind !== "event") {
      // The newer write replaces the waiting one and takes its place at the end: writes of other
      // keys submitted in between may touch the same fields, and the latest must land last.
      const key = coalescingKey(write);
      const waiting = this.#waiting.get(key);
      if (waiting !== undefined) {
        this.#supersede(waiting);
        this.#stats.coalesced++;
      }
      this.#waiting.set(key, write);
    }
    this.#pending.push(write);
    this.#counts[write.kind]++;
    this.#enforceBound();
    this.#kick();
  }

  /** Resolves true once every submitted write is done, false after `timeoutMs`. */
  async flush(timeoutMs = 5_000): Promise<boolean> {
    if (this.#isIdle()) return true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let waiter!: () => void;
    const idle = new Promise<boolean>((resolve) => {
      waiter = () => resolve(true);
      this.#idleWaiters.push(waiter);
    });
    const timeout = new Promise<boolean>((resolve) =>
      timer = setTimeout(resolve, timeoutMs, false)
    );
    const result = await Promise.race([idle, timeout]);
    clearTimeout(timer);
    // Timed out: the waiter goes too, or every flush of a long outage would stay behind.
    const left = this.#idleWaiters.indexOf(waiter);
    if (left >= 0) this.#idleWaiters.splice(left, 1);
    return result;
  }

  /** Stops the queue; writes still waiting are abandoned. */
  async close(): Promise<void> {
    this.#stopped = true;
    this.#wake?.();
    await this.#worker;
  }

  #isIdle(): boolean {
    return this.pending === 0 && this.#inFlight === undefined;
  }

  /** Marks a waiting write as replaced: it stays in place and is skipped when its turn comes. */
  #supersede(write: Write): void {
    this.#superseded.add(write);
    this.#counts[write.kind]--;
    const key = coalescingKey(write);
    if (this.#waiting.get(key) === write) this.#waiting.delete(key);
    // During an outage the worker retries the head and never reaches the replaced writes: drop
    // them once they outnumber the live ones, or every metrics listing of a long outage stays.
    if (this.#superseded.size > Math.max(COMPACT_AFTER, this.pending)) {
      this.#pending = this.#pending.filter((w) => !this.#superseded.has(w));
      this.#superseded.clear();
    }
  }

  /** The next write to run (removed from the queue), or undefined when none waits. */
  #takeNext(): Write | undefined {
    for (;;) {
      const write = this.#pending.shift();
      if (write === undefined) return undefined;
      if (this.#superseded.delete(write)) continue;
      this.#counts[write.kind]--;
      if (write.kind !== "event") {
        const key = coalescingKey(write);
        if (this.#waiting.get(key) === write) this.#waiting.delete(key);
      }
      return write;
    }
  }

  /** Puts a write that failed back at the head of the queue. */
  #putBack(write: Write): void {
    this.#pending.unshift(write);
    this.#counts[write.kind]++;
    if (write.kind !== "event") this.#waiting.set(coalescingKey(write), write);
  }

  #enforceBound(): void {
    while (this.pending > this.#options.maxPending) {
      // Only events and state changes left: keep them all (counted, so no scan finds nothing).
      const kind = this.#counts.metrics > 0 ? "metrics" : this.#counts.ping > 0 ? "ping" : null;
      if (kind === null) return;
      const dropped = this.#pending.find((w) => w.kind === kind && !this.#superseded.has(w))!;
      this.#supersede(dropped);
      this.#stats.dropped++;
      this.#log?.debug("store offline: dropped a waiting {kind} write", { kind });
    }
  }

  #kick(): void {
    // A worker is running, or sleeping out a retry backoff: it takes the new write in turn. Waking
    // it here would retry an unreachable store once per new write instead of by the backoff.
    if (this.#worker !== undefined) return;
    this.#worker = nextTurn().then(() => this.#work()).finally(() => {
      this.#worker = undefined;
    });
  }

  async #work(): Promise<void> {
    const backoff = {
      baseMs: this.#options.retryMs,
      maxMs: Math.max(this.#options.retryMs, this.#options.maxRetryMs),
    };
    /** Transient failures since the last write that succeeded. */
    let failures = 0;
    let sliceStart = performance.now();
    while (!this.#stopped && this.pending > 0) {
      const write = this.#takeNext()!;
      this.#inFlight = write;
      try {
        await write.run();
        this.#stats.written++;
        failures = 0;
        this.#setOnline(true);
      } catch (error) {
        if (this.#options.isFatal(error)) {
          this.#stopped = true;
          this.#onFatal?.(error);
        } else if (this.#options.isTransient(error)) {
          // Put it back at the head, unless a newer write of the same key replaced it meanwhile.
          const replaced = write.kind !== "event" && this.#waiting.has(coalescingKey(write));
          if (!replaced) this.#putBack(write);
          this.#stats.retries++;
          this.#setOnline(false);
          await this.#sleep(exponentialBackoff(failures++, backoff));
        } else {
          this.#stats.failed++;
          this.#log?.error("store write failed and was abandoned: {error}", {
            kind: write.kind,
            error: describeError(error),
          });
        }
      } finally {
        this.#inFlight = undefined;
      }
      // A store may write synchronously (SQLite): a long queue must not hold a snapshot that
      // arrives meanwhile for all of its writes. A turn costs a millisecond or more (timers),
      // so writes share a slice rather than take a turn each (which let the queue fall behind).
      if (this.pending > 0 && performance.now() - sliceStart >= WRITE_SLICE_MS) {
        await nextTurn();
        sliceStart = performance.now();
      }
    }
    if (this.#isIdle() || this.#stopped) {
      for (const resolve of this.#idleWaiters.splice(0)) resolve();
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      this.#wake = done;
      function done() {
        clearTimeout(timer);
        resolve();
      }
    }).finally(() => {
      this.#wake = undefined;
    });
  }

  #setOnline(online: boolean): void {
    if (this.#online === online) return;
    this.#online = online;
    this.#onOnlineChange?.(online);
  }
}

/**
 * Resolves on a later turn of the event loop, after pending IO callbacks: the turn that submits
 * a write (the one that decides and sends protective commands) never runs it.
 */
function nextTurn(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/** Writes with the same one replace each other while waiting. */
function coalescingKey(write: Write): string {
  return `${write.kind}\u0000${write.key ?? ""}`;
}

function hasCode(error: unknown, code: string): boolean {
  return error instanceof RiskGuardError && error.code === code;
}
