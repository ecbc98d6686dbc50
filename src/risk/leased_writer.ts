/**
 * Every store write of a risk process, fenced by its lease and sent through one
 * {@link WriteQueue}: element patches, the trading state, metrics with the day and peak state,
 * pings and audit events. Enforcement never waits for the database; a lost lease is fatal.
 *
 * @module
 */
import type { Logger } from "../shared/logging.ts";
import type { Order, Position, Snapshot } from "../mt5/protocol.ts";
import type { DayState, PeakState } from "../rules/rule.ts";
import { abortableSleep } from "../shared/async.ts";
import type { Clock } from "../shared/clock.ts";
import { describeError } from "../shared/errors.ts";
import type {
  Lease,
  ListedOrder,
  ListedPosition,
  ManagedPatch,
  Metrics,
  Store,
} from "../store/mod.ts";
// The store's schema-free file, not its mod.ts: a risk process must not load the store's schemas.
import { MAX_LISTED_TRADES } from "../store/document_values.ts";
import { serverOffsetOf } from "../rules/wall_clock.ts";
import { round2 } from "../shared/money.ts";
import type { RiskEvent } from "./audit_trail.ts";
import type { LockState } from "./lock_state.ts";
import { WriteQueue } from "./write_queue.ts";

/** Options of {@link LeasedWriter}. */
export interface LeasedWriterOptions {
  /** The store. */
  store: Store;
  /** The lease every write carries. */
  lease: Lease;
  /** Time source of the write timestamps. */
  clock: Clock;
  /** A dry run locks nothing for real: the trading state is never written. */
  dryRun: boolean;
  /** Between two metrics writes (state changes are written at once). */
  metricsIntervalMs: number;
  /** Between two pings of element and instance. */
  pingIntervalMs: number;
  /** Called once when a write finds the lease lost (or another fatal error). */
  onFatal: (error: unknown) => void;
  /** The account's logger. */
  log: Logger;
}

/** See the module documentation. */
export class LeasedWriter {
  readonly #options: LeasedWriterOptions;
  readonly #queue: WriteQueue;
  /** Monotonic ms of the last metrics write (the interval is a duration). */
  #lastMetricsAt = Number.NEGATIVE_INFINITY;
  /** Metrics handed over but not yet written. */
  #pendingMetrics: (() => Metrics) | undefined;
  /** Where the day and peak of the next metrics write are read from, when it runs. */
  #pendingState: (() => { day?: DayState | undefined; peak?: PeakState | undefined }) | undefined;
  /** The metrics last written, for the samples taken at a lock. */
  #lastMetrics: Metrics | undefined;
  /** True once the current trading state is known to be in the store. */
  #tradingStored = true;
  /** The trading state last submitted (a write that lands for an older one does not count). */
  #tradingSubmitted: LockState["trading"] | undefined;

  /** Creates the writer of one lease; nothing is written yet. */
  constructor(options: LeasedWriterOptions) {
    this.#options = options;
    const log = options.log;
    this.#queue = new WriteQueue({
      log,
      onFatal: options.onFatal,
      onOnlineChange: (online) => {
        if (online) log.info("store reachable again: queued writes flushed");
        else log.warn("store unreachable: enforcing from local state, writes queued");
      },
    });
  }

  /** The lease this writer writes with. */
  get lease(): Lease {
    return this.#options.lease;
  }

  /**
   * True once the last trading state handed to {@link writeTrading} is in the store: until
   * then a copy of the element that says otherwise may predate it.
   */
  get tradingStored(): boolean {
    return this.#tradingStored;
  }

  /**
   * True while a change of the trading, day or peak state has not reached the store (the store
   * is unreachable): a stop then keeps it in the local journal.
   */
  get stateUnwritten(): boolean {
    return this.#pendingMetrics !== undefined || this.#queue.stateUnwritten;
  }

  /** Appends an audit event. */
  appendEvent(event: RiskEvent): void {
    const store = this.#options.store;
    this.#queue.submit({ kind: "event", run: async () => void await store.appendEvent(event) });
  }

  /** Writes element fields; a newer patch of the same fields replaces one still waiting. */
  patch(patch: ManagedPatch): void {
    const key = Object.keys(patch).sort().join(",");
    const trading = patch.trading;
    if (trading === undefined) return this.#submitState(key, patch);
    // A trading state in a patch (a journal's lock replayed) counts as unwritten until it lands,
    // as one from writeTrading does: the store's older copy must not read as a person's unlock.
    this.#tradingStored = false;
    this.#tradingSubmitted = trading;
    this.#submitState(key, patch, () => {
      if (trading === this.#tradingSubmitted) this.#tradingStored = true;
    });
  }

  /** Writes the trading state (`trading`, `locked_until`, `lock_reason`); not in a dry run. */
  writeTrading(state: LockState): void {
    // A dry run locks nothing for real, so the stored trading state must not claim it did.
    if (this.#options.dryRun) return;
    this.#tradingStored = false;
    this.#tradingSubmitted = state.trading;
    const patch: ManagedPatch = {
      trading: state.trading,
      locked_until: state.lockedUntil,
      lock_reason: state.reason,
    };
    this.#submitState("trading", patch, () => {
      if (patch.trading === this.#tradingSubmitted) this.#tradingStored = true;
    });
    // The curve gets a point at every lock and unlock, not only at the metrics interval.
    const last = this.#pendingMetrics?.() ?? this.#lastMetrics;
    if (last !== undefined) this.#writeSample(last, this.#options.clock.now(), "sample:trading");
  }

  /**
   * Hands the account's metrics with the day and peak state to the writer after a snapshot.
   * They are written at once when the last metrics write is a metrics interval old, else by
   * {@link writeMetricsUntil} once it is (whether or not more snapshots arrive), and by
   * {@link flushMetrics} on stop: a new high-water mark reached just before the market went
   * quiet is never lost. This is the one place where metrics reach the store: with the
   * counts go the positions and pending orders themselves (capped at `MAX_LISTED_TRADES`) and
   * the server's offset from UTC, for the dashboard. The day and peak are read from `state` when
   * the write runs, not when it is queued: a write waiting through an outage must not put back an
   * older day over a newer one (a warning's memory).
   */
  writeMetrics(
    snapshot: Snapshot,
    dailyPnl: number,
    state: () => { day?: DayState | undefined; peak?: PeakState | undefined },
  ): void {
    this.#pendingState = state;
    const at = this.#options.clock.now();
    let metrics: Metrics | undefined;
    // Built when written (every metrics interval), not on every snapshot: listing 200 positions
    // four times a second for one write in five seconds only made garbage.
    this.#pendingMetrics = () => metrics ??= metricsOf(snapshot, dailyPnl, at);
    this.#writeMetricsIfDue();
  }

  /** Writes metrics handed over since the last write, every metrics interval, until `signal`. */
  async writeMetricsUntil(signal: AbortSignal): Promise<void> {
    // A quarter interval: a waiting write lands at most a quarter interval after it is due.
    const tick = Math.max(10, this.#options.metricsIntervalMs / 4);
    while (!signal.aborted) {
      await abortableSleep(tick, signal);
      if (!signal.aborted) this.#writeMetricsIfDue();
    }
  }

  /** Writes metrics handed over since the last write now (on stop). */
  flushMetrics(): void {
    const pending = this.#pendingMetrics;
    if (pending === undefined) return;
    this.#pendingMetrics = undefined;
    const metrics = pending();
    this.#lastMetricsAt = this.#options.clock.monotonic();
    const state = this.#pendingState;
    this.#submit("metrics", "metrics", () => {
      const { day, peak } = state?.() ?? {};
      return {
        metrics,
        ...(day === undefined ? {} : { day }),
        ...(peak === undefined ? {} : { peak }),
      };
    });
    this.#lastMetrics = metrics;
    this.#writeSample(metrics, metrics.updated_at, "sample");
  }

  /**
   * Appends a point of the equity history (the dashboard's curves). Like metrics it may be
   * dropped when the store stays unreachable; any other failure is only logged: a sample must
   * never disturb enforcement.
   */
  #writeSample(metrics: Metrics, at: number, key: string): void {
    const { store, log } = this.#options;
    const sample = {
      element_id: this.#options.lease.element_id,
      at,
      balance: metrics.balance,
      equity: metrics.equity,
      daily_pl: metrics.daily_pl,
      positions: metrics.positions,
    };
    this.#queue.submit({
      kind: "metrics",
      key,
      run: () =>
        store.appendSample(sample).catch((error) => {
          if ((error as { code?: unknown }).code === "STORE_UNAVAILABLE") throw error;
          log.warn("could not write an equity sample: {error}", { error: describeError(error) });
        }),
    });
  }

  #writeMetricsIfDue(): void {
    if (this.#options.clock.monotonic() - this.#lastMetricsAt < this.#options.metricsIntervalMs) {
      return;
    }
    this.flushMetrics();
  }

  /** Pings element and instance now and then every ping interval, until `signal` aborts. */
  async pingUntil(signal: AbortSignal, pid: () => number): Promise<void> {
    const { store, clock, pingIntervalMs } = this.#options;
    const lease = this.#options.lease;
    while (!signal.aborted) {
      this.#queue.submit({
        kind: "ping",
        key: "ping",
        run: () => store.ping(lease, clock.now(), { pid: pid() }),
      });
      await abortableSleep(pingIntervalMs, signal);
    }
  }

  /** Resolves true once every write submitted so far is done, false after `timeoutMs`. */
  flush(timeoutMs: number): Promise<boolean> {
    return this.#queue.flush(timeoutMs);
  }

  /** Gives the lease back, leaving the element INACTIVE; a failure is only logged. */
  async release(): Promise<void> {
    const { store, clock, log } = this.#options;
    await store.release(this.#options.lease, { status: "INACTIVE", now: clock.now() }).catch((
      error,
    ) => log.warn("could not release the lease: {error}", { error: describeError(error) }));
  }

  /** Stops writing; writes still waiting are abandoned. */
  close(): Promise<void> {
    return this.#queue.close();
  }

  #submitState(key: string, patch: ManagedPatch, written?: () => void): void {
    this.#submit("state", key, patch, written);
  }

  #submit(
    kind: "state" | "metrics",
    key: string,
    patch: ManagedPatch | (() => ManagedPatch),
    written?: () => void,
  ): void {
    const { store, clock } = this.#options;
    const lease = this.#options.lease;
    this.#queue.submit({
      kind,
      key,
      run: async () => {
        await store.updateElement(
          lease,
          typeof patch === "function" ? patch() : patch,
          clock.now(),
        );
        written?.();
      },
    });
  }
}

/** The metrics of one snapshot, as written to the element at `at`. */
function metricsOf(snapshot: Snapshot, dailyPnl: number, at: number): Metrics {
  return {
    balance: snapshot.account.balance,
    equity: snapshot.account.equity,
    daily_pl: round2(dailyPnl),
    positions: snapshot.positions.length,
    orders: snapshot.orders.length,
    updated_at: at,
    open_positions: capped(snapshot.positions.map(listedPosition)),
    pending_orders: capped(snapshot.orders.map(listedOrder)),
    server_offset: serverOffsetOf(snapshot),
  };
}

/** The first {@link MAX_LISTED_TRADES} items, and whether any were left out. */
function capped<T>(items: T[]): { items: T[]; truncated: boolean } {
  return { items: items.slice(0, MAX_LISTED_TRADES), truncated: items.length > MAX_LISTED_TRADES };
}

/** A position as the metrics list it: what a person looking at the account needs. */
function listedPosition(position: Position): ListedPosition {
  return {
    ticket: position.ticket,
    symbol: position.symbol,
    side: position.side,
    volume: position.volume,
    open_price: position.open_price,
    sl: position.sl,
    tp: position.tp,
    profit: round2(position.profit + position.swap),
  };
}

/** A pending order as the metrics list it. */
function listedOrder(order: Order): ListedOrder {
  return {
    ticket: order.ticket,
    symbol: order.symbol,
    type: order.type,
    volume: order.volume,
    price: order.price,
    sl: order.sl,
    tp: order.tp,
  };
}
