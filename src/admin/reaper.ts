/**
 * The reaper: every minute (configurable) instances whose `last_ping` is older than the stale
 * threshold become FREE, and elements held with a stale ping are released (ACTIVE ones become
 * INACTIVE, and the watchers then schedule them again). It reaps every host, not only its own:
 * the elements of a dead host are released by any live admin, so another host with FREE
 * instances takes them over. A local child whose lease was reaped is stopped.
 *
 * After the store was unreachable, the reaper waits until it has been reachable again for a
 * settling time before it reaps: during an outage longer than the stale threshold every ping
 * looks stale, and the children's queued pings must land first, or every account in the fleet
 * would be released at once. A child retries its queued writes with a backoff of up to
 * `DEFAULT_MAX_RETRY_MS` (`src/risk/write_queue.ts`), so after an outage the reaper waits that long plus two ping
 * intervals; at start (no outage seen) two ping intervals are enough.
 *
 * @module
 */
import type { Logger } from "../shared/logging.ts";
import { type Clock, systemClock } from "../shared/clock.ts";
import type { ReapResult, Store } from "../store/mod.ts";
import type { Scheduler } from "./scheduler.ts";
import type { Supervisor } from "./supervisor.ts";

/** Options of {@link reapOnce}. */
export interface ReaperOptions {
  /** The store. */
  store: Store;
  /** This admin's host (recorded on the events). */
  host: string;
  /** A lease without a ping for this long is stale, ms. */
  staleMs: number;
  /** Runs the children. */
  supervisor: Supervisor;
  /** Claims instances (poked when instances were freed). */
  scheduler: Scheduler;
  /** Admin's log. */
  log: Logger;
  /** Time source. */
  clock?: Clock;
}

/** Reaps only once the store has been reachable for a settling time (see the module comment). */
export class Reaper {
  readonly #o: ReaperOptions;
  readonly #settleMs: number;
  readonly #recoveryMs: number;
  readonly #clock: Clock;
  /** Since when the store answers; `null` while it fails (or before the first answer). */
  #reachableSince: number | null = null;
  /** True once the store failed: the longer recovery time applies from then on. */
  #failed = false;
  #waitLogged = false;

  /**
   * A reaper that waits `settleMs` of reachability at start, and `recoveryMs` (default
   * `settleMs`) after a failure: long enough for the children's backed-off retries to land.
   */
  constructor(options: ReaperOptions, settleMs: number, recoveryMs = settleMs) {
    this.#o = options;
    this.#settleMs = settleMs;
    this.#recoveryMs = Math.max(settleMs, recoveryMs);
    this.#clock = options.clock ?? systemClock;
  }

  /** Another loop saw the store fail: reaping waits for a settled store again. */
  storeFailed(): void {
    this.#reachableSince = null;
    this.#failed = true;
  }

  /** Another loop saw the store answer. */
  storeWorks(): void {
    this.#reachableSince ??= this.#clock.now();
  }

  /**
   * One round: reaps when the store has been reachable long enough, else returns `null`.
   * Store errors propagate (the caller pauses and retries).
   */
  async round(): Promise<ReapResult | null> {
    try {
      if (this.#reachableSince === null) {
        await this.#o.store.listAgents();
        this.storeWorks();
      }
      const reachableFor = this.#clock.now() - this.#reachableSince!;
      const settleMs = this.#failed ? this.#recoveryMs : this.#settleMs;
      if (reachableFor < settleMs) {
        if (!this.#waitLogged) {
          this.#o.log.info(
            "reaping waits until the store has been reachable for {seconds} s (queued pings " +
              "land first)",
            { seconds: Math.round(settleMs / 1000) },
          );
        }
        this.#waitLogged = true;
        return null;
      }
      this.#waitLogged = false;
      return await reapOnce(this.#o);
    } catch (error) {
      this.storeFailed();
      throw error;
    }
  }
}

/** One reaper round. Store errors propagate (the caller pauses and retries). */
export async function reapOnce(options: ReaperOptions): Promise<ReapResult> {
  const now = (options.clock ?? systemClock).now();
  const result = await options.store.reap({
    now,
    instanceStaleMs: options.staleMs,
    elementStaleMs: options.staleMs,
  });
  if (result.instances === 0 && result.elements.length === 0) return result;
  const seconds = Math.round(options.staleMs / 1000);
  options.log.warn(
    "reaped stale leases (no ping for {seconds} s): {instances} instance(s) freed, elements {elements}",
    { seconds, instances: result.instances, elements: result.elements.join(", ") || "-" },
  );
  for (const id of result.elements) {
    await options.store.appendEvent({
      element_id: id,
      type: "lifecycle",
      message: `lease reaped by admin on host ${options.host}: no ping for ${seconds} s`,
      detail: { stale_after_ms: options.staleMs },
      host: options.host,
      at: now,
    }).catch(() => {});
    if (options.supervisor.has(id)) void options.supervisor.stop(id, "its lease was reaped");
  }
  options.scheduler.poke();
  return result;
}
