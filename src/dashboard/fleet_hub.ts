/**
 * The dashboard's one view of the fleet: a single element change feed per dashboard process
 * (not one per browser tab), plus one re-read per second for the figures the feed leaves out,
 * kept as {@link FleetRow}s and fanned out to every subscriber (every open SSE stream).
 *
 * Each field has one source, so the two never contradict each other:
 * - the **feed** owns the element: it adds and removes elements and carries every change of
 *   status, trading, locks, limits, day and peak, published to the streams the moment it is
 *   read (a feed change never waits for the re-read);
 * - the **re-read** owns only what the feed deliberately skips: `metrics` and `last_ping` (a risk
 *   process writes them every few seconds), instances, and the last event of every element.
 *
 * The re-read used to take whole documents. It could then show a state the feed had not
 * delivered yet (a lock), and when that state was undone before the feed looked the element up
 * (an unlock a few milliseconds later), the feed, which only reports what differs from what it
 * last delivered, reported nothing: the row stayed locked until the next re-read, a second
 * later. Taking only the volatile fields from the re-read removes that case.
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

  /**
   * Re-reads the last event of one element now (after an action from the dashboard, which
   * records one). The element's own change arrives through the feed like any other: taking it
   * here as well would make the dashboard's state differ from what the feed last delivered.
   */
  async refreshElement(id: string): Promise<void> {
    await this.#loadLastEvent(id);
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
          else {
            // Published at once; the instance and the last event follow when they differ.
            this.#apply(change.element);
            await this.#loadInstance(change.element);
            await this.#loadLastEvent(change.id);
          }
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

  /**
   * Re-reads every element and instance and takes from them only the volatile figures
   * (metrics, pings) and instances; then the last events of the elements whose figures moved
   * (or of all). Elements the feed has not delivered are left to the feed.
   */
  async #refresh(allEvents: boolean): Promise<void> {
    const [elements, instances] = await Promise.all([
      this.#store.listElements(),
      this.#store.listInstances(),
    ]);
    // Applied at once, without an await in between: no read is held while the feed moves on.
    this.#instances = new Map(instances.map((instance) => [instance._id, instance]));
    const moved: string[] = [];
    for (const read of elements) {
      const known = this.#elements.get(read.id);
      if (known === undefined) continue;
      const merged = withFreshestFigures(known, read);
      if (merged !== known) this.#elements.set(read.id, merged);
      if (allEvents || merged !== known) moved.push(read.id);
      this.#rebuild(read.id);
    }
    for (const id of moved) await this.#loadLastEvent(id);
  }

  /** Takes an element as the feed (or an action) read it, keeping the newest figures. */
  #apply(parsed: ParsedElement): void {
    const known = this.#elements.get(parsed.id);
    this.#elements.set(
      parsed.id,
      known === undefined ? parsed : withFreshestFigures(parsed, known),
    );
    this.#rebuild(parsed.id);
  }

  /** Reads the instance of an element when it is not known yet (a new claim). */
  async #loadInstance(parsed: ParsedElement): Promise<void> {
    const instanceId = parsed.valid ? parsed.element.instance_id : null;
    if (instanceId === null || this.#instances.has(instanceId)) return;
    const instance = await this.#store.getInstance(instanceId);
    if (instance === null) return;
    this.#instances.set(instanceId, instance);
    this.#rebuild(parsed.id);
  }

  /** Reads the last event of an element; its row is republished when it changed. */
  async #loadLastEvent(id: string): Promise<void> {
    const [last] = await this.#store.listEvents(id, { limit: 1 });
    if (!this.#elements.has(id)) return;
    this.#lastEvents.set(id, last);
    this.#rebuild(id);
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

/**
 * `base` with the metrics and the last ping of `other` where those are newer. Only figures of
 * the same lease are compared (written by the same risk process, so by one clock); otherwise
 * `base` stays as it is: a new holder reaches the dashboard through the feed.
 */
function withFreshestFigures(base: ParsedElement, other: ParsedElement): ParsedElement {
  if (!base.valid || !other.valid) return base;
  const a = base.element;
  const b = other.element;
  if (a.lease !== b.lease || a.instance_id !== b.instance_id) return base;
  const metrics = (b.metrics?.updated_at ?? -Infinity) > (a.metrics?.updated_at ?? -Infinity)
    ? b.metrics
    : a.metrics;
  const lastPing = (b.last_ping ?? -Infinity) > (a.last_ping ?? -Infinity)
    ? b.last_ping
    : a.last_ping;
  if (metrics === a.metrics && lastPing === a.last_ping) return base;
  return { ...base, element: { ...a, metrics, last_ping: lastPing } };
}
