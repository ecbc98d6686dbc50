/**
 * `SqliteStore`: the embedded adapter of the {@link Store} port on the runtime's `node:sqlite`
 * (`DatabaseSync`) in WAL mode. Several processes may open the same file.
 *
 * Each collection is a table of `(id, doc)` where `doc` is the JSON document (the same fields as
 * in MongoDB). Every read-modify-write runs in a `BEGIN IMMEDIATE` transaction, which takes the
 * database's single write lock, so claims are atomic across processes. Triggers on `elements`
 * append to `element_changes` (a sequence number per change); the change feed polls that table,
 * and the sequence number is the resume token. Changes of only `last_ping`, `metrics` or
 * `updated_at` are not recorded.
 *
 * `node:sqlite` is synchronous: while SQLite waits for another process's write lock, the whole
 * event loop waits with it (the risk process's enforcement, an in-process simulator). So SQLite's
 * own busy wait is kept short ({@link SYNC_BUSY_MS}) and a statement that still finds the
 * database locked is retried asynchronously with backoff until `busyTimeoutMs` has passed: the
 * waiting happens off the event loop, and only then is the store reported unavailable.
 *
 * @module
 */
import { DatabaseSync } from "node:sqlite";
import type {
  BeatResult,
  ElementFeed,
  ElementFilter,
  InsertResult,
  InstanceFilter,
  Lease,
  LeaseRef,
  ManagedPatch,
  NewInstance,
  ReapOptions,
  ReapResult,
  ReleaseOptions,
  SampleRange,
  Store,
  TakeLeaseOptions,
  WatchOptions,
} from "./types.ts";
import {
  type AgentHeartbeat,
  type ElementError,
  type ElementStatus,
  type EventRecord,
  type Instance,
  type NewEvent,
  type ParsedElement,
  parseElement,
  type Sample,
} from "./schemas.ts";
import {
  newId,
  normalizeEventIds,
  normalizeId,
  normalizeLeaseRef,
  normalizeWatchOptions,
} from "./_ids.ts";
import { prepareConfigChange } from "./_config_change.ts";
import { StatementCache } from "./_statements.ts";
import {
  checkManagedPatch,
  checkNewEvent,
  checkNewInstance,
  checkSample,
  checkStoredInstance,
  DEFAULT_SAMPLE_LIMIT,
  prepareElement,
  toInstance,
  validEvents,
  validHeartbeats,
  validInstances,
  validSamples,
} from "./_validation.ts";
import {
  adoptsClaim,
  AGENT_ID_PREFIX,
  claimableElement,
  claimableInstances,
  claimedElementFields,
  compareInstances,
  type Doc,
  elementHeld,
  elementStatusMatches,
  FREED_INSTANCE_FIELDS,
  heartbeatBlocks,
  holdsInstance,
  instanceBusy,
  instanceLost,
  instanceMatches,
  instanceOccupied,
  instanceTakeable,
  instanceUsableFields,
  isStale,
  leaseLost,
  leaseOf,
  leaseOfDoc,
  noFreeInstance,
  notFound,
  occupiedInstanceFields,
  planInstance,
  releasedElementFields,
  repeatsTake,
  statusOfDisabled,
} from "./_policy.ts";
import { type Feed, type FeedSource, HistoryLostError, openFeed, type RawChange } from "./_feed.ts";
import { StoreError, StoreUnavailableError } from "./errors.ts";
import { abortableSleep } from "../shared/async.ts";
import { exponentialBackoff } from "../shared/backoff.ts";
import { DEFAULT_STALE_MS } from "../shared/stale.ts";
import { describeError } from "../shared/errors.ts";

/** Options of {@link SqliteStore.open}. */
export interface SqliteStoreOptions {
  /** Path of the database file (created when missing; its folder must exist). */
  path: string;
  /**
   * How long an operation waits in all for another process's write lock before it fails with
   * STORE_UNAVAILABLE, ms (default 10 000). The wait is asynchronous: the event loop is held for
   * at most {@link SYNC_BUSY_MS} at a time.
   */
  busyTimeoutMs?: number;
  /** How often a change feed polls the change table, ms (default 25). */
  feedPollMs?: number;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS elements (id TEXT PRIMARY KEY, doc TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS elements_host ON elements (json_extract(doc, '$.host'));
CREATE INDEX IF NOT EXISTS elements_instance ON elements (json_extract(doc, '$.instance_id'));
CREATE TABLE IF NOT EXISTS instances (id TEXT PRIMARY KEY, doc TEXT NOT NULL);
CREATE UNIQUE INDEX IF NOT EXISTS instances_host_port
  ON instances (json_extract(doc, '$.host'), json_extract(doc, '$.port'));
CREATE INDEX IF NOT EXISTS instances_status_ping
  ON instances (json_extract(doc, '$.status'), json_extract(doc, '$.last_ping'));
CREATE TABLE IF NOT EXISTS events (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  element_id TEXT NOT NULL,
  at INTEGER NOT NULL,
  doc TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_element_at ON events (element_id, at);
CREATE TABLE IF NOT EXISTS agent_state (id TEXT PRIMARY KEY, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS samples (
  element_id TEXT NOT NULL,
  at INTEGER NOT NULL,
  balance REAL NOT NULL,
  equity REAL NOT NULL,
  daily_pl REAL NOT NULL,
  positions INTEGER NOT NULL,
  PRIMARY KEY (element_id, at)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS samples_at ON samples (at);
CREATE TABLE IF NOT EXISTS element_changes (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  element_id TEXT NOT NULL,
  op TEXT NOT NULL,
  at INTEGER NOT NULL
);
CREATE TRIGGER IF NOT EXISTS elements_feed_insert AFTER INSERT ON elements BEGIN
  INSERT INTO element_changes (element_id, op, at)
  VALUES (NEW.id, 'change', CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER));
END;
CREATE TRIGGER IF NOT EXISTS elements_feed_update AFTER UPDATE ON elements
WHEN json_remove(OLD.doc, '$.last_ping', '$.metrics', '$.updated_at')
  IS NOT json_remove(NEW.doc, '$.last_ping', '$.metrics', '$.updated_at') OR OLD.id IS NOT NEW.id
BEGIN
  INSERT INTO element_changes (element_id, op, at)
  VALUES (NEW.id, 'change', CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER));
END;
CREATE TRIGGER IF NOT EXISTS elements_feed_delete AFTER DELETE ON elements BEGIN
  INSERT INTO element_changes (element_id, op, at)
  VALUES (OLD.id, 'delete', CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER));
END;
CREATE TRIGGER IF NOT EXISTS element_changes_prune AFTER INSERT ON element_changes
WHEN NEW.seq % 1000 = 0 BEGIN
  DELETE FROM element_changes WHERE seq <= NEW.seq - 100000;
END;
`;

/**
 * SQLite's own busy timeout, ms: how long one statement waits for a lock synchronously, holding
 * the event loop. Short: a normal write transaction of another process takes a few ms, and a
 * longer wait is done by {@link retryWhileBusy} without holding the event loop.
 */
const SYNC_BUSY_MS = 20;

/** Delays between asynchronous retries of a busy operation: 5 ms doubling to 200 ms, jittered. */
const BUSY_RETRY_BACKOFF = { baseMs: 5, maxMs: 200, jitter: 0.5 };

/** `json_set` paths and values of {@link FREED_INSTANCE_FIELDS}, for the reaper's bulk update. */
const FREED_PATHS = Object.keys(FREED_INSTANCE_FIELDS).map((key) => `'$.${key}', ?`).join(", ");
const FREED_VALUES = Object.values(FREED_INSTANCE_FIELDS) as (string | null)[];

/** The SQLite adapter of the store port. */
export class SqliteStore implements Store {
  /** Always `sqlite`. */
  readonly kind = "sqlite" as const;
  /** `sqlite:<path>`. */
  readonly description: string;
  #db: DatabaseSync;
  /** Every statement prepared once (`_statements.ts`: per-call statements crept RSS up). */
  #sql: StatementCache;
  #path: string;
  #feedPollMs: number;
  #busyTimeoutMs: number;
  #feeds = new Set<Feed>();
  #closed = false;

  private constructor(db: DatabaseSync, path: string, feedPollMs: number, busyTimeoutMs: number) {
    this.#db = db;
    this.#sql = new StatementCache(db);
    this.#path = path;
    this.#feedPollMs = Math.max(1, feedPollMs);
    this.#busyTimeoutMs = busyTimeoutMs;
    this.description = `sqlite:${path}`;
  }

  /**
   * Opens (creating when missing) the database file and its tables.
   *
   * @throws {StoreUnavailableError} when the file cannot be opened.
   */
  static async open(options: SqliteStoreOptions): Promise<SqliteStore> {
    let db: DatabaseSync;
    try {
      db = new DatabaseSync(options.path);
    } catch (error) {
      throw new StoreUnavailableError(
        `Cannot open SQLite database ${options.path}: ${describeError(error)}`,
        { cause: error },
      );
    }
    // The file may hold account passwords (when no RISKGUARD_SECRET_KEY encrypts them): only
    // its owner may read it. SQLite gives its -wal and -shm files the same permissions.
    await restrictToOwner(options.path);
    const busyTimeoutMs = Math.max(0, Math.floor(options.busyTimeoutMs ?? 10_000));
    const store = new SqliteStore(db, options.path, options.feedPollMs ?? 25, busyTimeoutMs);
    try {
      db.exec(`PRAGMA busy_timeout = ${Math.min(SYNC_BUSY_MS, busyTimeoutMs)}`);
      for (let attempt = 0;; attempt++) {
        try {
          db.exec("PRAGMA journal_mode = WAL");
          break;
        } catch (error) {
          if (!isBusy(error) || attempt >= 50) throw error;
          await abortableSleep(20 + Math.random() * 30);
        }
      }
      db.exec("PRAGMA synchronous = NORMAL");
      await store.ensureIndexes();
    } catch (error) {
      db.close();
      if (error instanceof StoreError) throw error;
      throw new StoreUnavailableError(
        `Cannot open SQLite database ${options.path}: ${describeError(error)}`,
        { cause: error },
      );
    }
    return store;
  }

  /** Creates the tables, indexes and triggers; idempotent. */
  ensureIndexes(): Promise<void> {
    return this.#run(() => this.#tx(() => this.#db.exec(SCHEMA)));
  }

  /** Closes open feeds, then the database. */
  async close(): Promise<void> {
    if (this.#closed) return;
    await Promise.all([...this.#feeds].map((feed) => feed.close()));
    this.#closed = true;
    this.#sql.clear();
    this.#db.close();
  }

  /** Validates and inserts an element; never throws for bad input. */
  insertElement(doc: Record<string, unknown>, now = Date.now()): Promise<InsertResult> {
    return this.#run(() => {
      const prepared = prepareElement(doc, now);
      if (!prepared.ok) return prepared;
      const id = String(prepared.doc._id);
      const inserted = this.#tx(() => {
        if (this.#get("elements", id) !== null) return false;
        this.#put("elements", id, prepared.doc, true);
        return true;
      });
      if (!inserted) {
        return { ok: false, field: "_id", reason: `already exists: ${id}`, issues: [] };
      }
      return { ok: true, element: prepared.element };
    });
  }

  /** One element, parsed. */
  getElement(id: string): Promise<ParsedElement | null> {
    id = normalizeId(id);
    return this.#run(() => {
      const doc = this.#get("elements", id);
      return doc === null ? null : parseElement(doc);
    });
  }

  /** Elements, parsed, sorted by id. */
  listElements(filter: ElementFilter = {}): Promise<ParsedElement[]> {
    return this.#run(() => {
      const rows = filter.host === undefined
        ? this.#sql.get("SELECT id, doc FROM elements ORDER BY id").all()
        : this.#sql.get(
          "SELECT id, doc FROM elements WHERE json_extract(doc, '$.host') = ? ORDER BY id",
        ).all(filter.host);
      return rows.map((row) => readDoc(row)).filter((doc) => elementStatusMatches(doc, filter))
        .map(parseElement);
    });
  }

  /** Sets an element's status without a lease. */
  setElementStatus(
    id: string,
    status: ElementStatus,
    options: { error?: ElementError | null; now?: number } = {},
  ): Promise<ParsedElement> {
    id = normalizeId(id);
    return this.#run(() =>
      this.#tx(() => {
        const doc = this.#get("elements", id);
        if (doc === null) throw notFound("element", id);
        doc.status = status;
        if (options.error !== undefined) doc.error = options.error;
        doc.updated_at = options.now ?? Date.now();
        this.#put("elements", id, doc);
        return parseElement(doc);
      })
    );
  }

  /** A person changes an element's configuration; never throws for bad input. */
  configureElement(
    id: string,
    changes: Record<string, unknown>,
    now = Date.now(),
  ): Promise<InsertResult> {
    id = normalizeId(id);
    return this.#run(() =>
      this.#tx(() => {
        const doc = this.#get("elements", id);
        if (doc === null) throw notFound("element", id);
        const change = prepareConfigChange(doc, changes, now);
        if (!change.ok) return change;
        this.#put("elements", id, change.doc);
        return { ok: true, element: change.element };
      })
    );
  }

  /** Deletes an element (refused while held unless forced). */
  removeElement(id: string, options: { force?: boolean } = {}): Promise<boolean> {
    id = normalizeId(id);
    return this.#run(() =>
      this.#tx(() => {
        const doc = this.#get("elements", id);
        if (doc === null) return false;
        const instanceId = typeof doc.instance_id === "string" ? doc.instance_id : null;
        if (instanceId !== null) {
          if (options.force !== true) throw elementHeld(id, doc);
          this.#freeInstance(instanceId, id);
        }
        this.#sql.get("DELETE FROM elements WHERE id = ?").run(id);
        return true;
      })
    );
  }

  /** A change feed of the elements table. */
  watchElements(options: WatchOptions = {}): ElementFeed {
    options = normalizeWatchOptions(options);
    if (this.#closed) throw new StoreError("CLOSED", `Store ${this.description} is closed`);
    const source = new SqliteFeedSource(
      this.#sql,
      this.#feedPollMs,
      this.#busyTimeoutMs,
      () => this.#closed,
    );
    return openFeed(source, options, this.#feeds);
  }

  /** Registers an instance; allocates its port when absent. */
  addInstance(input: NewInstance, now = Date.now()): Promise<Instance> {
    return this.#run(() => {
      checkNewInstance(input.path, input.host, input.port, input.symbol);
      return this.#tx(() => {
        const existing = this.#sql.get(
          "SELECT id, doc FROM instances WHERE json_extract(doc, '$.host') = ?",
        ).all(input.host).map((row) => readDoc(row));
        const doc = planInstance(existing, input, now);
        this.#put("instances", doc._id, doc, true);
        return doc;
      });
    });
  }

  /** One instance. */
  getInstance(id: string): Promise<Instance | null> {
    id = normalizeId(id);
    return this.#run(() => {
      const doc = this.#get("instances", id);
      return doc === null ? null : toInstance(doc);
    });
  }

  /** Instances sorted by host then port. */
  listInstances(filter: InstanceFilter = {}): Promise<Instance[]> {
    return this.#run(() => {
      const rows = this.#sql.get("SELECT id, doc FROM instances").all();
      return validInstances(
        rows.map((row) => readDoc(row)).filter((doc) => instanceMatches(doc, filter)),
      ).sort(compareInstances);
    });
  }

  /** Deletes an instance (refused while OCCUPIED unless forced). */
  removeInstance(id: string, options: { force?: boolean } = {}): Promise<boolean> {
    id = normalizeId(id);
    return this.#run(() =>
      this.#tx(() => {
        const doc = this.#get("instances", id);
        if (doc === null) return false;
        if (doc.status === "OCCUPIED" && options.force !== true) throw instanceOccupied(id, doc);
        this.#sql.get("DELETE FROM instances WHERE id = ?").run(id);
        return true;
      })
    );
  }

  /** Admin claim: a FREE instance on `host` for an unheld element. */
  claimFreeInstance(elementId: string, host: string, now: number): Promise<Lease> {
    elementId = normalizeId(elementId);
    return this.#run(() =>
      this.#tx(() => {
        const doc = claimableElement(this.#get("elements", elementId), elementId);
        if (typeof doc.instance_id === "string") throw elementHeld(elementId, doc);
        const [instance] = claimableInstances(
          this.#sql.get("SELECT id, doc FROM instances WHERE json_extract(doc, '$.host') = ?")
            .all(host).map((row) => readDoc(row)),
        );
        if (instance === undefined) throw noFreeInstance(host);
        this.#releaseOthers(String(instance._id), elementId, now);
        return this.#assign(doc, instance, host, now, null);
      })
    );
  }

  /** Risk process: take the lease on a given instance. */
  takeLease(elementId: string, instanceId: string, options: TakeLeaseOptions): Promise<Lease> {
    elementId = normalizeId(elementId);
    instanceId = normalizeId(instanceId);
    return this.#run(() =>
      this.#tx(() => {
        const { now, staleAfterMs, host, takeId } = options;
        const cutoff = now - staleAfterMs;
        const doc = claimableElement(this.#get("elements", elementId), elementId);
        const instance = this.#get("instances", instanceId);
        if (instance === null) throw notFound("instance", instanceId);
        checkStoredInstance(instance);
        if (repeatsTake(doc, instance, instanceId, takeId)) return leaseOf(doc, instance);
        const current = typeof doc.instance_id === "string" ? doc.instance_id : null;
        if (adoptsClaim(doc, instance, instanceId)) {
          // Freshly claimed by the admin, never pinged: the child adopts the admin's lease.
          doc.last_ping = now;
          doc.take_id = takeId ?? null;
          doc.updated_at = now;
          instance.last_ping = now;
          this.#put("elements", elementId, doc);
          this.#put("instances", instanceId, instance);
          return leaseOf(doc, instance);
        }
        if (current !== null && !isStale(doc, cutoff)) throw elementHeld(elementId, doc);
        if (!instanceTakeable(instance, elementId, cutoff)) {
          throw instanceBusy(instanceId, instance, now);
        }
        if (current !== null && current !== instanceId) this.#freeInstance(current, elementId);
        this.#releaseOthers(instanceId, elementId, now);
        return this.#assign(doc, instance, host, now, now, takeId ?? null);
      })
    );
  }

  /** Pings the element and the instance of a lease. */
  ping(lease: LeaseRef, now: number, options: { pid?: number } = {}): Promise<void> {
    lease = normalizeLeaseRef(lease);
    return this.#run(() =>
      this.#tx(() => {
        const doc = this.#leased(lease);
        const instance = this.#get("instances", lease.instance_id);
        if (!holdsInstance(doc, instance, lease.instance_id)) throw instanceLost(lease);
        doc.last_ping = now;
        doc.updated_at = now;
        this.#put("elements", lease.element_id, doc);
        instance.last_ping = now;
        if (options.pid !== undefined) instance.pid = options.pid;
        this.#put("instances", lease.instance_id, instance);
      })
    );
  }

  /** Lease-guarded write of managed fields. */
  updateElement(lease: LeaseRef, patch: ManagedPatch, now: number): Promise<void> {
    lease = normalizeLeaseRef(lease);
    return this.#run(() => {
      const fields = checkManagedPatch(patch);
      this.#tx(() => {
        const doc = this.#leased(lease);
        if (fields.status !== undefined && doc.status === "DISABLED") {
          throw statusOfDisabled(lease.element_id, fields.status);
        }
        Object.assign(doc, fields);
        doc.updated_at = now;
        this.#put("elements", lease.element_id, doc);
      });
    });
  }

  /** Gives the element and its instance back. */
  release(lease: LeaseRef, options: ReleaseOptions = {}): Promise<void> {
    lease = normalizeLeaseRef(lease);
    return this.#run(() =>
      this.#tx(() => {
        const now = options.now ?? Date.now();
        const doc = this.#leased(lease);
        unassign(doc, options.status ?? "INACTIVE", now);
        if (options.error !== undefined) doc.error = options.error;
        this.#put("elements", lease.element_id, doc);
        this.#freeInstance(lease.instance_id, lease.element_id);
      })
    );
  }

  /** Frees stale instances and releases stale elements. */
  reap(options: ReapOptions): Promise<ReapResult> {
    return this.#run(() =>
      this.#tx(() => {
        const instanceCutoff = options.now - (options.instanceStaleMs ?? DEFAULT_STALE_MS);
        const elementCutoff = options.now - (options.elementStaleMs ?? DEFAULT_STALE_MS);
        const hostClause = options.host === undefined ? "" : "AND json_extract(doc, '$.host') = ?";
        const hostArgs = options.host === undefined ? [] : [options.host];
        const freed = this.#sql.get(
          `UPDATE instances SET doc = json_set(doc, ${FREED_PATHS})
           WHERE json_extract(doc, '$.status') = 'OCCUPIED'
             AND coalesce(json_extract(doc, '$.last_ping'), 0) < ? ${hostClause}`,
        ).run(...FREED_VALUES, instanceCutoff, ...hostArgs);
        const rows = this.#sql.get(
          `SELECT id, doc FROM elements WHERE json_extract(doc, '$.instance_id') IS NOT NULL
             AND coalesce(json_extract(doc, '$.last_ping'), json_extract(doc, '$.leased_at'), 0) < ?
             ${hostClause}`,
        ).all(elementCutoff, ...hostArgs);
        const elements = new Set<string>();
        const release = (doc: Doc) => {
          unassign(doc, doc.status === "ACTIVE" ? "INACTIVE" : undefined, options.now);
          this.#put("elements", String(doc._id), doc);
          elements.add(String(doc._id));
        };
        for (const row of rows) release(readDoc(row));
        // Held elements whose instance is gone, FREE, or held by another element (an instance
        // freed above, or one taken over) are released too: nobody else may keep writing.
        const held = this.#sql.get(
          `SELECT id, doc FROM elements WHERE json_extract(doc, '$.instance_id') IS NOT NULL
             ${hostClause}`,
        ).all(...hostArgs);
        for (const row of held) {
          const doc = readDoc(row);
          const instanceId = String(doc.instance_id);
          if (!holdsInstance(doc, this.#get("instances", instanceId), instanceId)) release(doc);
        }
        return { instances: Number(freed.changes), elements: [...elements].sort() };
      })
    );
  }

  /** Marks a FREE instance UNUSABLE with a reason, or an UNUSABLE one FREE again. */
  setInstanceUsable(id: string, problem: string | null, now: number): Promise<boolean> {
    id = normalizeId(id);
    return this.#run(() =>
      this.#tx(() => {
        const doc = this.#get("instances", id);
        if (doc === null) return false;
        const status = doc.status ?? "FREE";
        if (status !== (problem === null ? "UNUSABLE" : "FREE")) return false;
        this.#put("instances", id, { ...doc, ...instanceUsableFields(problem, now) });
        return true;
      })
    );
  }

  /** Writes an admin heartbeat unless another run of the host beat recently. */
  beatAgent(
    beat: AgentHeartbeat,
    options: { staleAfterMs: number; replaceRunId?: string },
  ): Promise<BeatResult> {
    return this.#run(() =>
      this.#tx(() => {
        const id = `${AGENT_ID_PREFIX}${beat.host}`;
        const row = this.#sql.get("SELECT doc FROM agent_state WHERE id = ?").get(id);
        const [stored] = row === undefined ? [] : validHeartbeats([JSON.parse(String(row.doc))]);
        if (stored !== undefined && heartbeatBlocks(stored, beat, options)) {
          return { ok: false as const, holder: stored };
        }
        this.#sql.get(
          "INSERT INTO agent_state (id, doc) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET doc = excluded.doc",
        ).run(id, JSON.stringify({ _id: id, ...beat }));
        return { ok: true as const };
      })
    );
  }

  /** Every admin host's heartbeat. */
  listAgents(): Promise<AgentHeartbeat[]> {
    return this.#run(() =>
      validHeartbeats(
        this.#sql.get("SELECT doc FROM agent_state WHERE id LIKE ?").all(`${AGENT_ID_PREFIX}%`)
          .map((row) => JSON.parse(String(row.doc))),
      )
    );
  }

  /** Appends an audit event. */
  appendEvent(event: NewEvent): Promise<EventRecord> {
    event = normalizeEventIds(event);
    // Made once: a retry after a busy database inserts the same record.
    let record: EventRecord | undefined;
    return this.#run(() => {
      const now = Date.now();
      record ??= checkNewEvent(event, newId(now), now);
      this.#sql.get("INSERT INTO events (id, element_id, at, doc) VALUES (?, ?, ?, ?)").run(
        record._id,
        record.element_id,
        record.at,
        JSON.stringify(record),
      );
      return record;
    });
  }

  /** Events of one element, oldest first. */
  listEvents(
    elementId: string | null,
    options: { limit?: number; since?: number; types?: readonly string[] } = {},
  ): Promise<EventRecord[]> {
    const where = ["at >= ?"];
    const params: (string | number)[] = [options.since ?? 0];
    if (elementId !== null) {
      where.push("element_id = ?");
      params.push(normalizeId(elementId));
    }
    if (options.types !== undefined) {
      if (options.types.length === 0) return Promise.resolve([]);
      where.push(`json_extract(doc, '$.type') IN (${options.types.map(() => "?").join(", ")})`);
      params.push(...options.types);
    }
    params.push(Math.max(1, Math.floor(options.limit ?? 100)));
    return this.#run(() => {
      const rows = this.#sql.get(
        `SELECT id, doc FROM events WHERE ${
          where.join(" AND ")
        } ORDER BY at DESC, seq DESC LIMIT ?`,
      ).all(...params);
      return validEvents(rows.reverse().map((row) => readDoc(row)));
    });
  }

  /** Appends (or, at the same millisecond, replaces) one equity sample. */
  appendSample(sample: Sample): Promise<void> {
    return this.#run(() => {
      const s = checkSample(sample);
      // Columns, not a JSON document: samples are the largest table by far.
      this.#sql.get(
        "INSERT OR REPLACE INTO samples (element_id, at, balance, equity, daily_pl, positions) " +
          "VALUES (?, ?, ?, ?, ?, ?)",
      ).run(s.element_id, s.at, s.balance, s.equity, s.daily_pl, s.positions);
    });
  }

  /** Samples of one element in a time range, oldest first. */
  listSamples(elementId: string, range: SampleRange = {}): Promise<Sample[]> {
    elementId = normalizeId(elementId);
    return this.#run(() => {
      const rows = this.#sql.get(
        "SELECT element_id, at, balance, equity, daily_pl, positions FROM samples " +
          "WHERE element_id = ? AND at >= ? AND at <= ? ORDER BY at DESC LIMIT ?",
      ).all(
        elementId,
        range.since ?? 0,
        range.until ?? Number.MAX_SAFE_INTEGER,
        Math.max(1, Math.floor(range.limit ?? DEFAULT_SAMPLE_LIMIT)),
      );
      return validSamples(rows.reverse().map((row) => ({ ...row })));
    });
  }

  /** Deletes samples older than `before`. */
  pruneSamples(before: number): Promise<number> {
    return this.#run(() =>
      Number(this.#sql.get("DELETE FROM samples WHERE at < ?").run(before).changes)
    );
  }

  // ---- helpers ----

  /**
   * Runs a synchronous body (one transaction, or reads), retrying it while the database is
   * locked by another connection (see {@link retryWhileBusy}), and maps SQLite failures to store
   * errors; never throws sync.
   */
  async #run<T>(body: () => T): Promise<T> {
    try {
      return await retryWhileBusy(() => {
        if (this.#closed) throw new StoreError("CLOSED", `Store ${this.description} is closed`);
        return body();
      }, this.#busyTimeoutMs);
    } catch (error) {
      throw this.#mapError(error);
    }
  }

  #mapError(error: unknown): unknown {
    if (error instanceof StoreError) return error;
    if (isBusy(error)) {
      return new StoreUnavailableError(
        `SQLite database ${this.#path} stayed locked by another process: ${describeError(error)}`,
        { cause: error },
      );
    }
    if (isConstraint(error)) {
      return new StoreError("STORE_CONFLICT", `SQLite constraint failed: ${describeError(error)}`, {
        cause: error,
      });
    }
    if (
      error instanceof Error &&
      ("errcode" in error || (error as { code?: unknown }).code === "ERR_SQLITE_ERROR")
    ) {
      return new StoreUnavailableError(
        `SQLite database ${this.#path} failed: ${describeError(error)}`,
        { cause: error },
      );
    }
    return error;
  }

  /**
   * Runs `body` in a `BEGIN IMMEDIATE` transaction. The transaction statements go through
   * prepared statements (`run()`): an error thrown by `exec()` carries no `errcode`, and a busy `BEGIN`
   * must surface as a busy error (mapped to STORE_UNAVAILABLE), not a raw one.
   */
  #tx<T>(body: () => T): T {
    this.#sql.get("BEGIN IMMEDIATE").run();
    try {
      const result = body();
      this.#sql.get("COMMIT").run();
      return result;
    } catch (error) {
      try {
        this.#sql.get("ROLLBACK").run();
      } catch {
        // The transaction may already be gone.
      }
      throw error;
    }
  }

  #get(table: "elements" | "instances", id: string): Doc | null {
    return getDoc(this.#sql, table, id);
  }

  #put(table: "elements" | "instances", id: string, doc: Doc, insert = false): void {
    const text = JSON.stringify(doc);
    if (insert) this.#sql.get(`INSERT INTO ${table} (id, doc) VALUES (?, ?)`).run(id, text);
    else this.#sql.get(`UPDATE ${table} SET doc = ? WHERE id = ?`).run(text, id);
  }

  /** The element document when `lease` is its current one. */
  #leased(lease: LeaseRef): Doc {
    const doc = this.#get("elements", lease.element_id);
    if (doc === null || leaseOfDoc(doc) !== lease.lease) throw leaseLost(lease, doc);
    return doc;
  }

  /** Gives `instance` to the element with a new lease; writes both. */
  #assign(
    doc: Doc,
    instance: Doc,
    host: string,
    now: number,
    lastPing: number | null,
    takeId: string | null = null,
  ): Lease {
    const lease = leaseOfDoc(doc) + 1;
    Object.assign(
      doc,
      claimedElementFields(String(instance._id), host, lease, now, lastPing, takeId),
    );
    Object.assign(instance, occupiedInstanceFields(String(doc._id), lease, now));
    this.#put("elements", String(doc._id), doc);
    this.#put("instances", String(instance._id), instance);
    return leaseOf(doc, instance);
  }

  /**
   * Releases every element other than `elementId` that still references `instanceId` (a stale
   * holder being taken over): INACTIVE unless DISABLED, no instance, lease + 1, so its manager's
   * next write fails with LEASE_LOST.
   */
  #releaseOthers(instanceId: string, elementId: string, now: number): void {
    const rows = this.#sql.get(
      "SELECT id, doc FROM elements WHERE json_extract(doc, '$.instance_id') = ? AND id != ?",
    ).all(instanceId, elementId);
    for (const row of rows) {
      const other = readDoc(row);
      unassign(other, "INACTIVE", now);
      this.#put("elements", String(other._id), other);
    }
  }

  /** Sets the instance FREE when `elementId` holds it. */
  #freeInstance(instanceId: string, elementId: string): void {
    const instance = this.#get("instances", instanceId);
    if (instance === null || instance.element_id !== elementId) return;
    this.#put("instances", instanceId, { ...instance, ...FREED_INSTANCE_FIELDS });
  }
}

/**
 * Polls `element_changes` for the feed. It is given the store's database handle (and a way to
 * tell that the store closed), so the store needs no public feed-support methods.
 */
class SqliteFeedSource implements FeedSource {
  /** The store's statements: the poll runs every {@link SqliteStore} `feedPollMs` (25 ms). */
  #sql: StatementCache;
  #pollMs: number;
  #busyTimeoutMs: number;
  #storeClosed: () => boolean;
  #cursor = 0;
  #buffer: RawChange[] = [];
  #abort = new AbortController();

  constructor(
    sql: StatementCache,
    pollMs: number,
    busyTimeoutMs: number,
    storeClosed: () => boolean,
  ) {
    this.#sql = sql;
    this.#pollMs = pollMs;
    this.#busyTimeoutMs = busyTimeoutMs;
    this.#storeClosed = storeClosed;
  }

  open(token: unknown): Promise<void> {
    this.#abort = new AbortController();
    this.#buffer = [];
    try {
      const row = this.#sql.get("SELECT min(seq) AS lo, max(seq) AS hi FROM element_changes")
        .get();
      const lo = row?.lo === null || row?.lo === undefined ? null : Number(row.lo);
      const hi = row?.hi === null || row?.hi === undefined ? null : Number(row.hi);
      if (token === null || token === undefined) {
        this.#cursor = hi ?? 0;
        return Promise.resolve();
      }
      const position = Number(token);
      if (!Number.isInteger(position) || position < 0) {
        throw new HistoryLostError(`resume token ${JSON.stringify(token)} is not a position`);
      }
      if (
        (lo !== null && position < lo - 1) || (hi === null && position > 0) ||
        (hi !== null && position > hi)
      ) {
        throw new HistoryLostError(
          `resume position ${position} is outside the kept changes ${lo ?? "-"}..${hi ?? "-"}`,
        );
      }
      this.#cursor = position;
      return Promise.resolve();
    } catch (error) {
      return Promise.reject(error);
    }
  }

  async next(): Promise<RawChange | null> {
    const signal = this.#abort.signal;
    while (!signal.aborted) {
      const buffered = this.#buffer.shift();
      if (buffered !== undefined) return buffered;
      const rows = this.#sql.get(
        "SELECT seq, element_id, op FROM element_changes WHERE seq > ? ORDER BY seq LIMIT 256",
      ).all(this.#cursor);
      if (rows.length > 0) {
        const first = Number(rows[0]!.seq);
        if (this.#cursor > 0 && first > this.#cursor + 1) {
          // Changes were pruned before this feed read them: rescan everything.
          this.#buffer.push({ token: first - 1, op: "reconcile" });
        }
        for (const row of rows) {
          const seq = Number(row.seq);
          this.#buffer.push({
            token: seq,
            op: row.op === "delete" ? "delete" : "change",
            id: String(row.element_id),
          });
          this.#cursor = seq;
        }
        continue;
      }
      await abortableSleep(this.#pollMs, signal);
    }
    return null;
  }

  stop(): Promise<void> {
    this.#abort.abort();
    return Promise.resolve();
  }

  /** Runs `body`, waiting for a locked database off the event loop like the store does. */
  #attempt<T>(body: () => T): Promise<T> {
    return retryWhileBusy(body, this.#busyTimeoutMs);
  }

  scan(elementId: string | undefined): Promise<Doc[]> {
    return this.#attempt(() => {
      if (elementId !== undefined) {
        const doc = getDoc(this.#sql, "elements", elementId);
        return doc === null ? [] : [doc];
      }
      return this.#sql.get("SELECT id, doc FROM elements ORDER BY id").all().map((row) =>
        readDoc(row)
      );
    });
  }

  lookup(id: string): Promise<Doc | null> {
    return this.#attempt(() => getDoc(this.#sql, "elements", id));
  }

  loadState(key: string): Promise<Doc | null> {
    return this.#attempt(() => {
      const row = this.#sql.get("SELECT id, doc FROM agent_state WHERE id = ?").get(key);
      return row === undefined ? null : readDoc(row);
    });
  }

  /** Saves (or, with `null`, forgets) the feed position of `key`; nothing once the store closed. */
  saveToken(key: string, token: unknown): Promise<void> {
    return this.#attempt(() => {
      if (this.#storeClosed()) return;
      const now = Date.now();
      if (token === null) {
        this.#sql.get(
          "UPDATE agent_state SET doc = json_set(json_remove(doc, '$.resume_token'), '$.updated_at', ?) WHERE id = ?",
        ).run(now, key);
        return;
      }
      // Only the position and its time change: the document's other fields are kept.
      const doc = { _id: key, resume_token: token, updated_at: now };
      this.#sql.get(
        `INSERT INTO agent_state (id, doc) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET
           doc = json_set(doc, '$.resume_token', json(?), '$.updated_at', ?)`,
      ).run(key, JSON.stringify(doc), JSON.stringify(token), now);
    });
  }
}

/**
 * Runs `body`, and runs it again while it fails because another connection holds the lock it
 * needs, until `patienceMs` (measured on the monotonic clock) has passed; then the busy error is
 * thrown. Each try waits at most {@link SYNC_BUSY_MS} inside SQLite; between tries the event loop
 * is free ({@link BUSY_RETRY_BACKOFF}). `body` must be safe to run again after a busy failure:
 * a transaction (rolled back when it failed) or reads.
 */
async function retryWhileBusy<T>(body: () => T, patienceMs: number): Promise<T> {
  const deadline = performance.now() + patienceMs;
  for (let attempt = 0;; attempt++) {
    try {
      return body();
    } catch (error) {
      const left = deadline - performance.now();
      if (!isBusy(error) || left <= 0) throw error;
      await abortableSleep(Math.min(left, exponentialBackoff(attempt, BUSY_RETRY_BACKOFF)));
    }
  }
}

function getDoc(sql: StatementCache, table: "elements" | "instances", id: string): Doc | null {
  const row = sql.get(`SELECT id, doc FROM ${table} WHERE id = ?`).get(id);
  return row === undefined ? null : readDoc(row);
}

function readDoc(row: Record<string, unknown>): Doc {
  const id = String(row.id);
  try {
    const value: unknown = JSON.parse(String(row.doc));
    if (value !== null && typeof value === "object" && !Array.isArray(value)) {
      return { ...(value as Doc), _id: id };
    }
  } catch {
    // fall through: a corrupt document is reported by the schema as invalid
  }
  return { _id: id, _corrupt: String(row.doc).slice(0, 100) };
}

/** Clears the holder and bumps the lease; sets `status` unless the element is DISABLED. */
function unassign(
  doc: Doc,
  status: "INACTIVE" | "PENDING" | "ERROR" | undefined,
  now: number,
): void {
  if (status !== undefined && doc.status !== "DISABLED") doc.status = status;
  Object.assign(doc, releasedElementFields(now));
  doc.lease = leaseOfDoc(doc) + 1;
}

/**
 * SQLITE_BUSY or SQLITE_LOCKED. Errors thrown by `DatabaseSync.exec()` have no `errcode` (only
 * `code: "ERR_SQLITE_ERROR"`), so the message is matched too.
 */
function isBusy(error: unknown): boolean {
  const code = (error as { errcode?: number } | null)?.errcode;
  if (typeof code === "number" && ((code & 0xff) === 5 || (code & 0xff) === 6)) return true;
  return error instanceof Error && /database (table )?is (locked|busy)/i.test(error.message);
}

function isConstraint(error: unknown): boolean {
  const code = (error as { errcode?: number } | null)?.errcode;
  return code !== undefined && (code & 0xff) === 19;
}

/** Makes a file readable and writable by its owner only (not on Windows, where ACLs apply). */
async function restrictToOwner(path: string): Promise<void> {
  if (Deno.build.os === "windows" || path === ":memory:") return;
  try {
    await Deno.chmod(path, 0o600);
  } catch {
    // Not ours to change (or not there): the database still works.
  }
}
