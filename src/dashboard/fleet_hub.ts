/**
 * The dashboard's one view of the fleet: a single element change feed per dashboard process
 * (not one per browser tab), plus one refresh per second for the figures the feed leaves out,
 * kept as {@link FleetRow}s and fanned out to every subscriber (every open SSE stream).
 *
 * The feed delivers status, trading and lock changes at once. It deliberately skips writes
 * that only touch `metrics` or `last_ping` (a risk process makes one every few seconds), so
 * equity, P/L and ping ages come from the refresh, which reads every element once a second.
 *
 * @module
 */
import type { EventRecord, Instance, ParsedElement, Store } from "../store/mod.ts";
import { abortableSleep } from "../shared/async.ts";
import { describeError } from "../shared/errors.ts";
import { logger } from "../shared/logging.ts";
import { type FleetRow, fleetRow } from "./rows.ts";

/** One change of the fleet, as sent to subscribers. */
export type FleetUpdate =
  | { type: "row"; row: FleetRow }
  | { type: "remove"; id: string };

/** Options of {@link FleetHub}. */
export interface FleetHubOptions {
  /** How often metrics, pings and last events are re-read, ms (default 1 000). */
  refreshMs?: number;
}

/** Every how many refreshes the last event of every element is re-read (events that came
 * without any change of their element, e.g. a command and its ack). */
const EVENT_SWEEP_EVERY = 5;

/** The fleet as rows, kept current from the store's change feed. */
export class FleetHub {
  #store: Store;
  #refreshMs: number;
  #elements = new Map<string, ParsedElement>();
  #instances = new Map<string, Instance>();
  #lastEvents = new Map<string, EventRecord | undefined>();
  #rows = new Map<string, FleetRow>();
  #rowJson = new Map<string, string>();
  #subscribers = new Set<(update: FleetUpdate) => void>();
  #synced: Promise<void>;
  #markSynced!: () => void;

  /** Creates the hub; {@link FleetHub.run} brings it to life. */
  constructor(store: Store, options: FleetHubOptions = {}) {
    this.#store = store;
    this.#refreshMs = options.refreshMs ?? 1_000;
    this.#synced = new Promise((resolve) => this.#markSynced = resolve);
  }

  /** Resolves once every element has been read (the first reconcile of the feed). */
  get synced(): Promise<void> {
    return this.#synced;
  }

  /** Current rows, sorted by login then id. */
  rows(): FleetRow[] {
    return [...this.#rows.values()].sort((a, b) =>
      (a.login ?? 0) - (b.login ?? 0) || a.id.localeCompare(b.id)
    );
  }

  /** The row of one element. */
  row(id: string): FleetRow | undefined {
    return this.#rows.get(id);
  }

  /** The element behind a row, as last read. */
  element(id: string): ParsedElement | undefined {
    return this.#elements.get(id);
  }

  /** Instances as last read (refreshed every second). */
  instances(): Instance[] {
    return [...this.#instances.values()];
  }

  /** Calls `listener` with every change until the returned function is called. */
  subscribe(listener: (update: FleetUpdate) => void): () => void {
    this.#subscribers.add(listener);
    return () => this.#subscribers.delete(listener);
  }

  /** Number of current subscribers (open streams). */
  get subscriberCount(): number {
    return this.#subscribers.size;
  }

  /** Re-reads one element and its last event now (after an action from the dashboard). */
  async refreshElement(id: string): Promise<void> {
    const parsed = await this.#store.getElement(id);
    if (parsed === null) return this.#remove(id);
    this.#lastEvents.set(id, (await this.#store.listEvents(id, { limit: 1 }))[0]);
    this.#elements.set(id, parsed);
    this.#rebuild(id);
  }

  /**
   * Runs the feed and the refresh until `signal` aborts. A failing feed is reopened after a
   * pause (the store may be down for a while); the last rows stay visible meanwhile.
   */
  async run(signal: AbortSignal): Promise<void> {
    await Promise.all([this.#runFeed(signal), this.#runRefresh(signal)]);
  }

  async #runFeed(signal: AbortSignal): Promise<void> {
    const log = logger("dashboard", "feed");
    while (!signal.aborted) {
      const feed = this.#store.watchElements();
      const stop = () => void feed.close();
      signal.addEventListener("abort", stop, { once: true });
      try {
        for await (const change of feed) {
          if (change.op === "synced") this.#markSynced();
          else if (change.op === "delete") this.#remove(change.id);
          else await this.#upsert(change.element);
        }
      } catch (error) {
        if (!signal.aborted) {
          log.warn("Element feed failed, reopening in 2 s: {error}", {
            error: describeError(error),
          });
        }
      } finally {
        signal.removeEventListener("abort", stop);
        await feed.close().catch(() => {});
      }
      await abortableSleep(2_000, signal);
    }
  }

  async #runRefresh(signal: AbortSignal): Promise<void> {
    const log = logger("dashboard", "refresh");
    for (let tick = 1; !signal.aborted; tick++) {
      await abortableSleep(this.#refreshMs, signal);
      if (signal.aborted) break;
      try {
        await this.#refresh(tick % EVENT_SWEEP_EVERY === 0);
      } catch (error) {
        if (!signal.aborted) log.warn("Refresh failed: {error}", { error: describeError(error) });
      }
    }
  }

  /** Re-reads every element and instance; events of changed elements (or of all). */
  async #refresh(allEvents: boolean): Promise<void> {
    const [elements, instances] = await Promise.all([
      this.#store.listElements(),
      this.#store.listInstances(),
    ]);
    this.#instances = new Map(instances.map((instance) => [instance._id, instance]));
    for (const parsed of elements) {
      const known = this.#elements.get(parsed.id);
      // A feed change delivered while this read was under way is newer: keep it.
      if (known !== undefined && updatedAt(known) > updatedAt(parsed)) continue;
      const changed = known === undefined || updatedAt(known) !== updatedAt(parsed) ||
        metricsAt(known) !== metricsAt(parsed);
      if (allEvents || changed) {
        this.#lastEvents.set(parsed.id, (await this.#store.listEvents(parsed.id, { limit: 1 }))[0]);
      }
      this.#elements.set(parsed.id, parsed);
      this.#rebuild(parsed.id);
    }
  }

  async #upsert(parsed: ParsedElement): Promise<void> {
    const instanceId = parsed.valid ? parsed.element.instance_id : null;
    if (instanceId !== null && !this.#instances.has(instanceId)) {
      const instance = await this.#store.getInstance(instanceId);
      if (instance !== null) this.#instances.set(instanceId, instance);
    }
    this.#lastEvents.set(parsed.id, (await this.#store.listEvents(parsed.id, { limit: 1 }))[0]);
    this.#elements.set(parsed.id, parsed);
    this.#rebuild(parsed.id);
  }

  #rebuild(id: string): void {
    const parsed = this.#elements.get(id);
    if (parsed === undefined) return;
    const instanceId = parsed.valid ? parsed.element.instance_id : null;
    const row = fleetRow(
      parsed,
      instanceId === null ? undefined : this.#instances.get(instanceId),
      this.#lastEvents.get(id),
    );
    const json = JSON.stringify(row);
    if (this.#rowJson.get(id) === json) return;
    this.#rowJson.set(id, json);
    this.#rows.set(id, row);
    this.#publish({ type: "row", row });
  }

  #remove(id: string): void {
    this.#elements.delete(id);
    this.#lastEvents.delete(id);
    this.#rowJson.delete(id);
    if (this.#rows.delete(id)) this.#publish({ type: "remove", id });
  }

  #publish(update: FleetUpdate): void {
    for (const listener of this.#subscribers) {
      try {
        listener(update);
      } catch (error) {
        logger("dashboard", "feed").warn("A stream listener failed: {error}", {
          error: describeError(error),
        });
      }
    }
  }
}

function updatedAt(parsed: ParsedElement): number {
  const raw = parsed.valid ? parsed.element.updated_at : parsed.raw.updated_at;
  return typeof raw === "number" ? raw : 0;
}

function metricsAt(parsed: ParsedElement): number {
  return parsed.valid ? parsed.element.metrics?.updated_at ?? 0 : 0;
}
