/**
 * The types of the `Store` port: everything the admin and risk processes need from the database,
 * and nothing else. Two adapters implement it with the same semantics: `MongoStore` (production,
 * `npm:mongodb` 7.5, loaded only when the store URI is MongoDB) and `SqliteStore` (embedded,
 * `node:sqlite` in WAL mode). The adapters import these types from here, never from `mod.ts`.
 *
 * Conventions of the port:
 *
 * - Ids are strings, exposed as `_id` on every document (`element_id`, `instance_id` in
 *   references). MongoDB ObjectIds are shown as 24-digit hex strings and found by either form.
 * - Times are epoch milliseconds (numbers). Callers pass `now` so tests control time.
 * - Elements are returned as {@link ParsedElement}: valid ones parsed (limits as `Limit`),
 *   invalid ones as a value naming the wrong field and why. Bad element input never throws.
 * - A manager (admin claim or risk process) holds a {@link Lease}. Its `lease` number is a fencing
 *   counter stored on the element and bumped on every change of holder (claim, take over,
 *   release, reap). Every manager write carries it; a stale one fails with `LeaseLostError`
 *   (code `LEASE_LOST`).
 * - An unreachable database raises `StoreUnavailableError` (code `STORE_UNAVAILABLE`) whose
 *   message never holds the URI's password.
 *
 * `docs/data-model.md` is the full reference of the documents.
 *
 * @module
 */
import type {
  AgentHeartbeat,
  DayState,
  ElementError,
  ElementStatus,
  EventRecord,
  Instance,
  InstanceStatus,
  Metrics,
  NewEvent,
  ParsedElement,
  PeakState,
  Sample,
  TradingState,
} from "./schemas.ts";

/** Identifies a held lease: which element, on which instance, with which fencing number. */
export interface LeaseRef {
  /** The element held. */
  element_id: string;
  /** The instance it runs on. */
  instance_id: string;
  /** The fencing counter the holder got when it took the lease. */
  lease: number;
}

/** A lease just taken, with the documents as they are after the claim. */
export interface Lease extends LeaseRef {
  /** The host that manages the element. */
  host: string;
  /** The instance, now OCCUPIED by the element. */
  instance: Instance;
}

/** Fields a manager may write on the element it holds. */
export interface ManagedPatch {
  /** Lifecycle state (not `DISABLED`: that is a person's decision). */
  status?: Exclude<ElementStatus, "DISABLED">;
  /** Enforcement state. */
  trading?: TradingState;
  /** Why trading is locked (`null` clears it). */
  lock_reason?: string | null;
  /** Until when a lock holds, epoch ms (`null`: until unlocked). */
  locked_until?: number | null;
  /** The person's unlock (`unlocked_at`) seen to take effect on the EA. */
  unlock_applied_at?: number | null;
  /** Account-wide closes still being enforced with the lock. */
  flatten_pending?: Array<"cancel_orders" | "close_all">;
  /** Last account figures. */
  metrics?: Metrics;
  /** Today's baseline. */
  day?: DayState | null;
  /** High-water marks. */
  peak?: PeakState | null;
  /** Last error (`null` clears it). */
  error?: ElementError | null;
}

/** Filter of {@link Store.listElements}. */
export interface ElementFilter {
  /** Only elements managed by this host. */
  host?: string;
  /** Only elements in one of these states (invalid documents are matched on their raw status). */
  status?: readonly ElementStatus[];
}

/** Filter of {@link Store.listInstances}. */
export interface InstanceFilter {
  /** Only instances of this host. */
  host?: string;
  /** Only instances in this state. */
  status?: InstanceStatus;
}

/** Input of {@link Store.addInstance}. */
export interface NewInstance {
  /** Terminal folder, or `sim:<scenario>`. */
  path: string;
  /** The host the terminal lives on. */
  host: string;
  /** Bridge base port (uses `port` and `port + 1`); allocated when omitted. */
  port?: number;
  /** Chart symbol the EA is attached to at startup (default EURUSD). */
  symbol?: string;
}

/** The result of {@link Store.insertElement}: the stored element, or why it was refused. */
export type InsertResult =
  | { ok: true; element: ParsedElement & { valid: true } }
  | { ok: false; field: string; reason: string; issues: { field: string; reason: string }[] };

/** Options of {@link Store.takeLease}. */
export interface TakeLeaseOptions {
  /** The host taking the lease. */
  host: string;
  /** Current time, epoch ms. */
  now: number;
  /** A holder whose last ping is older than this is stale and may be replaced. */
  staleAfterMs: number;
  /**
   * Identifies this take (unique per attempt, e.g. a random UUID): made again with the same id
   * after its answer was lost, the take gets the lease it took instead of `ELEMENT_HELD`.
   */
  takeId?: string | undefined;
}

/** Options of {@link Store.release}. */
export interface ReleaseOptions {
  /** The element's status after release (default `INACTIVE`; `DISABLED` is kept as is). */
  status?: "INACTIVE" | "PENDING" | "ERROR";
  /** Error to record with it. */
  error?: ElementError | null;
  /** Current time, epoch ms. */
  now?: number;
}

/** The result of {@link Store.beatAgent}. */
export type BeatResult = { ok: true } | {
  ok: false;
  /** The other run of this host whose heartbeat is fresh. */
  holder: AgentHeartbeat;
};

/** Options of {@link Store.reap}. */
export interface ReapOptions {
  /** Current time, epoch ms. */
  now: number;
  /** Instances OCCUPIED whose `last_ping` is older than this become FREE (default 5 min). */
  instanceStaleMs?: number;
  /** Held elements whose `last_ping` is older than this are released (default 5 min). */
  elementStaleMs?: number;
  /** Only reap this host's instances and elements. */
  host?: string;
}

/** What {@link Store.reap} changed. */
export interface ReapResult {
  /** Number of instances set FREE. */
  instances: number;
  /** Ids of the elements released (ACTIVE ones became INACTIVE). */
  elements: string[];
}

/** One change of the elements collection, as delivered by an {@link ElementFeed}. */
export type ElementChange =
  | {
    /** The element was inserted or changed: `element` is its current state. */
    op: "upsert";
    /** The element id. */
    id: string;
    /** The current document, parsed (valid or invalid). */
    element: ParsedElement;
    /** `reconcile` when found by a scan, `change` when signalled by the stream. */
    source: "reconcile" | "change";
  }
  | {
    /** The element was deleted. */
    op: "delete";
    /** The element id. */
    id: string;
    /** `reconcile` when found by a scan, `change` when signalled by the stream. */
    source: "reconcile" | "change";
  }
  | {
    /** A reconcile scan finished: everything in the database has been delivered. */
    op: "synced";
  };

/** Options of {@link Store.watchElements}. */
export interface WatchOptions {
  /** Key of the durable resume token in `agent_state` (the admin's host name). */
  resumeKey?: string;
  /** Watch only this element (live configuration of one risk process). */
  elementId?: string;
  /** Give up with `STORE_UNAVAILABLE` after this many consecutive stream failures (default 8). */
  maxRetries?: number;
}

/**
 * A live feed of element changes. It starts with a reconcile scan (every current element, then
 * `synced`), then delivers stream changes; after a stream error it reopens and reconciles again.
 * The database is the truth: each change carries the document as read after the change, and a
 * change that does not alter the element (besides `last_ping`, `metrics`, `updated_at`) is not
 * delivered twice. With a `resumeKey`, the position of the last handled change is saved in
 * `agent_state` when the next one is asked for (or the feed is closed).
 */
export interface ElementFeed extends AsyncIterable<ElementChange> {
  /** The next change; `done` after {@link ElementFeed.close}. */
  next(): Promise<IteratorResult<ElementChange, undefined>>;
  /** Saves the position of the last handled change and stops the feed. Idempotent. */
  close(): Promise<void>;
}

/** Options of {@link Store.listSamples}. */
export interface SampleRange {
  /** Only samples at or after this time, epoch ms (default 0). */
  since?: number;
  /** Only samples at or before this time, epoch ms (default: no bound). */
  until?: number;
  /** At most this many, the newest of the range (default 20 000). */
  limit?: number;
}

/** The store port. Every method is safe to call concurrently from several processes. */
export interface Store {
  /** `sqlite` or `mongodb`. */
  readonly kind: "sqlite" | "mongodb";
  /** A description of the store without credentials, for logs and messages. */
  readonly description: string;

  /** Creates tables/collections and indexes; idempotent. `openStore` calls it. */
  ensureIndexes(): Promise<void>;
  /** Closes the connection; open feeds are closed first. */
  close(): Promise<void>;

  /**
   * Validates and inserts an element (a raw document: snake_case fields, limits as number or
   * `"N%"`). `_id` is generated when absent; `status` defaults to `PENDING`. Never throws for bad
   * input: it returns `{ok: false, field, reason}`.
   */
  insertElement(doc: Record<string, unknown>, now?: number): Promise<InsertResult>;
  /** One element, parsed; `null` when there is none with this id. */
  getElement(id: string): Promise<ParsedElement | null>;
  /** Elements, parsed, sorted by id. */
  listElements(filter?: ElementFilter): Promise<ParsedElement[]>;
  /**
   * Sets an element's status without a lease: a person enabling (`PENDING`) or disabling
   * (`DISABLED`) it, or the admin marking an unmanaged invalid element `ERROR`.
   *
   * @throws {StoreError} `NOT_FOUND` when there is no such element.
   */
  setElementStatus(
    id: string,
    status: ElementStatus,
    options?: { error?: ElementError | null; now?: number },
  ): Promise<ParsedElement>;
  /**
   * A person changes an element's configuration (no lease needed). `changes` holds config
   * fields only (`CONFIG_ELEMENT_FIELDS`); `null` removes an optional field. `trading:
   * "ALLOWED"` unlocks the account (also clears `lock_reason` and `locked_until`); other `trading`
   * values are refused. Setting `password` without `password_enc` removes a stored
   * `password_enc`, and the other way round. The merged document is validated like an insert;
   * nothing is written when it is invalid. Only the changed fields are written (and
   * `updated_at`), so concurrent manager writes of other fields are kept; the change reaches
   * change-feed watchers like any other update.
   *
   * Never throws for bad input (returns `{ok: false, field, reason, issues}`; a field that is not
   * a config field is refused with `MANAGED_FIELD_REASON`).
   *
   * @throws {StoreError} `NOT_FOUND` when there is no such element; `STORE_CONFLICT` (MongoDB)
   * when its configuration kept changing under concurrent changes.
   */
  configureElement(
    id: string,
    changes: Record<string, unknown>,
    now?: number,
  ): Promise<InsertResult>;
  /**
   * Deletes an element. A held element (with an instance) is refused with `ELEMENT_HELD`
   * unless `force`; forcing also frees its instance. Returns false when there was none.
   */
  removeElement(id: string, options?: { force?: boolean }): Promise<boolean>;
  /** A change feed of the elements collection (or of one element). */
  watchElements(options?: WatchOptions): ElementFeed;

  /**
   * Registers an instance; the port is allocated when absent (the lowest `p >= 15000`, step 2,
   * such that `p` and `p + 1` are unused on the host).
   *
   * @throws {StoreError} `INPUT_INVALID` for a bad path or port, `STORE_CONFLICT` when the port
   * range or the terminal folder is already used on that host.
   */
  addInstance(input: NewInstance, now?: number): Promise<Instance>;
  /** One instance; `null` when there is none. */
  getInstance(id: string): Promise<Instance | null>;
  /** Instances sorted by host then port. */
  listInstances(filter?: InstanceFilter): Promise<Instance[]>;
  /**
   * Deletes an instance. An OCCUPIED one is refused with `STORE_CONFLICT` unless `force`.
   * Returns false when there was none.
   */
  removeInstance(id: string, options?: { force?: boolean }): Promise<boolean>;

  /**
   * Admin: atomically takes a FREE instance on `host` for an unheld element and makes the
   * element `ACTIVE` with a new lease. No two callers ever get the same element or instance.
   *
   * @throws {StoreError} `NOT_FOUND`; `ELEMENT_HELD` when the element is held (or another caller
   * won the race); `CLAIM_FAILED` when it is DISABLED or no instance is FREE on the host.
   */
  claimFreeInstance(elementId: string, host: string, now: number): Promise<Lease>;
  /**
   * Risk process: takes the lease of an element on a given instance. The element must be unheld,
   * already held on this instance (a child started by the admin adopts the admin's lease), or
   * held by a stale holder (last ping older than `staleAfterMs`: "take the lease" by hand). The
   * instance must be FREE, held by this element, or stale.
   *
   * @throws {StoreError} `NOT_FOUND`, `ELEMENT_HELD` (fresh holder elsewhere), `CLAIM_FAILED`
   * (instance busy, element DISABLED).
   */
  takeLease(elementId: string, instanceId: string, options: TakeLeaseOptions): Promise<Lease>;
  /**
   * Records that the holder is alive: `last_ping` of the element and of its instance (and the
   * instance's `pid` when given).
   *
   * @throws {LeaseLostError} when the lease is stale.
   */
  ping(lease: LeaseRef, now: number, options?: { pid?: number }): Promise<void>;
  /**
   * Writes managed fields (status, trading, lock, metrics, day, peak, error) of the held element.
   *
   * @throws {LeaseLostError} when the lease is stale; `STORE_CONFLICT` when the element was
   * DISABLED meanwhile and the patch sets a status; `INPUT_INVALID` for a bad patch.
   */
  updateElement(lease: LeaseRef, patch: ManagedPatch, now: number): Promise<void>;
  /**
   * Gives the element and its instance back: the instance becomes FREE, the element loses its
   * host/instance and gets a new lease number (so the old holder is fenced off).
   *
   * @throws {LeaseLostError} when the lease is stale.
   */
  release(lease: LeaseRef, options?: ReleaseOptions): Promise<void>;
  /**
   * Frees instances OCCUPIED with a stale ping and releases held elements with a stale ping
   * (ACTIVE ones become INACTIVE), bumping their lease.
   */
  reap(options: ReapOptions): Promise<ReapResult>;

  /**
   * Admin: marks a FREE instance `UNUSABLE` with the reason (`problem`), or an `UNUSABLE` one
   * FREE again (`problem` null). Other states are left alone. Returns true when it changed.
   */
  setInstanceUsable(id: string, problem: string | null, now: number): Promise<boolean>;

  /**
   * Admin heartbeat: writes `beat` as the heartbeat of `beat.host`, unless another run of that
   * host has a heartbeat that is not stopped and younger than `staleAfterMs` (then nothing is
   * written and that heartbeat is returned). `replaceRunId` names a run the caller knows is
   * dead (its process is gone), whose heartbeat does not block. Atomic: of two runs starting at
   * once, one wins.
   */
  beatAgent(
    beat: AgentHeartbeat,
    options: { staleAfterMs: number; replaceRunId?: string },
  ): Promise<BeatResult>;
  /** Every admin host's heartbeat, sorted by host. */
  listAgents(): Promise<AgentHeartbeat[]>;

  /**
   * Appends an audit event (`at` defaults to now).
   *
   * @throws {StoreError} `INPUT_INVALID` for a malformed event.
   */
  appendEvent(event: NewEvent): Promise<EventRecord>;
  /**
   * Events of one element (`null`: of every element), oldest first; the last `limit` (default
   * 100) at or after `since`, only of the given `types` when set.
   */
  listEvents(
    elementId: string | null,
    options?: { limit?: number; since?: number; types?: readonly string[] },
  ): Promise<EventRecord[]>;

  /**
   * Appends one point of an element's equity history. A second sample of the same element at
   * the same millisecond replaces the first.
   *
   * @throws {StoreError} `INPUT_INVALID` for a malformed sample.
   */
  appendSample(sample: Sample): Promise<void>;
  /** Samples of one element in a time range, oldest first (the newest `limit` of the range). */
  listSamples(elementId: string, range?: SampleRange): Promise<Sample[]>;
  /** Deletes every sample older than `before` (epoch ms); returns how many were deleted. */
  pruneSamples(before: number): Promise<number>;
}
