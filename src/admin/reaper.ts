/**
 * The reaper: every minute (configurable) instances whose `last_ping` is older than the stale
 * threshold become FREE, and elements held with a stale ping are released (ACTIVE ones become
 * INACTIVE, and the watchers then schedule them again). It reaps every host, not only its own:
 * the elements of a dead host are released by any live admin, so another host with FREE
 * instances takes them over. A local child whose lease was reaped is stopped.
 *
 * @module
 */
import type { Logger } from "@logtape/logtape";
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
