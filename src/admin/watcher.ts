/**
 * The watcher: opens the element feed with this host's durable resume key (it starts with a
 * reconcile of every element, then delivers changes) and hands every element to the scheduler
 * or the supervisor. An insert schedules the element; `DISABLED`, a delete, or a pin to another
 * host stops its child; a settings change is left to the risk process, which applies it live.
 * A periodic sweep repeats the reconcile, so a missed event can delay an account but never lose
 * it. A feed failure (store outage) pauses the watcher; it reopens and reconciles again.
 *
 * @module
 */
import type { Logger } from "../shared/logging.ts";
import { abortableSleep } from "../shared/async.ts";
import { describeError } from "../shared/errors.ts";
import type { ElementChange, ParsedElement, Store } from "../store/mod.ts";
import type { Scheduler } from "./scheduler.ts";
import type { Supervisor } from "./supervisor.ts";

/** Options of {@link Watcher}. */
export interface WatcherOptions {
  /** The store. */
  store: Store;
  /** This admin's host (also the feed's resume key). */
  host: string;
  /** Claims instances. */
  scheduler: Scheduler;
  /** Runs the children. */
  supervisor: Supervisor;
  /** Admin's log. */
  log: Logger;
  /** Delay before a failed feed is reopened, ms. */
  retryMs: number;
  /** SQLite: how often the change table is polled, ms. */
  pollIntervalMs?: number;
  /** Told every change of the feed too (the store channel's children's feeds: one stream). */
  onChange?: (change: ElementChange) => void;
}

/** Feeds element changes and sweeps to the scheduler and the supervisor. */
export class Watcher {
  readonly #o: WatcherOptions;
  #synced = false;

  /** Creates a watcher; {@link Watcher.run} opens the feed. */
  constructor(options: WatcherOptions) {
    this.#o = options;
  }

  /** True once the first reconcile has been delivered. */
  get synced(): boolean {
    return this.#synced;
  }

  /** Consumes the feed until `signal` aborts, reopening it after failures. */
  async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      const feed = this.#o.store.watchElements({
        resumeKey: this.#o.host,
        ...(this.#o.pollIntervalMs === undefined ? {} : { pollIntervalMs: this.#o.pollIntervalMs }),
      });
      const onAbort = () => void feed.close().catch(() => {});
      signal.addEventListener("abort", onAbort, { once: true });
      try {
        for await (const change of feed) {
          if (signal.aborted) break;
          this.#handle(change);
          this.#o.onChange?.(change);
        }
      } catch (error) {
        this.#o.log.warn(
          "element feed failed; scheduling paused, children keep guarding: {error}",
          {
            error: describeError(error),
          },
        );
      } finally {
        signal.removeEventListener("abort", onAbort);
        await feed.close().catch(() => {});
      }
      await abortableSleep(this.#o.retryMs, signal);
    }
  }

  /** Reconciles every element again (the periodic sweep). */
  async sweep(): Promise<void> {
    const elements = await this.#o.store.listElements();
    const ids = new Set(elements.map((parsed) => parsed.id));
    for (const parsed of elements) this.#upsert(parsed);
    for (const child of this.#o.supervisor.children()) {
      if (!ids.has(child.elementId)) {
        void this.#o.supervisor.stop(child.elementId, "element deleted");
      }
    }
  }

  #handle(change: ElementChange): void {
    if (change.op === "synced") {
      if (!this.#synced) this.#o.log.info("element feed reconciled");
      this.#synced = true;
      this.#o.scheduler.poke();
      return;
    }
    if (change.op === "delete") {
      this.#o.scheduler.forget(change.id);
      if (this.#o.supervisor.has(change.id)) {
        void this.#o.supervisor.stop(change.id, "element deleted");
      }
      return;
    }
    this.#upsert(change.element);
  }

  #upsert(parsed: ParsedElement): void {
    if (this.#o.supervisor.has(parsed.id)) {
      const reason = stopReason(parsed, this.#o.host);
      if (reason !== null) void this.#o.supervisor.stop(parsed.id, reason);
      return;
    }
    this.#o.scheduler.consider(parsed);
  }
}

/** Why a running child of `parsed` must stop, or `null`. */
function stopReason(parsed: ParsedElement, host: string): string | null {
  const status = parsed.valid ? parsed.element.status : parsed.raw.status;
  if (status === "DISABLED") return "element DISABLED";
  const pin = parsed.valid ? parsed.element.pin_host : parsed.raw.pin_host;
  if (typeof pin === "string" && pin !== host) return `element pinned to host ${pin}`;
  return null;
}
