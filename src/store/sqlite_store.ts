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
 * @module
 */
import { DatabaseSync } from "node:sqlite";
import type {
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
} from "./mod.ts";
import {
  type ElementError,
  type ElementStatus,
  type EventRecord,
  type Instance,
  instanceSchema,
  type NewEvent,
  type ParsedElement,
  parseElement,
  parseInstance,
  type Sample,
} from "./schemas.ts";
import {
  allocatePort,
  checkManagedPatch,
  checkNewEvent,
  checkNewInstance,
  checkSample,
  checkStoredInstance,
  DEFAULT_SAMPLE_LIMIT,
  DEFAULT_STALE_MS,
  isSimPath,
  newId,
  normalizeEventIds,
  normalizeId,
  normalizeLeaseRef,
  normalizeWatchOptions,
  portsOverlap,
  prepareConfigChange,
  prepareElement,
  sleep,
  toInstance,
  validEvents,
  validInstances,
  validSamples,
} from "./_common.ts";
import {
  Feed,
  type FeedSource,
  HistoryLostError,
  logFeedWarning,
  type RawChange,
} from "./_feed.ts";
import { LeaseLostError, StoreError, StoreUnavailableError } from "./errors.ts";

/** Options of {@link SqliteStore.open}. */
export interface SqliteStoreOptions {
  /** Path of the database file (created when missing; its folder must exist). */
  path: string;
  /** How long a write waits for another process's write lock, ms (default 10 000). */
  busyTimeoutMs?: number;
}

type Doc = Record<string, unknown>;

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

/** The SQLite adapter of the store port. */
export class SqliteStore implements Store {
  /** Always `sqlite`. */
  readonly kind = "sqlite" as const;
  /** `sqlite:<path>`. */
  readonly description: string;
  #db: DatabaseSync;
  #path: string;
  #feeds = new Set<Feed>();
  #closed = false;

  private constructor(db: DatabaseSync, path: string) {
    this.#db = db;
    this.#path = path;
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
        `Cannot open SQLite database ${options.path}: ${describe(error)}`,
        { cause: error },
      );
    }
    // The file may hold account passwords (when no RISKGUARD_SECRET_KEY encrypts them): only
    // its owner may read it. SQLite gives its -wal and -shm files the same permissions.
    await restrictToOwner(options.path);
    const store = new SqliteStore(db, options.path);
    try {
      db.exec(`PRAGMA busy_timeout = ${Math.max(0, Math.floor(options.busyTimeoutMs ?? 10_000))}`);
      for (let attempt = 0;; attempt++) {
        try {
          db.exec("PRAGMA journal_mode = WAL");
          break;
        } catch (error) {
          if (!isBusy(error) || attempt >= 50) throw error;
          await sleep(20 + Math.random() * 30);
        }
      }
      db.exec("PRAGMA synchronous = NORMAL");
      await store.ensureIndexes();
    } catch (error) {
      db.close();
      if (error instanceof StoreError) throw error;
      throw new StoreUnavailableError(
        `Cannot open SQLite database ${options.path}: ${describe(error)}`,
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
      const parsed = parseElement(prepared.doc);
      if (!parsed.valid) throw new Error("unreachable: element validated before insert");
      return { ok: true, element: parsed };
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
        ? this.#db.prepare("SELECT id, doc FROM elements ORDER BY id").all()
        : this.#db.prepare(
          "SELECT id, doc FROM elements WHERE json_extract(doc, '$.host') = ? ORDER BY id",
        ).all(filter.host);
      const statuses = filter.status;
      return rows.map((row) => readDoc(row)).filter((doc) =>
        statuses === undefined || statuses.includes((doc.status ?? "PENDING") as ElementStatus)
      ).map(parseElement);
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
          if (options.force !== true) throw held(id, doc);
          this.#freeInstance(instanceId, id);
        }
        this.#db.prepare("DELETE FROM elements WHERE id = ?").run(id);
        return true;
      })
    );
  }

  /** A change feed of the elements table. */
  watchElements(options: WatchOptions = {}): ElementFeed {
    options = normalizeWatchOptions(options);
    if (this.#closed) throw new StoreError("CLOSED", `Store ${this.description} is closed`);
    const source = new SqliteFeedSource(this, this.#db, options.pollIntervalMs ?? 25);
    const feed: Feed = new Feed(source, {
      resumeKey: options.resumeKey,
      elementId: options.elementId,
      maxRetries: options.maxRetries,
      onWarning: logFeedWarning,
    }, () => this.#feeds.delete(feed));
    this.#feeds.add(feed);
    return feed;
  }

  /** Registers an instance; allocates its port when absent. */
  addInstance(input: NewInstance, now = Date.now()): Promise<Instance> {
    return this.#run(() => {
      checkNewInstance(input.path, input.host, input.port, input.symbol);
      return this.#tx(() => {
        const existing = this.#db.prepare(
          "SELECT id, doc FROM instances WHERE json_extract(doc, '$.host') = ?",
        ).all(input.host).map((row) => readDoc(row));
        const ports = existing.map((doc) => Number(doc.port));
        if (!isSimPath(input.path)) {
          const same = existing.find((doc) => doc.path === input.path);
          if (same !== undefined) {
            throw new StoreError(
              "STORE_CONFLICT",
              `Terminal folder ${input.path} is already instance ${
                String(same._id)
              } on host ${input.host}`,
            );
          }
        }
        let port = input.port;
        if (port === undefined) port = allocatePort(ports);
        else {
          const clash = ports.find((used) => portsOverlap(used, port!));
          if (clash !== undefined) {
            throw new StoreError(
              "STORE_CONFLICT",
              `Port ${port} overlaps ports ${clash}-${
                clash + 1
              } already used on host ${input.host}`,
            );
          }
        }
        const doc = instanceSchema.parse({
          _id: newId(now),
          path: input.path,
          host: input.host,
          port,
          ...(input.symbol === undefined ? {} : { symbol: input.symbol }),
          status: "FREE",
          created_at: now,
        });
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
      const rows = this.#db.prepare("SELECT id, doc FROM instances").all();
      return validInstances(
        rows.map((row) => readDoc(row)).filter((doc) =>
          (filter.host === undefined || doc.host === filter.host) &&
          (filter.status === undefined || (doc.status ?? "FREE") === filter.status)
        ),
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
        if (doc.status === "OCCUPIED" && options.force !== true) {
          throw new StoreError(
            "STORE_CONFLICT",
            `Instance ${id} is OCCUPIED by element ${String(doc.element_id)}; use --force`,
          );
        }
        this.#db.prepare("DELETE FROM instances WHERE id = ?").run(id);
        return true;
      })
    );
  }

  /** Admin claim: a FREE instance on `host` for an unheld element. */
  claimFreeInstance(elementId: string, host: string, now: number): Promise<Lease> {
    elementId = normalizeId(elementId);
    return this.#run(() =>
      this.#tx(() => {
        const doc = this.#claimableElement(elementId);
        if (typeof doc.instance_id === "string") throw held(elementId, doc);
        // Instance documents written by others may be invalid: they are skipped, never taken.
        const instance = this.#db.prepare(
          `SELECT id, doc FROM instances WHERE json_extract(doc, '$.host') = ?
             AND json_extract(doc, '$.status') = 'FREE' ORDER BY json_extract(doc, '$.port')`,
        ).all(host).map((row) => readDoc(row)).find((candidate) => parseInstance(candidate).ok);
        if (instance === undefined) {
          throw new StoreError(
            "CLAIM_FAILED",
            `Cannot claim instance: no FREE instance on host ${host}`,
          );
        }
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
        const { now, staleAfterMs, host } = options;
        const cutoff = now - staleAfterMs;
        const doc = this.#claimableElement(elementId);
        const instance = this.#get("instances", instanceId);
        if (instance === null) throw notFound("instance", instanceId);
        checkStoredInstance(instance);
        const current = typeof doc.instance_id === "string" ? doc.instance_id : null;
        if (current === instanceId && doc.last_ping === null && instance.element_id === elementId) {
          // Freshly claimed by the admin, never pinged: the child adopts the admin's lease.
          doc.last_ping = now;
          doc.updated_at = now;
          instance.last_ping = now;
          this.#put("elements", elementId, doc);
          this.#put("instances", instanceId, instance);
          return leaseOf(doc, instance);
        }
        if (current !== null && !isStale(doc, cutoff)) throw held(elementId, doc);
        const instanceFree = instance.status !== "OCCUPIED" || instance.element_id === elementId ||
          typeof instance.last_ping !== "number" || instance.last_ping < cutoff;
        if (!instanceFree) {
          throw new StoreError(
            "CLAIM_FAILED",
            `Cannot take instance ${instanceId}: OCCUPIED by element ${
              String(instance.element_id)
            } (pinged ${ageText(instance.last_ping, now)})`,
          );
        }
        if (current !== null && current !== instanceId) this.#freeInstance(current, elementId);
        this.#releaseOthers(instanceId, elementId, now);
        return this.#assign(doc, instance, host, now, now);
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
        if (!holdsInstance(doc, instance, lease.instance_id)) {
          throw new LeaseLostError(
            lease.element_id,
            lease.lease,
            `instance ${lease.instance_id} is no longer held by this element`,
          );
        }
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
          throw new StoreError(
            "STORE_CONFLICT",
            `Element ${lease.element_id} is DISABLED; its status is not changed to ${fields.status}`,
          );
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
        unassign(doc, options.status ?? "INACTIVE");
        if (options.error !== undefined) doc.error = options.error;
        doc.updated_at = now;
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
        const freed = this.#db.prepare(
          `UPDATE instances SET doc = json_set(doc, '$.status', 'FREE', '$.element_id', NULL,
             '$.lease', NULL, '$.pid', NULL)
           WHERE json_extract(doc, '$.status') = 'OCCUPIED'
             AND coalesce(json_extract(doc, '$.last_ping'), 0) < ? ${hostClause}`,
        ).run(instanceCutoff, ...hostArgs);
        const rows = this.#db.prepare(
          `SELECT id, doc FROM elements WHERE json_extract(doc, '$.instance_id') IS NOT NULL
             AND coalesce(json_extract(doc, '$.last_ping'), json_extract(doc, '$.leased_at'), 0) < ?
             ${hostClause}`,
        ).all(elementCutoff, ...hostArgs);
        const elements = new Set<string>();
        const release = (doc: Doc) => {
          unassign(doc, doc.status === "ACTIVE" ? "INACTIVE" : undefined);
          doc.updated_at = options.now;
          this.#put("elements", String(doc._id), doc);
          elements.add(String(doc._id));
        };
        for (const row of rows) release(readDoc(row));
        // Held elements whose instance is gone, FREE, or held by another element (an instance
        // freed above, or one taken over) are released too: nobody else may keep writing.
        const held = this.#db.prepare(
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

  /** Appends an audit event. */
  appendEvent(event: NewEvent): Promise<EventRecord> {
    event = normalizeEventIds(event);
    return this.#run(() => {
      const now = Date.now();
      const record = checkNewEvent(event, newId(now), now);
      this.#db.prepare("INSERT INTO events (id, element_id, at, doc) VALUES (?, ?, ?, ?)").run(
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
    elementId: string,
    options: { limit?: number; since?: number } = {},
  ): Promise<EventRecord[]> {
    elementId = normalizeId(elementId);
    return this.#run(() => {
      const rows = this.#db.prepare(
        "SELECT id, doc FROM events WHERE element_id = ? AND at >= ? ORDER BY at DESC, seq DESC LIMIT ?",
      ).all(elementId, options.since ?? 0, Math.max(1, Math.floor(options.limit ?? 100)));
      return validEvents(rows.reverse().map((row) => readDoc(row)));
    });
  }

  /** Appends (or, at the same millisecond, replaces) one equity sample. */
  appendSample(sample: Sample): Promise<void> {
    return this.#run(() => {
      const s = checkSample(sample);
      // Columns, not a JSON document: samples are the largest table by far.
      this.#db.prepare(
        "INSERT OR REPLACE INTO samples (element_id, at, balance, equity, daily_pl, positions) " +
          "VALUES (?, ?, ?, ?, ?, ?)",
      ).run(s.element_id, s.at, s.balance, s.equity, s.daily_pl, s.positions);
    });
  }

  /** Samples of one element in a time range, oldest first. */
  listSamples(elementId: string, range: SampleRange = {}): Promise<Sample[]> {
    elementId = normalizeId(elementId);
    return this.#run(() => {
      const rows = this.#db.prepare(
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
      Number(this.#db.prepare("DELETE FROM samples WHERE at < ?").run(before).changes)
    );
  }

  // ---- feed support (used by SqliteFeedSource) ----

  /** @internal Every element document, or the one with `id`. */
  scanDocs(id: string | undefined): Doc[] {
    if (id !== undefined) {
      const doc = this.#get("elements", id);
      return doc === null ? [] : [doc];
    }
    return this.#db.prepare("SELECT id, doc FROM elements ORDER BY id").all().map((row) =>
      readDoc(row)
    );
  }

  /** @internal One element document. */
  lookupDoc(id: string): Doc | null {
    return this.#get("elements", id);
  }

  /** @internal The saved feed position of `key`. */
  loadToken(key: string): unknown {
    const row = this.#db.prepare("SELECT doc FROM agent_state WHERE id = ?").get(key);
    if (row === undefined) return null;
    return (JSON.parse(String(row.doc)) as Doc).resume_token ?? null;
  }

  /** @internal Saves (or, with `null`, forgets) the feed position of `key`. */
  saveToken(key: string, token: unknown): void {
    if (this.#closed) return;
    if (token === null) {
      this.#db.prepare("DELETE FROM agent_state WHERE id = ?").run(key);
      return;
    }
    const doc = { _id: key, resume_token: token, updated_at: Date.now() };
    this.#db.prepare(
      "INSERT INTO agent_state (id, doc) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET doc = excluded.doc",
    ).run(key, JSON.stringify(doc));
  }

  // ---- helpers ----

  /** Runs a synchronous body, mapping SQLite failures to store errors; never throws sync. */
  #run<T>(body: () => T): Promise<T> {
    try {
      if (this.#closed) throw new StoreError("CLOSED", `Store ${this.description} is closed`);
      return Promise.resolve(body());
    } catch (error) {
      return Promise.reject(this.#mapError(error));
    }
  }

  #mapError(error: unknown): unknown {
    if (error instanceof StoreError) return error;
    if (isBusy(error)) {
      return new StoreUnavailableError(
        `SQLite database ${this.#path} stayed locked by another process: ${describe(error)}`,
        { cause: error },
      );
    }
    if (isConstraint(error)) {
      return new StoreError("STORE_CONFLICT", `SQLite constraint failed: ${describe(error)}`, {
        cause: error,
      });
    }
    if (
      error instanceof Error &&
      ("errcode" in error || (error as { code?: unknown }).code === "ERR_SQLITE_ERROR")
    ) {
      return new StoreUnavailableError(
        `SQLite database ${this.#path} failed: ${describe(error)}`,
        { cause: error },
      );
    }
    return error;
  }

  /**
   * Runs `body` in a `BEGIN IMMEDIATE` transaction. The transaction statements go through
   * `prepare(...).run()`: an error thrown by `exec()` carries no `errcode`, and a busy `BEGIN`
   * must surface as a busy error (mapped to STORE_UNAVAILABLE), not a raw one.
   */
  #tx<T>(body: () => T): T {
    this.#db.prepare("BEGIN IMMEDIATE").run();
    try {
      const result = body();
      this.#db.prepare("COMMIT").run();
      return result;
    } catch (error) {
      try {
        this.#db.prepare("ROLLBACK").run();
      } catch {
        // The transaction may already be gone.
      }
      throw error;
    }
  }

  #get(table: "elements" | "instances", id: string): Doc | null {
    const row = this.#db.prepare(`SELECT id, doc FROM ${table} WHERE id = ?`).get(id);
    return row === undefined ? null : readDoc(row);
  }

  #put(table: "elements" | "instances", id: string, doc: Doc, insert = false): void {
    const text = JSON.stringify(doc);
    if (insert) this.#db.prepare(`INSERT INTO ${table} (id, doc) VALUES (?, ?)`).run(id, text);
    else this.#db.prepare(`UPDATE ${table} SET doc = ? WHERE id = ?`).run(text, id);
  }

  /** The element document when it may be claimed (exists, valid, not DISABLED). */
  #claimableElement(elementId: string): Doc {
    const doc = this.#get("elements", elementId);
    if (doc === null) throw notFound("element", elementId);
    if (doc.status === "DISABLED") {
      throw new StoreError("CLAIM_FAILED", `Cannot claim element ${elementId}: it is DISABLED`);
    }
    const parsed = parseElement(doc);
    if (!parsed.valid) {
      throw new StoreError(
        "ELEMENT_INVALID",
        `Cannot claim element ${elementId}: ${parsed.field} ${parsed.reason}`,
      );
    }
    return doc;
  }

  /** The element document when `lease` is its current one. */
  #leased(lease: LeaseRef): Doc {
    const doc = this.#get("elements", lease.element_id);
    if (doc === null) throw new LeaseLostError(lease.element_id, lease.lease, "element deleted");
    if (leaseOfDoc(doc) !== lease.lease) {
      throw new LeaseLostError(
        lease.element_id,
        lease.lease,
        `current lease is ${leaseOfDoc(doc)}`,
      );
    }
    return doc;
  }

  /** Gives `instance` to the element with a new lease; writes both. */
  #assign(doc: Doc, instance: Doc, host: string, now: number, lastPing: number | null): Lease {
    const lease = leaseOfDoc(doc) + 1;
    doc.instance_id = String(instance._id);
    doc.host = host;
    doc.lease = lease;
    doc.leased_at = now;
    doc.last_ping = lastPing;
    doc.status = "ACTIVE";
    doc.updated_at = now;
    instance.status = "OCCUPIED";
    instance.element_id = String(doc._id);
    instance.lease = lease;
    instance.last_ping = now;
    instance.pid = null;
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
    const rows = this.#db.prepare(
      "SELECT id, doc FROM elements WHERE json_extract(doc, '$.instance_id') = ? AND id != ?",
    ).all(instanceId, elementId);
    for (const row of rows) {
      const other = readDoc(row);
      unassign(other, "INACTIVE");
      other.updated_at = now;
      this.#put("elements", String(other._id), other);
    }
  }

  /** Sets the instance FREE when `elementId` holds it. */
  #freeInstance(instanceId: string, elementId: string): void {
    const instance = this.#get("instances", instanceId);
    if (instance === null || instance.element_id !== elementId) return;
    instance.status = "FREE";
    instance.element_id = null;
    instance.lease = null;
    instance.pid = null;
    this.#put("instances", instanceId, instance);
  }
}

/** Polls `element_changes` for the feed. */
class SqliteFeedSource implements FeedSource {
  #store: SqliteStore;
  #db: DatabaseSync;
  #pollMs: number;
  #cursor = 0;
  #buffer: RawChange[] = [];
  #abort = new AbortController();

  constructor(store: SqliteStore, db: DatabaseSync, pollMs: number) {
    this.#store = store;
    this.#db = db;
    this.#pollMs = Math.max(1, pollMs);
  }

  open(token: unknown): Promise<void> {
    this.#abort = new AbortController();
    this.#buffer = [];
    try {
      const row = this.#db.prepare("SELECT min(seq) AS lo, max(seq) AS hi FROM element_changes")
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
      const rows = this.#db.prepare(
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
      await sleep(this.#pollMs, signal);
    }
    return null;
  }

  stop(): Promise<void> {
    this.#abort.abort();
    return Promise.resolve();
  }

  scan(elementId: string | undefined): Promise<Doc[]> {
    return attempt(() => this.#store.scanDocs(elementId));
  }

  lookup(id: string): Promise<Doc | null> {
    return attempt(() => this.#store.lookupDoc(id));
  }

  loadToken(key: string): Promise<unknown> {
    return attempt(() => this.#store.loadToken(key));
  }

  saveToken(key: string, token: unknown): Promise<void> {
    return attempt(() => this.#store.saveToken(key, token));
  }
}

function attempt<T>(body: () => T): Promise<T> {
  try {
    return Promise.resolve(body());
  } catch (error) {
    return Promise.reject(error);
  }
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

function compareInstances(a: Instance, b: Instance): number {
  return a.host < b.host ? -1 : a.host > b.host ? 1 : a.port - b.port;
}

function leaseOfDoc(doc: Doc): number {
  return typeof doc.lease === "number" ? doc.lease : 0;
}

function leaseOf(doc: Doc, instance: Doc): Lease {
  return {
    element_id: String(doc._id),
    instance_id: String(instance._id),
    lease: leaseOfDoc(doc),
    host: String(doc.host),
    instance: toInstance(instance),
  };
}

/** Clears the holder and bumps the lease; sets `status` unless the element is DISABLED. */
function unassign(doc: Doc, status: "INACTIVE" | "PENDING" | "ERROR" | undefined): void {
  if (status !== undefined && doc.status !== "DISABLED") doc.status = status;
  doc.instance_id = null;
  doc.host = null;
  doc.leased_at = null;
  doc.lease = leaseOfDoc(doc) + 1;
}

/** Whether `instance` (read by `instanceId`) is OCCUPIED by the element `doc`. */
function holdsInstance(doc: Doc, instance: Doc | null, instanceId: string): instance is Doc {
  return instance !== null && String(instance._id) === instanceId &&
    instance.status === "OCCUPIED" && instance.element_id === String(doc._id);
}

function isStale(doc: Doc, cutoff: number): boolean {
  const seen = typeof doc.last_ping === "number"
    ? doc.last_ping
    : typeof doc.leased_at === "number"
    ? doc.leased_at
    : 0;
  return seen < cutoff;
}

function ageText(ping: unknown, now: number): string {
  if (typeof ping !== "number") return "never";
  return `${Math.round((now - ping) / 1000)} s ago`;
}

function notFound(what: string, id: string): StoreError {
  return new StoreError("NOT_FOUND", `No ${what} with id ${id}`);
}

function held(id: string, doc: Doc): StoreError {
  return new StoreError(
    "ELEMENT_HELD",
    `Element ${id} is held by host ${String(doc.host)} on instance ${String(doc.instance_id)}`,
  );
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

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
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
