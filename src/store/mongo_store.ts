/**
 * `MongoStore`: the production adapter of the {@link Store} port on `npm:mongodb` 7.5.
 *
 * It uses single-document atomic operations only (no transactions or pipeline updates), so it
 * also runs on mongo-java-server. The one TTL index (on `samples`) is optional: where the server
 * refuses it, `pruneSamples` alone enforces the retention. Claims take the instance first
 * (`findOneAndUpdate` on a FREE one) and then compare-and-set the element on its `lease`; the
 * loser of a race gives the instance back. Element writes use `updateOne`/`insertOne`/`deleteOne`
 * so that they show up in change streams.
 *
 * The change feed opens a change stream (`fullDocument: "updateLookup"`), resumes after the
 * token saved in `agent_state`, reconciles by a scan on start and after any stream error, and
 * reopens from scratch on `ChangeStreamHistoryLost` or an invalidate event.
 *
 * @module
 */
import {
  type ChangeStream,
  type ChangeStreamDocument,
  type Collection,
  type Document,
  type Filter,
  MongoBulkWriteError,
  MongoClient,
  MongoError,
  MongoErrorLabel,
  MongoNetworkError,
  MongoNotConnectedError,
  MongoOperationTimeoutError,
  MongoServerClosedError,
  MongoServerSelectionError,
  MongoTopologyClosedError,
  ObjectId,
} from "mongodb";
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
  HEX_ID,
  newId,
  normalizeEventIds,
  normalizeId,
  normalizeLeaseRef,
  normalizeWatchOptions,
} from "./_ids.ts";
import { CONFIG_ELEMENT_FIELDS, prepareConfigChange } from "./_config_change.ts";
import {
  checkManagedPatch,
  checkNewEvent,
  checkNewInstance,
  checkSample,
  checkStoredInstance,
  DEFAULT_SAMPLE_LIMIT,
  DEFAULT_SAMPLE_RETENTION_MS,
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
  compareIds,
  compareInstances,
  type Doc,
  elementDisabled,
  elementHeld,
  elementStatusMatches,
  FREED_INSTANCE_FIELDS,
  instanceBusy,
  instanceLost,
  instanceMatches,
  instanceOccupied,
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
  STORE_RETRY_BACKOFF,
} from "./_policy.ts";
import {
  type Feed,
  type FeedSource,
  HistoryLostError,
  openFeed,
  type RawChange,
  VOLATILE_ELEMENT_FIELDS,
} from "./_feed.ts";
import { StoreError, StoreUnavailableError } from "./errors.ts";
import { abortableSleep } from "../shared/async.ts";
import { exponentialBackoff } from "../shared/backoff.ts";
import { describeError } from "../shared/errors.ts";
import { DEFAULT_STALE_MS } from "../shared/stale.ts";
import { maskUriCredentials, redactUri, scrubUriCredentials } from "../shared/secrets.ts";
import { logger } from "../shared/logging.ts";

/** Options of {@link MongoStore.open}. */
export interface MongoStoreOptions {
  /** `mongodb://...` or `mongodb+srv://...`. */
  uri: string;
  /** Database name (default `riskguard`). */
  db?: string;
  /** Connection attempts before giving up with `STORE_UNAVAILABLE` (default 4). */
  connectAttempts?: number;
  /** How long one attempt looks for a usable server, ms (default 5 000). */
  serverSelectionTimeoutMs?: number;
  /**
   * Told the name of every command the client starts (the driver's command monitoring; off
   * without it). Tests count the getMore of an idle change stream with it.
   */
  onCommand?: (name: string) => void;
}

/** A stored document: ids are ObjectIds (24 hex digits) or strings. */
interface MDoc extends Document {
  _id: ObjectId | string;
}

/**
 * Matches an instance whose status is FREE or missing (`null` also matches an absent field): an
 * instance document without `status` is FREE, as the schema and `instanceStatusOf` say.
 */
const FREE_STATUS = { $in: ["FREE", null] };

/**
 * Connections a client may open for operations (besides the driver's monitoring ones, one or two
 * per server). One is held by admin's change stream while it waits (more while admin serves the
 * dashboard); the rest carry the calls of admin and its children, which take a millisecond or so
 * each.
 */
export const MONGO_POOL_SIZE = 6;

/** The MongoDB adapter of the store port. */
export class MongoStore implements Store {
  /** Always `mongodb`. */
  readonly kind = "mongodb" as const;
  /** The URI (password masked) and database. */
  readonly description: string;
  #client: MongoClient;
  #elements: Collection<MDoc>;
  #instances: Collection<MDoc>;
  #events: Collection<MDoc>;
  #samples: Collection<Document>;
  #agentState: Collection<MDoc>;
  #feeds = new Set<Feed>();
  #closed = false;
  /** Pings and samples wait a moment for others, to go to the server together. */
  #pings = new Batcher<PendingPing>((batch) => this.#run(() => this.#pingBatch(batch)));
  #samplesToWrite = new Batcher<Sample>((batch) => this.#run(() => this.#sampleBatch(batch)));

  private constructor(client: MongoClient, dbName: string, uri: string) {
    this.#client = client;
    const db = client.db(dbName);
    this.#elements = db.collection("elements");
    this.#instances = db.collection("instances");
    this.#events = db.collection("events");
    this.#samples = db.collection("samples");
    this.#agentState = db.collection("agent_state");
    this.description = `${redactUri(uri)} (database ${dbName})`;
  }

  /**
   * Connects (retrying with backoff) and ensures the indexes.
   *
   * @throws {StoreUnavailableError} when no attempt reaches the server; the message names the
   * URI with its password masked.
   * @throws {StoreError} `INPUT_INVALID` for a malformed URI.
   */
  static async open(options: MongoStoreOptions): Promise<MongoStore> {
    const masked = redactUri(options.uri);
    const describeSafely = (error: unknown) => scrubUriCredentials(describe(error), options.uri);
    let client: MongoClient;
    try {
      client = new MongoClient(options.uri, {
        serverSelectionTimeoutMS: options.serverSelectionTimeoutMs ?? 5_000,
        connectTimeoutMS: options.serverSelectionTimeoutMs ?? 5_000,
        appName: "riskguard",
        // One admin serves every child of its VPS (the store channel) on this client: a small
        // pool keeps a VPS to a handful of connections (Atlas tiers cap them); the URI's own
        // maxPoolSize wins.
        ...(/[?&]maxPoolSize=/i.test(options.uri) ? {} : { maxPoolSize: MONGO_POOL_SIZE }),
        ...(options.onCommand === undefined ? {} : { monitorCommands: true }),
      });
      const onCommand = options.onCommand;
      if (onCommand !== undefined) {
        client.on("commandStarted", (event) => onCommand(event.commandName));
      }
    } catch (error) {
      throw new StoreError(
        "INPUT_INVALID",
        `Invalid MongoDB URI ${masked}: ${describeSafely(error)}`,
        {
          cause: error,
        },
      );
    }
    const attempts = Math.max(1, options.connectAttempts ?? 4);
    for (let attempt = 0;; attempt++) {
      try {
        await client.connect();
        break;
      } catch (error) {
        if (attempt + 1 >= attempts) {
          await client.close().catch(() => {});
          throw new StoreUnavailableError(
            `Cannot reach MongoDB at ${masked} after ${attempts} attempt${
              attempts === 1 ? "" : "s"
            }: ${describeSafely(error)}`,
            { cause: error },
          );
        }
        await abortableSleep(exponentialBackoff(attempt + 2, STORE_RETRY_BACKOFF));
      }
    }
    const store = new MongoStore(client, options.db ?? "riskguard", options.uri);
    try {
      await store.ensureIndexes();
    } catch (error) {
      await client.close().catch(() => {});
      throw error;
    }
    return store;
  }

  /** Creates the indexes; idempotent. */
  ensureIndexes(): Promise<void> {
    return this.#run(async () => {
      await this.#elements.createIndex({ host: 1 });
      await this.#elements.createIndex({ instance_id: 1 });
      await this.#instances.createIndex({ host: 1, port: 1 }, { unique: true });
      await this.#instances.createIndex({ host: 1, status: 1, port: 1 });
      await this.#instances.createIndex({ status: 1, last_ping: 1 });
      await this.#events.createIndex({ element_id: 1, at: -1 });
      await this.#samples.createIndex({ element_id: 1, at: 1 }, { unique: true });
      await this.#samples.createIndex({ at: 1 });
      await this.#ensureSampleTtl();
    });
  }

  /** Closes open feeds, then the client. */
  async close(): Promise<void> {
    if (this.#closed) return;
    // The pings and samples waiting for their batch are sent first.
    await Promise.all([this.#pings.flush(), this.#samplesToWrite.flush()]);
    await Promise.all([...this.#feeds].map((feed) => feed.close()));
    // Those added meanwhile too: their batch would otherwise start after the store closed and
    // fail. Nothing waits once the loop ends (no await between its check and `#closed`).
    while (this.#pings.pending || this.#samplesToWrite.pending) {
      await Promise.all([this.#pings.flush(), this.#samplesToWrite.flush()]);
    }
    this.#closed = true;
    await this.#client.close();
  }

  /** Validates and inserts an element; never throws for bad input. */
  insertElement(doc: Record<string, unknown>, now = Date.now()): Promise<InsertResult> {
    return this.#run(async () => {
      const prepared = prepareElement(doc, now);
      if (!prepared.ok) return prepared;
      const id = String(prepared.doc._id);
      try {
        await this.#elements.insertOne({ ...prepared.doc, _id: toMongoId(id) });
      } catch (error) {
        if (isDuplicateKey(error)) {
          return { ok: false, field: "_id", reason: `already exists: ${id}`, issues: [] };
        }
        throw error;
      }
      return { ok: true, element: prepared.element };
    });
  }

  /** One element, parsed. */
  getElement(id: string): Promise<ParsedElement | null> {
    id = normalizeId(id);
    return this.#run(async () => {
      const doc = await this.#rawElement(id);
      return doc === null ? null : parseElement(doc);
    });
  }

  /** Elements, parsed, sorted by id. */
  listElements(filter: ElementFilter = {}): Promise<ParsedElement[]> {
    return this.#run(async () => {
      const query: Filter<MDoc> = {};
      if (filter.host !== undefined) query.host = filter.host;
      const docs = (await this.#elements.find(query).toArray()).map(normalize);
      return docs.filter((doc) => elementStatusMatches(doc, filter)).sort(compareIds)
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
    return this.#run(async () => {
      const set: Doc = { status, updated_at: options.now ?? Date.now() };
      if (options.error !== undefined) set.error = options.error;
      const result = await this.#elements.updateOne(idFilter(id), { $set: set });
      if (result.matchedCount === 0) throw notFound("element", id);
      const doc = await this.#rawElement(id);
      if (doc === null) throw notFound("element", id);
      return parseElement(doc);
    });
  }

  /**
   * A person changes an element's configuration; never throws for bad input. Only the changed
   * fields are written (`$set`/`$unset`), on the condition that no configuration field changed
   * since the document was read and validated (retried a few times).
   */
  configureElement(
    id: string,
    changes: Record<string, unknown>,
    now = Date.now(),
  ): Promise<InsertResult> {
    id = normalizeId(id);
    return this.#run(async () => {
      for (let attempt = 0; attempt < CONFIGURE_ATTEMPTS; attempt++) {
        const raw = await this.#elements.findOne(idFilter(id));
        if (raw === null) throw notFound("element", id);
        const current = normalize(raw);
        const change = prepareConfigChange(current, changes, now);
        if (!change.ok) return change;
        const update: Document = { $set: change.set };
        if (change.unset.length > 0) {
          update.$unset = Object.fromEntries(change.unset.map((field) => [field, ""]));
        }
        const result = await this.#elements.updateOne(
          { _id: raw._id, ...configUnchanged(raw) },
          update,
        );
        if (result.matchedCount === 1) return { ok: true, element: change.element };
      }
      throw new StoreError(
        "STORE_CONFLICT",
        `Element ${id}: its configuration kept changing while it was being changed ` +
          `(${CONFIGURE_ATTEMPTS} attempts); try again`,
      );
    });
  }

  /** Deletes an element (refused while held unless forced). */
  removeElement(id: string, options: { force?: boolean } = {}): Promise<boolean> {
    id = normalizeId(id);
    return this.#run(async () => {
      const doc = await this.#rawElement(id);
      if (doc === null) return false;
      const instanceId = typeof doc.instance_id === "string" ? doc.instance_id : null;
      if (options.force !== true) {
        if (instanceId !== null) throw elementHeld(id, doc);
        const result = await this.#elements.deleteOne({ ...idFilter(id), instance_id: null });
        if (result.deletedCount === 1) return true;
        const again = await this.#rawElement(id);
        if (again === null) return false;
        throw elementHeld(id, again);
      }
      const result = await this.#elements.deleteOne(idFilter(id));
      if (instanceId !== null) await this.#freeInstance(instanceId, id);
      return result.deletedCount === 1;
    });
  }

  /** A change feed of the elements collection. */
  watchElements(options: WatchOptions = {}): ElementFeed {
    options = normalizeWatchOptions(options);
    if (this.#closed) throw new StoreError("CLOSED", `Store ${this.description} is closed`);
    const source = new MongoFeedSource(this.#elements, this.#agentState);
    return openFeed(source, options, this.#feeds);
  }

  /** Registers an instance; allocates its port when absent. */
  addInstance(input: NewInstance, now = Date.now()): Promise<Instance> {
    return this.#run(async () => {
      checkNewInstance(input.path, input.host, input.port, input.symbol);
      for (let attempt = 0;; attempt++) {
        const existing = (await this.#instances.find({ host: input.host }).toArray()).map(
          normalize,
        );
        const doc = planInstance(existing, input, now);
        try {
          await this.#instances.insertOne({ ...doc, _id: toMongoId(doc._id) });
          return doc;
        } catch (error) {
          if (!isDuplicateKey(error)) throw error;
          if (input.port !== undefined || attempt >= 5) {
            throw new StoreError(
              "STORE_CONFLICT",
              `Port ${doc.port} is already used on host ${input.host}`,
              { cause: error },
            );
          }
        }
      }
    });
  }

  /** One instance. */
  getInstance(id: string): Promise<Instance | null> {
    id = normalizeId(id);
    return this.#run(async () => {
      const doc = await this.#instances.findOne(idFilter(id));
      return doc === null ? null : toInstance(normalize(doc));
    });
  }

  /** Instances sorted by host then port. */
  listInstances(filter: InstanceFilter = {}): Promise<Instance[]> {
    return this.#run(async () => {
      const query: Filter<MDoc> = filter.host === undefined ? {} : { host: filter.host };
      const docs = (await this.#instances.find(query).toArray()).map(normalize);
      return validInstances(docs.filter((doc) => instanceMatches(doc, filter))).sort(
        compareInstances,
      );
    });
  }

  /** Deletes an instance (refused while OCCUPIED unless forced). */
  removeInstance(id: string, options: { force?: boolean } = {}): Promise<boolean> {
    id = normalizeId(id);
    return this.#run(async () => {
      const filter: Filter<MDoc> = idFilter(id);
      if (options.force !== true) filter.status = { $ne: "OCCUPIED" };
      const result = await this.#instances.deleteOne(filter);
      if (result.deletedCount === 1) return true;
      const doc = await this.#instances.findOne(idFilter(id));
      if (doc === null) return false;
      throw instanceOccupied(id, normalize(doc));
    });
  }

  /** Admin claim: a FREE instance on `host` for an unheld element. */
  claimFreeInstance(elementId: string, host: string, now: number): Promise<Lease> {
    elementId = normalizeId(elementId);
    return this.#run(async () => {
      const doc = claimableElement(await this.#rawElement(elementId), elementId);
      if (typeof doc.instance_id === "string") throw elementHeld(elementId, doc);
      const lease = leaseOfDoc(doc) + 1;
      const taken = await this.#takeFreeInstance(
        host,
        occupiedInstanceFields(elementId, lease, now),
      );
      if (taken === null) throw noFreeInstance(host);
      const instance = normalize(taken);
      await this.#releaseOthers(String(instance._id), elementId, now);
      const won = await this.#assignElement(
        elementId,
        { lease: lease - 1, instanceId: null },
        taken._id,
        claimedElementFields(String(instance._id), host, lease, now, null),
      );
      if (!won) {
        const again = await this.#rawElement(elementId);
        if (again === null) throw notFound("element", elementId);
        if (again.status === "DISABLED") throw elementDisabled(elementId);
        if (typeof again.instance_id === "string") throw elementHeld(elementId, again);
        throw new StoreError(
          "ELEMENT_HELD",
          `Element ${elementId} changed while it was being claimed (lease ${
            leaseOfDoc(again)
          }); try again`,
        );
      }
      return {
        element_id: elementId,
        instance_id: String(instance._id),
        lease,
        host,
        instance: toInstance(instance),
      };
    });
  }

  /** Risk process: take the lease on a given instance. */
  takeLease(elementId: string, instanceId: string, options: TakeLeaseOptions): Promise<Lease> {
    elementId = normalizeId(elementId);
    instanceId = normalizeId(instanceId);
    return this.#run(async () => {
      const { now, host, takeId } = options;
      const cutoff = now - options.staleAfterMs;
      const doc = claimableElement(await this.#rawElement(elementId), elementId);
      const instanceRaw = await this.#instances.findOne(idFilter(instanceId));
      if (instanceRaw === null) throw notFound("instance", instanceId);
      const instance = normalize(instanceRaw);
      checkStoredInstance(instance);
      const current = typeof doc.instance_id === "string" ? doc.instance_id : null;
      const held0 = leaseOfDoc(doc);
      if (repeatsTake(doc, instance, instanceId, takeId)) return leaseOf(doc, instance);
      if (adoptsClaim(doc, instance, instanceId)) {
        const adopted = await this.#elements.updateOne(
          { ...idFilter(elementId), ...leaseIs(held0), instance_id: current, last_ping: null },
          { $set: { last_ping: now, take_id: takeId ?? null, updated_at: now } },
        );
        if (adopted.matchedCount === 0) throw elementHeld(elementId, doc);
        await this.#instances.updateOne(
          { _id: instanceRaw._id, element_id: elementId },
          { $set: { last_ping: now } },
        );
        return {
          element_id: elementId,
          instance_id: String(instance._id),
          lease: held0,
          host: String(doc.host),
          instance: toInstance({ ...instance, last_ping: now }),
        };
      }
      if (current !== null && !isStale(doc, cutoff)) throw elementHeld(elementId, doc);
      const lease = held0 + 1;
      // The same rule as `instanceTakeable`, as a compare-and-set.
      const taken = await this.#instances.findOneAndUpdate(
        {
          _id: instanceRaw._id,
          $or: [
            { status: { $ne: "OCCUPIED" } },
            { element_id: elementId },
            { last_ping: { $lt: cutoff } },
            { last_ping: null },
          ],
        },
        { $set: occupiedInstanceFields(elementId, lease, now) },
        { returnDocument: "after" },
      );
      if (taken === null) {
        const latest = (await this.#instances.findOne({ _id: instanceRaw._id })) ?? instanceRaw;
        throw instanceBusy(instanceId, normalize(latest), now);
      }
      await this.#releaseOthers(String(instance._id), elementId, now);
      const won = await this.#assignElement(
        elementId,
        { lease: held0, instanceId: current },
        instanceRaw._id,
        claimedElementFields(String(instance._id), host, lease, now, now, takeId ?? null),
      );
      if (!won) {
        throw elementHeld(elementId, (await this.#rawElement(elementId)) ?? doc);
      }
      if (current !== null && current !== instance._id) {
        await this.#freeInstance(current, elementId);
      }
      return {
        element_id: elementId,
        instance_id: String(instance._id),
        lease,
        host,
        instance: toInstance(normalize(taken)),
      };
    });
  }

  /**
   * Pings the element and the instance of a lease. Pings that arrive within {@link BATCH_MS}
   * go to the server together (admin serves the pings of every child of its VPS): two commands
   * for the batch instead of two per ping.
   */
  ping(lease: LeaseRef, now: number, options: { pid?: number } = {}): Promise<void> {
    lease = normalizeLeaseRef(lease);
    if (this.#closed) {
      return Promise.reject(new StoreError("CLOSED", `Store ${this.description} is closed`));
    }
    return this.#pings.add({ lease, now, pid: options.pid });
  }

  async #pingBatch(batch: Waiting<PendingPing>[]): Promise<void> {
    const held = await matchEach(
      this.#elements,
      batch.map(({ item: ping }) => ({
        filter: { ...idFilter(ping.lease.element_id), ...leaseIs(ping.lease.lease) },
        update: { $set: { last_ping: ping.now, updated_at: ping.now } },
      })),
    );
    const live: Waiting<PendingPing>[] = [];
    for (const [i, waiting] of batch.entries()) {
      const outcome = held[i]!;
      if (outcome === true) live.push(waiting);
      else if (outcome === false) {
        const { lease } = waiting.item;
        // The read only details the error: its failure must not fail the other pings.
        const doc = await this.#rawElement(lease.element_id).catch(() => null);
        waiting.reject(leaseLost(lease, doc));
      } else waiting.reject(this.#itemError(outcome.error));
    }
    const found = await matchEach(
      this.#instances,
      live.map(({ item: ping }) => {
        const set: Doc = { last_ping: ping.now };
        if (ping.pid !== undefined) set.pid = ping.pid;
        const { lease } = ping;
        return {
          filter: {
            ...idFilter(lease.instance_id),
            element_id: lease.element_id,
            status: "OCCUPIED",
          },
          update: { $set: set },
        };
      }),
    );
    for (const [i, waiting] of live.entries()) {
      const outcome = found[i]!;
      if (outcome === true) waiting.resolve();
      else if (outcome === false) waiting.reject(instanceLost(waiting.item.lease));
      else waiting.reject(this.#itemError(outcome.error));
    }
  }

  /** The error of one item of a batch, as {@link MongoStore.#run} maps a whole call's. */
  #itemError(error: unknown): unknown {
    const mapped = mapMongoError(error, this.description);
    if (mapped instanceof Error) return mapped;
    // A bulk write's `WriteError` is no `Error`: keep its message and code.
    return new Error(`MongoDB write failed: ${describe(mapped)}`, { cause: mapped });
  }

  /** Lease-guarded write of managed fields. */
  updateElement(lease: LeaseRef, patch: ManagedPatch, now: number): Promise<void> {
    lease = normalizeLeaseRef(lease);
    return this.#run(async () => {
      const fields = checkManagedPatch(patch);
      const filter: Filter<MDoc> = { ...idFilter(lease.element_id), ...leaseIs(lease.lease) };
      if (fields.status !== undefined) filter.status = { $ne: "DISABLED" };
      const result = await this.#elements.updateOne(filter, {
        $set: { ...fields, updated_at: now },
      });
      if (result.matchedCount === 1) return;
      const doc = await this.#rawElement(lease.element_id);
      if (doc !== null && leaseOfDoc(doc) === lease.lease && doc.status === "DISABLED") {
        throw statusOfDisabled(lease.element_id, fields.status);
      }
      throw leaseLost(lease, doc);
    });
  }

  /** Gives the element and its instance back. */
  release(lease: LeaseRef, options: ReleaseOptions = {}): Promise<void> {
    lease = normalizeLeaseRef(lease);
    return this.#run(async () => {
      const now = options.now ?? Date.now();
      const set: Doc = releasedElementFields(now);
      if (options.error !== undefined) set.error = options.error;
      const base = { ...idFilter(lease.element_id), ...leaseIs(lease.lease) };
      let result = await this.#elements.updateOne(
        { ...base, status: { $ne: "DISABLED" } },
        { $set: { ...set, status: options.status ?? "INACTIVE" }, $inc: { lease: 1 } },
      );
      if (result.matchedCount === 0) {
        result = await this.#elements.updateOne(base, { $set: set, $inc: { lease: 1 } });
      }
      if (result.matchedCount === 0) {
        throw leaseLost(lease, await this.#rawElement(lease.element_id));
      }
      await this.#freeInstance(lease.instance_id, lease.element_id);
    });
  }

  /** Frees stale instances and releases stale elements. */
  reap(options: ReapOptions): Promise<ReapResult> {
    return this.#run(async () => {
      const instanceCutoff = options.now - (options.instanceStaleMs ?? DEFAULT_STALE_MS);
      const elementCutoff = options.now - (options.elementStaleMs ?? DEFAULT_STALE_MS);
      const hostFilter: Filter<MDoc> = options.host === undefined ? {} : { host: options.host };
      const freed = await this.#instances.updateMany(
        {
          ...hostFilter,
          status: "OCCUPIED",
          $or: [{ last_ping: { $lt: instanceCutoff } }, { last_ping: null }],
        },
        { $set: FREED_INSTANCE_FIELDS },
      );
      const stale: Filter<MDoc> = {
        $or: [
          { last_ping: { $lt: elementCutoff } },
          { last_ping: null, leased_at: { $lt: elementCutoff } },
          { last_ping: null, leased_at: null },
        ],
      };
      const candidates = await this.#elements.find({
        ...hostFilter,
        instance_id: { $ne: null },
        ...stale,
      }).toArray();
      const elements = new Set<string>();
      for (const raw of candidates) {
        const doc = normalize(raw);
        if (await this.#releaseHolder(raw._id, doc, options.now, stale)) {
          elements.add(String(doc._id));
        }
      }
      // Held elements whose instance is gone, FREE, or held by another element (an instance
      // freed above, or one taken over) are released too: nobody else may keep writing.
      const holders = (await this.#elements.find({ ...hostFilter, instance_id: { $ne: null } })
        .toArray()).map((raw) => ({ raw, doc: normalize(raw) }));
      const instanceIds = [...new Set(holders.map(({ doc }) => String(doc.instance_id)))];
      const instances = instanceIds.length === 0 ? [] : (await this.#instances.find({
        _id: { $in: instanceIds.flatMap(idForms) },
      }).toArray()).map(normalize);
      const holderOf = new Map(
        instances.filter((i) => i.status === "OCCUPIED").map((i) => [String(i._id), i.element_id]),
      );
      for (const { raw, doc } of holders) {
        if (holderOf.get(String(doc.instance_id)) === String(doc._id)) continue;
        if (await this.#releaseHolder(raw._id, doc, options.now, {})) {
          elements.add(String(doc._id));
        }
      }
      return { instances: freed.modifiedCount, elements: [...elements].sort() };
    });
  }

  /** Appends an audit event. */
  appendEvent(event: NewEvent): Promise<EventRecord> {
    event = normalizeEventIds(event);
    return this.#run(async () => {
      const now = Date.now();
      const record = checkNewEvent(event, newId(now), now);
      await this.#events.insertOne({ ...record, _id: toMongoId(record._id) });
      return record;
    });
  }

  /** Marks a FREE instance UNUSABLE with a reason, or an UNUSABLE one FREE again. */
  setInstanceUsable(id: string, problem: string | null, now: number): Promise<boolean> {
    id = normalizeId(id);
    return this.#run(async () => {
      const from = problem === null
        ? { status: "UNUSABLE" }
        : { $or: [{ status: "FREE" }, { status: { $exists: false } }] };
      const result = await this.#instances.updateOne(
        { ...idFilter(id), ...from },
        { $set: instanceUsableFields(problem, now) },
      );
      return result.modifiedCount === 1;
    });
  }

  /** Writes an admin heartbeat unless another run of the host beat recently. */
  beatAgent(
    beat: AgentHeartbeat,
    options: { staleAfterMs: number; replaceRunId?: string },
  ): Promise<BeatResult> {
    return this.#run(async () => {
      const id = `${AGENT_ID_PREFIX}${beat.host}`;
      // Written only over a heartbeat that does not block it (same run, a run known dead,
      // stopped, or stale); with a blocking one the upsert collides on _id: nothing is written.
      const filter: Filter<MDoc> = {
        _id: id,
        $or: [
          { run_id: beat.run_id },
          ...(options.replaceRunId === undefined ? [] : [{ run_id: options.replaceRunId }]),
          { stopped_at: { $ne: null } },
          { last_seen: { $lte: beat.last_seen - options.staleAfterMs } },
        ],
      };
      try {
        await this.#agentState.replaceOne(filter, { _id: id, ...beat }, { upsert: true });
        return { ok: true as const };
      } catch (error) {
        if (!isDuplicateKey(error)) throw error;
        const [holder] = validHeartbeats([await this.#agentState.findOne({ _id: id })]);
        if (holder === undefined) throw error;
        return { ok: false as const, holder };
      }
    });
  }

  /** Every admin host's heartbeat. */
  listAgents(): Promise<AgentHeartbeat[]> {
    return this.#run(async () =>
      validHeartbeats(
        await this.#agentState.find({ _id: { $regex: `^${AGENT_ID_PREFIX}` } }).toArray(),
      )
    );
  }

  /** Events of one element, oldest first. */
  listEvents(
    elementId: string | null,
    options: { limit?: number; since?: number; types?: readonly string[] } = {},
  ): Promise<EventRecord[]> {
    const filter: Record<string, unknown> = { at: { $gte: options.since ?? 0 } };
    if (elementId !== null) filter.element_id = normalizeId(elementId);
    if (options.types !== undefined) filter.type = { $in: [...options.types] };
    return this.#run(async () => {
      const docs = await this.#events.find(filter).sort({ at: -1, _id: -1 }).limit(
        Math.max(1, Math.floor(options.limit ?? 100)),
      ).toArray();
      return validEvents(docs.reverse().map(normalize));
    });
  }

  /** Appends (or, at the same millisecond, replaces) one equity sample. */
  appendSample(sample: Sample): Promise<void> {
    if (this.#closed) {
      return Promise.reject(new StoreError("CLOSED", `Store ${this.description} is closed`));
    }
    try {
      // Like pings, samples that arrive together are written together.
      return this.#samplesToWrite.add(checkSample(sample));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  async #sampleBatch(batch: Waiting<Sample>[]): Promise<void> {
    // `at_date` is `at` as a BSON date: TTL indexes only expire date fields.
    const failed = new Map<number, unknown>();
    try {
      await this.#samples.bulkWrite(
        batch.map(({ item: s }) => ({
          updateOne: {
            filter: { element_id: s.element_id, at: s.at },
            update: { $set: { ...s, at_date: new Date(s.at) } },
            upsert: true,
          },
        })),
        { ordered: false },
      );
    } catch (error) {
      // Unordered: the samples without a write error of their own were written. Any other
      // failure (no write errors named: unreachable, write concern) fails the whole batch.
      const writeErrors = error instanceof MongoBulkWriteError ? [error.writeErrors].flat() : [];
      if (writeErrors.length === 0) throw error;
      for (const writeError of writeErrors) failed.set(writeError.index, writeError);
    }
    for (const [i, waiting] of batch.entries()) {
      if (failed.has(i)) waiting.reject(this.#itemError(failed.get(i)));
      else waiting.resolve();
    }
  }

  /** Samples of one element in a time range, oldest first. */
  listSamples(elementId: string, range: SampleRange = {}): Promise<Sample[]> {
    elementId = normalizeId(elementId);
    return this.#run(async () => {
      const at: Document = { $gte: range.since ?? 0 };
      if (range.until !== undefined) at.$lte = range.until;
      const docs = await this.#samples.find({ element_id: elementId, at }, {
        projection: { _id: 0, at_date: 0 },
      }).sort({ at: -1 }).limit(Math.max(1, Math.floor(range.limit ?? DEFAULT_SAMPLE_LIMIT)))
        .toArray();
      return validSamples(docs.reverse());
    });
  }

  /** Deletes samples older than `before`. */
  pruneSamples(before: number): Promise<number> {
    return this.#run(async () =>
      (await this.#samples.deleteMany({ at: { $lt: before } })).deletedCount
    );
  }

  /**
   * A TTL index that expires samples after the default retention, where the server supports
   * it; otherwise (or for another retention) the admin's `pruneSamples` does the work.
   */
  async #ensureSampleTtl(): Promise<void> {
    try {
      await this.#samples.createIndex({ at_date: 1 }, {
        name: "samples_ttl",
        expireAfterSeconds: Math.round(DEFAULT_SAMPLE_RETENTION_MS / 1000),
      });
    } catch (error) {
      if (isUnavailable(error)) throw error;
      logger("store", "mongodb").info(
        "No TTL index on samples ({reason}); retention relies on pruning",
        { reason: describe(error) },
      );
    }
  }

  // ---- helpers ----

  /** Runs `body`, mapping driver failures to store errors with masked messages. */
  async #run<T>(body: () => Promise<T>): Promise<T> {
    if (this.#closed) throw new StoreError("CLOSED", `Store ${this.description} is closed`);
    try {
      return await body();
    } catch (error) {
      throw mapMongoError(error, this.description);
    }
  }

  async #rawElement(id: string): Promise<Doc | null> {
    const doc = await this.#elements.findOne(idFilter(id));
    return doc === null ? null : normalize(doc);
  }

  /**
   * Releases the held element `doc` with a compare-and-set on its observed lease and instance
   * (and `extra`): INACTIVE when ACTIVE, no instance, lease + 1. Whether it was released.
   */
  async #releaseHolder(
    key: unknown,
    doc: Doc,
    now: number,
    extra: Filter<MDoc>,
  ): Promise<boolean> {
    const set: Doc = releasedElementFields(now);
    const filter: Filter<MDoc> = {
      _id: key as ObjectId | string,
      ...leaseIs(leaseOfDoc(doc)),
      instance_id: doc.instance_id,
      ...extra,
    };
    if (doc.status === "ACTIVE") {
      filter.status = "ACTIVE";
      set.status = "INACTIVE";
    }
    const result = await this.#elements.updateOne(filter, { $set: set, $inc: { lease: 1 } });
    return result.modifiedCount === 1;
  }

  /**
   * Releases every element other than `elementId` that still references `instanceId` (a stale
   * holder being taken over), each with a compare-and-set on its lease, so its manager's next
   * write fails with LEASE_LOST. Retries an element whose document changed meanwhile.
   */
  async #releaseOthers(instanceId: string, elementId: string, now: number): Promise<void> {
    for (let round = 0; round < 5; round++) {
      const others = await this.#elements.find({
        instance_id: instanceId,
        _id: { $nin: idForms(elementId) },
      }).toArray();
      if (others.length === 0) return;
      for (const raw of others) {
        await this.#releaseHolder(raw._id, normalize(raw), now, {});
      }
    }
  }

  /**
   * Takes the FREE instance of `host` with the lowest port whose stored document is valid (an
   * invalid one, written by others, is skipped and never changed), setting `set`; a
   * compare-and-set on `status: "FREE"`, so a candidate taken meanwhile is passed over. `null`
   * when there is none.
   */
  async #takeFreeInstance(host: string, set: Doc): Promise<MDoc | null> {
    for (let round = 0; round < 3; round++) {
      const candidates = await this.#instances.find({ host, status: FREE_STATUS }).toArray();
      const valid = claimableInstances(candidates.map((raw) => ({ ...normalize(raw), raw })));
      if (valid.length === 0) return null;
      for (const { raw } of valid) {
        const taken = await this.#instances.findOneAndUpdate(
          { _id: raw._id, status: FREE_STATUS },
          { $set: set },
          { returnDocument: "after" },
        );
        if (taken !== null) return taken;
      }
    }
    return null;
  }

  /**
   * The second half of a claim or take-over, once the instance is taken: a compare-and-set of
   * the element on the lease and holder it was read with (and not DISABLED meanwhile). On a lost
   * race the instance is given back. Whether the element was assigned.
   */
  async #assignElement(
    elementId: string,
    expected: { lease: number; instanceId: string | null },
    instanceKey: ObjectId | string,
    fields: Doc,
  ): Promise<boolean> {
    const won = await this.#elements.updateOne(
      {
        ...idFilter(elementId),
        ...leaseIs(expected.lease),
        instance_id: expected.instanceId,
        status: { $ne: "DISABLED" },
      },
      { $set: fields },
    );
    if (won.matchedCount === 1) return true;
    await this.#instances.updateOne(
      { _id: instanceKey, element_id: elementId, lease: fields.lease },
      { $set: FREED_INSTANCE_FIELDS },
    );
    return false;
  }

  async #freeInstance(instanceId: string, elementId: string): Promise<void> {
    await this.#instances.updateOne(
      { ...idFilter(instanceId), element_id: elementId },
      { $set: FREED_INSTANCE_FIELDS },
    );
  }
}

/** The longest a ping or a sample waits for others to go to the server with, ms. */
const BATCH_MS = 50;
/** A batch this big is sent at once. */
const BATCH_MAX = 200;

/** A ping of {@link MongoStore.ping}. */
interface PendingPing {
  lease: LeaseRef;
  now: number;
  pid: number | undefined;
}

/** An item waiting in a {@link Batcher}, and how to settle its caller's promise. */
interface Waiting<T> {
  item: T;
  resolve(): void;
  reject(error: unknown): void;
}

/**
 * Items that arrive within {@link BATCH_MS} of the first of a batch (at most {@link BATCH_MAX})
 * go to `send` together: admin serves the pings and samples of every child of its VPS, and one
 * command for many costs the driver and the server about what one for one does. `send` settles
 * each item, each with its own error; when it throws (the server unreachable), every item it
 * has not settled gets that error.
 */
class Batcher<T> {
  readonly #send: (batch: Waiting<T>[]) => Promise<void>;
  #waiting: Waiting<T>[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** Settles when every batch sent so far is done. */
  #sent: Promise<void> = Promise.resolve();

  constructor(send: (batch: Waiting<T>[]) => Promise<void>) {
    this.#send = send;
  }

  /** Items wait for their batch. */
  get pending(): boolean {
    return this.#waiting.length > 0;
  }

  /** Resolves once `item` is written; rejects with its own error or its batch's. */
  add(item: T): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#waiting.push({ item, resolve, reject });
      if (this.#waiting.length >= BATCH_MAX) void this.flush();
      else this.#timer ??= setTimeout(() => void this.flush(), BATCH_MS);
    });
  }

  /** Sends what waits now; settles when every batch sent so far is done. */
  flush(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const batch = this.#waiting;
    this.#waiting = [];
    if (batch.length > 0) {
      const sent = this.#send(batch).catch((error) => {
        for (const waiting of batch) waiting.reject(error);
      });
      this.#sent = this.#sent.then(() => sent);
    }
    return this.#sent;
  }
}

/** Whether one update of {@link matchEach} matched, or its own error. */
type Matched = boolean | { error: unknown };

/**
 * Runs updates together (unordered) and says which matched: all of them when the total says
 * so; otherwise (a lease lost, rare) each is run again alone to tell which. When some failed
 * (write errors), each is run again alone too, so that only those get their error. A ping's
 * update sets the same fields again, so running it twice changes nothing. Throws only what is
 * no single update's fault (the server unreachable).
 */
async function matchEach(
  collection: Collection<MDoc>,
  updates: { filter: Filter<MDoc>; update: Document }[],
): Promise<Matched[]> {
  if (updates.length === 0) return [];
  const alone = async ({ filter, update }: (typeof updates)[number]): Promise<Matched> => {
    try {
      return (await collection.updateOne(filter, update)).matchedCount === 1;
    } catch (error) {
      if (isUnavailable(error)) throw error;
      return { error };
    }
  };
  if (updates.length === 1) return [await alone(updates[0]!)];
  try {
    const result = await collection.bulkWrite(
      updates.map(({ filter, update }) => ({ updateOne: { filter, update } })),
      { ordered: false },
    );
    if (result.matchedCount === updates.length) return updates.map(() => true);
  } catch (error) {
    if (!(error instanceof MongoBulkWriteError)) throw error;
  }
  return await Promise.all(updates.map(alone));
}

/** How long a server that supports awaitData holds an idle change-stream getMore, ms. */
const FEED_AWAIT_MS = 1_000;
/**
 * The least time between two getMore of one idle change stream, ms: the most a change waits
 * on a server that answers an idle getMore at once (the feed's 25 ms SQLite poll is the same
 * idea); ten getMore a second per stream at most.
 */
export const FEED_POLL_MS = 100;

/** Change stream source of the feed. */
class MongoFeedSource implements FeedSource {
  #elements: Collection<MDoc>;
  #agentState: Collection<MDoc>;
  #stream: ChangeStream<MDoc> | null = null;
  #pending: RawChange | null = null;
  #invalidated = false;
  /** Aborted when the stream stops: ends the pause between two idle polls at once. */
  #idle = new AbortController();

  constructor(elements: Collection<MDoc>, agentState: Collection<MDoc>) {
    this.#elements = elements;
    this.#agentState = agentState;
  }

  async open(token: unknown): Promise<void> {
    await this.stop();
    this.#invalidated = false;
    const stream = this.#elements.watch<MDoc>([], {
      fullDocument: "updateLookup",
      // A server that supports awaitData holds an idle getMore this long before it answers
      // empty; `next` paces one that answers at once (mongo-java-server).
      maxAwaitTimeMS: FEED_AWAIT_MS,
      ...(token === null || token === undefined ? {} : { resumeAfter: token as Document }),
    });
    this.#stream = stream;
    this.#idle = new AbortController();
    try {
      // Starts the server-side cursor now, so that nothing written between this point and the
      // reconcile scan that follows is missed.
      const first = await stream.tryNext();
      if (first !== null) this.#pending = this.#toRaw(first);
    } catch (error) {
      await this.stop();
      // A saved token the server refuses (too old, unknown, malformed) will never work again.
      const refused = token !== null && token !== undefined &&
        (error as { name?: unknown } | null)?.name === "MongoServerError";
      if (refused || isHistoryLost(error)) {
        throw new HistoryLostError(`change stream cannot resume: ${describe(error)}`, {
          cause: error,
        });
      }
      throw error;
    }
  }

  async next(): Promise<RawChange | null> {
    if (this.#pending !== null) {
      const pending = this.#pending;
      this.#pending = null;
      return pending;
    }
    if (this.#invalidated) throw new HistoryLostError("change stream was invalidated");
    const stream = this.#stream;
    // `null` only when the feed stopped the stream itself; a stream the driver closed (server
    // unreachable, non-resumable error) is a failure, so the feed reopens or gives up.
    if (stream === null) return null;
    if (stream.closed) throw new Error("change stream was closed by the driver");
    const idle = this.#idle.signal;
    try {
      // `stream.next()` would send getMore after getMore until a change arrives: on a server
      // that answers an idle getMore at once, a tight loop of thousands a second per stream.
      // One getMore per `tryNext`, and never more often than one per FEED_POLL_MS.
      for (;;) {
        const asked = Date.now();
        const change = await stream.tryNext();
        if (change !== null) return this.#toRaw(change);
        if (this.#stream !== stream) return null;
        if (stream.closed) throw new Error("change stream was closed by the driver");
        await abortableSleep(Math.max(0, FEED_POLL_MS - (Date.now() - asked)), idle);
        if (this.#stream !== stream) return null;
      }
    } catch (error) {
      if (this.#stream !== stream) return null;
      if (isHistoryLost(error)) {
        throw new HistoryLostError(`change stream history lost: ${describe(error)}`, {
          cause: error,
        });
      }
      throw error;
    }
  }

  async stop(): Promise<void> {
    const stream = this.#stream;
    this.#stream = null;
    this.#pending = null;
    this.#idle.abort();
    if (stream !== null && !stream.closed) await stream.close().catch(() => {});
  }

  async scan(elementId: string | undefined): Promise<Doc[]> {
    const docs = await this.#elements.find(elementId === undefined ? {} : idFilter(elementId))
      .toArray();
    return docs.map(normalize).sort(compareIds);
  }

  async lookup(id: string): Promise<Doc | null> {
    const doc = await this.#elements.findOne(idFilter(id));
    return doc === null ? null : normalize(doc);
  }

  async loadState(key: string): Promise<Doc | null> {
    // Not normalized: the resume token goes back to the server exactly as it was stored.
    const doc = await this.#agentState.findOne({ _id: key });
    return doc === null ? null : { ...doc, _id: key };
  }

  async saveToken(key: string, token: unknown): Promise<void> {
    const update = token === null
      ? { $unset: { resume_token: "" }, $set: { updated_at: Date.now() } }
      : { $set: { resume_token: token, updated_at: Date.now() } };
    await this.#agentState.updateOne({ _id: key }, update, { upsert: true });
  }

  #toRaw(change: ChangeStreamDocument<MDoc>): RawChange {
    const token: unknown = change._id;
    // A ping (most of the stream with many children): no read, no delivery.
    if (change.operationType === "update" && touchesOnlyVolatile(change)) {
      return { token, op: "skip" };
    }
    switch (change.operationType) {
      case "insert":
      case "update":
      case "replace": {
        // mongo-java-server puts the update description into documentKey and may omit the id
        // from fullDocument on resumed streams: without an id the change triggers a rescan.
        const key = idText((change.documentKey as Doc | undefined)?._id) ??
          idText((change.fullDocument as Doc | undefined | null)?._id);
        return key === undefined ? { token, op: "reconcile" } : { token, op: "change", id: key };
      }
      case "delete": {
        const key = idText((change.documentKey as Doc | undefined)?._id);
        return key === undefined ? { token, op: "reconcile" } : { token, op: "delete", id: key };
      }
      case "invalidate":
        this.#invalidated = true;
        return { token, op: "reconcile" };
      default:
        return { token, op: "reconcile" };
    }
  }
}

/**
 * True when an update changed nothing but {@link VOLATILE_ELEMENT_FIELDS} (or paths inside
 * them): the feed would read the element only to find its fingerprint unchanged. MongoDB says
 * what changed in `updateDescription`; mongo-java-server has none and puts the update document
 * (`$set`, `$unset`) in `documentKey`. Anything else (a replace, another operator, a truncated
 * array) counts as a change.
 */
function touchesOnlyVolatile(change: ChangeStreamDocument<MDoc>): boolean {
  let paths: string[];
  const description = (change as { updateDescription?: Doc }).updateDescription;
  if (description !== undefined && description !== null) {
    const truncated = description.truncatedArrays;
    if (Array.isArray(truncated) && truncated.length > 0) return false;
    const removed = description.removedFields;
    paths = [
      ...Object.keys((description.updatedFields ?? {}) as Doc),
      ...(Array.isArray(removed) ? removed.map(String) : []),
    ];
  } else {
    const update = (change as { documentKey?: Doc }).documentKey;
    if (update === undefined || update === null) return false;
    paths = [];
    for (const [operator, fields] of Object.entries(update)) {
      if (operator !== "$set" && operator !== "$unset") return false;
      if (fields === null || typeof fields !== "object") return false;
      paths.push(...Object.keys(fields));
    }
  }
  return paths.length > 0 &&
    paths.every((path) =>
      VOLATILE_ELEMENT_FIELDS.some((field) => path === field || path.startsWith(`${field}.`))
    );
}

/** How often `configureElement` re-reads and retries when the configuration changed under it. */
const CONFIGURE_ATTEMPTS = 5;

/**
 * A filter that matches only while every configuration field (but `trading`, which the manager
 * writes) still has the value read in `raw` (as stored: BSON values compared by the server).
 */
function configUnchanged(raw: MDoc): Filter<MDoc> {
  const filter: Document = {};
  for (const field of CONFIG_ELEMENT_FIELDS) {
    if (field === "trading") continue;
    filter[field] = field in raw ? { $eq: raw[field] } : { $exists: false };
  }
  return filter as Filter<MDoc>;
}

/** A filter that finds a document by its string id, stored as ObjectId or as string. */
function idFilter(id: string): Filter<MDoc> {
  if (HEX_ID.test(id)) return { _id: { $in: [new ObjectId(id), id] } };
  return { _id: id };
}

/** The `_id` to store for a string id: ObjectId for 24 hex digits, the string otherwise. */
/** Every stored form of `id`: a 24-hex id may be stored as an ObjectId or as a string. */
function idForms(id: string): (ObjectId | string)[] {
  return HEX_ID.test(id) ? [new ObjectId(id), id] : [id];
}

function toMongoId(id: string): ObjectId | string {
  return HEX_ID.test(id) ? new ObjectId(id) : id;
}

/** Matches `lease == n`, treating a missing lease as 0. */
function leaseIs(n: number): Filter<MDoc> {
  return n === 0 ? { lease: { $in: [0, null] } } : { lease: n };
}

function idText(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (value instanceof ObjectId) return value.toHexString();
  if (typeof value === "string" || typeof value === "number") return String(value);
  return undefined;
}

/** Converts BSON values to plain JSON-like ones: ObjectId -> hex string, Date -> epoch ms. */
function normalize(doc: Document): Doc {
  return normalizeValue(doc, 0) as Doc;
}

function normalizeValue(value: unknown, depth: number): unknown {
  if (value === null || typeof value !== "object" || depth > 30) return value;
  if (value instanceof ObjectId) return value.toHexString();
  if (value instanceof Date) return value.getTime();
  const bsonType = (value as { _bsontype?: string })._bsontype;
  if (
    bsonType === "Long" || bsonType === "Double" || bsonType === "Int32" ||
    bsonType === "Decimal128"
  ) {
    return Number(String(value));
  }
  if (bsonType !== undefined) return String(value);
  if (Array.isArray(value)) return value.map((item) => normalizeValue(item, depth + 1));
  const out: Doc = {};
  for (const [key, item] of Object.entries(value)) out[key] = normalizeValue(item, depth + 1);
  return out;
}

function isDuplicateKey(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === 11000;
}

function isHistoryLost(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  const name = (error as { codeName?: unknown } | null)?.codeName;
  // 286 ChangeStreamHistoryLost, 280 ChangeStreamFatalError, 260 InvalidResumeToken, and the
  // "resume token not found" codes of older servers (40585, 40615).
  return code === 286 || code === 280 || code === 260 || code === 40585 || code === 40615 ||
    name === "ChangeStreamHistoryLost" ||
    (error instanceof Error && /resume (token|point)|history lost/i.test(error.message));
}

/**
 * Names of driver errors that mean "the server cannot be reached now", for the classes the driver
 * does not export (the pool errors) and as a fallback when two copies of the driver are loaded.
 */
const UNAVAILABLE_ERROR_NAMES: ReadonlySet<string> = new Set([
  "MongoServerSelectionError",
  "MongoNetworkError",
  "MongoNetworkTimeoutError",
  "MongoTopologyClosedError",
  "MongoNotConnectedError",
  "MongoServerClosedError",
  "MongoOperationTimeoutError",
  "MongoPoolClosedError",
  "MongoPoolClearedError",
  "MongoWaitQueueTimeoutError",
]);

/** Driver error classes (exported by the driver) that mean the server cannot be reached now. */
const UNAVAILABLE_ERROR_CLASSES = [
  MongoServerSelectionError,
  MongoNetworkError, // also MongoNetworkTimeoutError and MongoPoolClearedError
  MongoTopologyClosedError,
  MongoNotConnectedError,
  MongoServerClosedError,
  MongoOperationTimeoutError,
] as const;

/** Error labels the driver puts on failures caused by a lost or reset connection. */
const UNAVAILABLE_LABELS = [MongoErrorLabel.RetryableWriteError, MongoErrorLabel.ResetPool];

/**
 * Server error codes of a node that steps down, shuts down or cannot reach its peers:
 * NotWritablePrimary (10107), NotPrimaryNoSecondaryOk (13435), NotPrimaryOrSecondary (13436),
 * LegacyNotPrimary (10058), InterruptedAtShutdown (11600), InterruptedDueToReplStateChange
 * (11602), ShutdownInProgress (91), PrimarySteppedDown (189), HostUnreachable (6),
 * HostNotFound (7), NetworkTimeout (89), SocketException (9001).
 */
const UNAVAILABLE_CODES: ReadonlySet<number> = new Set([
  10107,
  13435,
  13436,
  10058,
  11600,
  11602,
  91,
  189,
  6,
  7,
  89,
  9001,
]);

/** Whether a driver error means the database cannot be reached now (worth a retry later). */
function isUnavailable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (UNAVAILABLE_ERROR_CLASSES.some((cls) => error instanceof cls)) return true;
  if (UNAVAILABLE_ERROR_NAMES.has(error.name)) return true;
  if (error instanceof MongoError && UNAVAILABLE_LABELS.some((l) => error.hasErrorLabel(l))) {
    return true;
  }
  const code = (error as { code?: unknown }).code;
  return (error instanceof MongoError || error.name === "MongoServerError") &&
    typeof code === "number" && UNAVAILABLE_CODES.has(code);
}

/**
 * Maps a MongoDB driver failure to a store error: unreachable server, pool cleared or closed,
 * wait-queue or operation time-outs, errors labelled `RetryableWriteError` or `ResetPool`, and
 * step-down/shutdown server codes become `STORE_UNAVAILABLE`; a duplicate key becomes
 * `STORE_CONFLICT`; store errors and anything else are returned unchanged. Messages are masked.
 *
 * @internal Exported for its unit test.
 */
export function mapMongoError(error: unknown, description: string): unknown {
  if (error instanceof StoreError) return error;
  if (isUnavailable(error)) {
    return new StoreUnavailableError(`MongoDB ${description} is unreachable: ${describe(error)}`, {
      cause: error,
    });
  }
  if (isDuplicateKey(error)) {
    return new StoreError("STORE_CONFLICT", `Duplicate key: ${describe(error)}`, { cause: error });
  }
  return error;
}

/** A one-line description of a driver failure, with any URI credentials masked. */
function describe(error: unknown): string {
  return maskUriCredentials(describeError(error));
}
