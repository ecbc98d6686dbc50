/**
 * The scheduler: decides which elements this host should guard and claims a FREE instance for
 * each (a fenced lease, {@link Store.claimFreeInstance}), oldest waiting first. It never blocks
 * the feed: the watcher only queues ids; one worker drains the queue.
 *
 * - With no FREE instance the element stays `PENDING` with a readable reason ("no FREE instance
 *   on host vps-1; 0 of 3 free") and waits; it is retried as soon as an instance of this host
 *   is freed or added (checked every `waitPollMs`), and by the sweep.
 * - An invalid element is marked `ERROR` with the field and the reason, never launched.
 * - A FREE instance whose terminal folder does not exist (or whose `sim:` scenario is unknown) is
 *   marked `UNUSABLE` with the reason and never claimed; it becomes FREE again by itself once
 *   its folder exists.
 * - While the store is unreachable the queue waits (nothing is lost, nothing is claimed twice:
 *   claims are atomic in the store).
 *
 * @module
 */
import type { Logger } from "../shared/logging.ts";
import { type Clock, systemClock } from "../shared/clock.ts";
import { describeError, RiskGuardError } from "../shared/errors.ts";
import { abortableSleep } from "../shared/async.ts";
import { parseSimPathway } from "../mt5/sim/pathway.ts";
import type { Instance, LeaseRef, ParsedElement, Store } from "../store/mod.ts";
import type { ChildTarget, Supervisor } from "./supervisor.ts";

/** Options of {@link Scheduler}. */
export interface SchedulerOptions {
  /** The store. */
  store: Store;
  /** This admin's host. */
  host: string;
  /** Starts the children. */
  supervisor: Supervisor;
  /** Admin's log. */
  log: Logger;
  /** How often waiting elements look for a FREE instance, ms. */
  waitPollMs: number;
  /** Time source. */
  clock?: Clock;
}

/** Why an element is (not) for this host to start now. */
export type Decision =
  | { start: true }
  | { start: false; invalid?: { field: string; reason: string } };

/**
 * Whether `parsed` should be started by `host`: valid, not `DISABLED`/`ERROR`, not pinned to
 * another host, and held by nobody (a held element with a stale ping is released by a reaper
 * first).
 */
export function decide(parsed: ParsedElement, host: string): Decision {
  if (!parsed.valid) {
    const status = parsed.raw.status;
    const held = typeof parsed.raw.instance_id === "string";
    if (status === "ERROR" || status === "DISABLED" || held) return { start: false };
    const pin = parsed.raw.pin_host;
    if (typeof pin === "string" && pin !== host) return { start: false };
    return { start: false, invalid: { field: parsed.field, reason: parsed.reason } };
  }
  const e = parsed.element;
  if (e.status === "DISABLED" || e.status === "ERROR") return { start: false };
  if (e.pin_host !== undefined && e.pin_host !== host) return { start: false };
  if (e.instance_id !== null) return { start: false };
  return { start: true };
}

/** Claims instances for the elements that need one, oldest waiting first. */
export class Scheduler {
  readonly #o: SchedulerOptions;
  readonly #clock: Clock;
  /** Waiting element ids, in the order they started waiting (Map keeps insertion order). */
  readonly #queue = new Map<string, number>();
  /** Elements between their claim and their child's start (not to be taken for orphans). */
  readonly #claiming = new Set<string>();
  #wake: AbortController | undefined;
  #dirty = false;
  /** Claims run one at a time: a round, a restart's hand-over, never interleaved. */
  #exclusive: Promise<unknown> = Promise.resolve();

  /** Creates a scheduler; {@link Scheduler.run} drains its queue. */
  constructor(options: SchedulerOptions) {
    this.#o = options;
    this.#clock = options.clock ?? systemClock;
  }

  /** Ids waiting for an instance, oldest first. */
  get waiting(): string[] {
    return [...this.#queue.keys()];
  }

  /**
   * Looks at an element (from the feed or a sweep): queues it when this host should start it,
   * marks it `ERROR` when it is invalid. Never waits for the store.
   */
  consider(parsed: ParsedElement): void {
    if (this.#o.supervisor.has(parsed.id)) return;
    const decision = decide(parsed, this.#o.host);
    if (decision.start) {
      if (!this.#queue.has(parsed.id)) {
        const since = parsed.valid ? parsed.element.created_at ?? this.#clock.now() : 0;
        this.#queue.set(parsed.id, since);
      }
      this.poke();
    } else {
      this.#queue.delete(parsed.id);
      if (decision.invalid !== undefined) void this.#markInvalid(parsed.id, decision.invalid);
    }
  }

  /** Forgets an element (deleted). */
  forget(id: string): void {
    this.#queue.delete(id);
  }

  /** True while a claim for `id` is on its way to the supervisor. */
  claiming(id: string): boolean {
    return this.#claiming.has(id);
  }

  /** Runs a claim round soon (an instance may be free now). */
  poke(): void {
    this.#dirty = true;
    this.#wake?.abort();
  }

  /** Drains the queue until `signal` aborts. */
  async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      if (this.#dirty || this.#queue.size > 0) {
        this.#dirty = false;
        try {
          await this.#serial(() => this.#round(signal));
        } catch (error) {
          this.#o.log.warn("scheduling paused: {error}", { error: describeError(error) });
        }
      }
      const wake = new AbortController();
      this.#wake = wake;
      const onStop = () => wake.abort();
      signal.addEventListener("abort", onStop, { once: true });
      await abortableSleep(this.#o.waitPollMs, wake.signal);
      signal.removeEventListener("abort", onStop);
      this.#wake = undefined;
    }
  }

  /** Runs `body` after every claim before it has finished. */
  #serial<T>(body: () => Promise<T>): Promise<T> {
    const result = this.#exclusive.then(body);
    this.#exclusive = result.catch(() => {});
    return result;
  }

  /**
   * Claims the element again for a restart of its child; `null` when it is not this host's to
   * run now (then it is queued like any other waiting element when it still needs guarding).
   * `kept` is the crashed child's lease, still held: it is released and the element claimed
   * again in one step that no other claim of this admin can come between, so the instance it
   * frees is there for the element (a fresh lease is needed: the next child adopts only a claim
   * that was never pinged). Waits through store outages.
   */
  async reclaim(
    id: string,
    signal: AbortSignal,
    kept: LeaseRef | null = null,
  ): Promise<(LeaseRef & { path: string }) | null> {
    while (!signal.aborted) {
      try {
        return await this.#serial(async () => {
          if (kept !== null) {
            await this.#o.store.release(kept, { status: "INACTIVE", now: this.#clock.now() })
              .catch((error) => {
                // Reaped or taken meanwhile: then it is claimed like any other element.
                if (!(error instanceof RiskGuardError && error.code === "LEASE_LOST")) throw error;
              });
            kept = null;
          }
          const parsed = await this.#o.store.getElement(id);
          if (parsed === null || !decide(parsed, this.#o.host).start) return null;
          await this.checkInstances();
          const lease = await this.#o.store.claimFreeInstance(id, this.#o.host, this.#clock.now());
          return { ...lease, path: lease.instance.path };
        });
      } catch (error) {
        if (error instanceof RiskGuardError && error.code === "STORE_UNAVAILABLE") {
          await abortableSleep(this.#o.waitPollMs, signal);
          continue;
        }
        if (error instanceof RiskGuardError && error.code === "CLAIM_FAILED") {
          // No FREE instance: the scheduler takes it from here once the slot has ended.
          setTimeout(() => void this.#requeue(id), 0);
        }
        return null;
      }
    }
    return null;
  }

  async #requeue(id: string): Promise<void> {
    const parsed = await this.#o.store.getElement(id).catch(() => null);
    if (parsed !== null) this.consider(parsed);
  }

  async #round(signal: AbortSignal): Promise<void> {
    if (this.#queue.size === 0) return;
    await this.checkInstances();
    const order = [...this.#queue.entries()].sort((a, b) => a[1] - b[1]).map(([id]) => id);
    let noneFree = false;
    for (const id of order) {
      if (signal.aborted) return;
      if (!this.#queue.has(id)) continue;
      const parsed = await this.#o.store.getElement(id);
      if (parsed === null || this.#o.supervisor.has(id) || !decide(parsed, this.#o.host).start) {
        this.#queue.delete(id);
        if (parsed !== null) this.consider(parsed);
        continue;
      }
      if (noneFree) {
        await this.#markWaiting(parsed);
        continue;
      }
      this.#claiming.add(id);
      try {
        const lease = await this.#o.store.claimFreeInstance(id, this.#o.host, this.#clock.now());
        this.#queue.delete(id);
        const target: ChildTarget = {
          elementId: id,
          login: parsed.valid ? parsed.element.login : 0,
          lease: { ...lease, path: lease.instance.path },
        };
        this.#o.log.info("claimed instance {instance} ({path}) for element {id}, lease {lease}", {
          instance: lease.instance_id,
          path: lease.instance.path,
          id,
          lease: lease.lease,
        });
        this.#o.supervisor.start(target);
      } catch (error) {
        if (!(error instanceof RiskGuardError)) throw error;
        if (error.code === "CLAIM_FAILED" && /no FREE instance/.test(error.message)) {
          noneFree = true;
          await this.#markWaiting(parsed);
        } else if (error.code === "STORE_UNAVAILABLE") {
          throw error;
        } else {
          // Held by another host (it won the race), disabled or deleted meanwhile.
          this.#queue.delete(id);
          this.#o.log.debug("element {id} not claimed: {error}", { id, error: error.message });
        }
      } finally {
        this.#claiming.delete(id);
      }
    }
  }

  /** Sets `PENDING` with the reason, once (an unchanged reason is not written again). */
  async #markWaiting(parsed: ParsedElement): Promise<void> {
    const instances = await this.#o.store.listInstances({ host: this.#o.host });
    const free = instances.filter((instance) => instance.status === "FREE").length;
    const message = `no FREE instance on host ${this.#o.host}; ${free} of ${instances.length} free`;
    if (!parsed.valid) return;
    const e = parsed.element;
    if (e.instance_id !== null) return;
    if (e.status === "PENDING" && e.error?.code === "NO_FREE_INSTANCE") return;
    await this.#o.store.setElementStatus(parsed.id, "PENDING", {
      error: { code: "NO_FREE_INSTANCE", message, at: this.#clock.now() },
      now: this.#clock.now(),
    });
    this.#o.log.warn("element {id} waits: {message}", { id: parsed.id, message });
  }

  async #markInvalid(id: string, invalid: { field: string; reason: string }): Promise<void> {
    const message = `invalid element: ${invalid.field} ${invalid.reason}`;
    try {
      await this.#o.store.setElementStatus(id, "ERROR", {
        error: { code: "ELEMENT_INVALID", message, at: this.#clock.now() },
        now: this.#clock.now(),
      });
      await this.#o.store.appendEvent({
        element_id: id,
        type: "error",
        message: `admin did not start the element: ${message}`,
        detail: { field: invalid.field, reason: invalid.reason },
        host: this.#o.host,
      });
      this.#o.log.error("element {id} set to ERROR: {message}", { id, message });
    } catch (error) {
      this.#o.log.warn("could not mark element {id} ERROR: {error}", {
        id,
        error: describeError(error),
      });
    }
  }

  /**
   * Marks FREE instances of this host whose terminal is missing as `UNUSABLE` (with the reason
   * and an event), and `UNUSABLE` ones whose terminal is back as FREE.
   */
  async checkInstances(): Promise<void> {
    const instances = await this.#o.store.listInstances({ host: this.#o.host });
    for (const instance of instances) {
      if (instance.status === "OCCUPIED") continue;
      const problem = await instanceProblem(instance);
      if (problem === null && instance.status === "UNUSABLE") {
        if (await this.#o.store.setInstanceUsable(instance._id, null, this.#clock.now())) {
          this.#o.log.info("instance {id} ({path}) is usable again", {
            id: instance._id,
            path: instance.path,
          });
        }
      } else if (problem !== null && instance.status === "FREE") {
        if (await this.#o.store.setInstanceUsable(instance._id, problem, this.#clock.now())) {
          this.#o.log.error("instance {id} marked UNUSABLE: {problem}", {
            id: instance._id,
            problem,
          });
        }
      }
    }
  }
}

/** Why an instance cannot run a terminal, or `null`. */
export async function instanceProblem(instance: Instance): Promise<string | null> {
  try {
    // The pathway's syntax alone (sim/pathway.ts): admin does not load the simulator.
    if (parseSimPathway(instance.path) !== undefined) return null;
  } catch (error) {
    return describeError(error);
  }
  try {
    const info = await Deno.stat(instance.path);
    return info.isDirectory ? null : `terminal folder ${instance.path} is not a folder`;
  } catch {
    return `terminal folder ${instance.path} does not exist`;
  }
}
