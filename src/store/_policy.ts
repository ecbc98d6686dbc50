/**
 * The store's rules, in one place both adapters call (folder-private), the way `_feed.ts` holds
 * the change feed: what a document's status is when it has none, which element may be claimed,
 * when a holder is stale, what a claim writes on the element and on the instance, what freeing
 * an instance writes, where a new instance goes, and the words of every refusal. The adapters
 * only translate these into their database's operations (a transaction on SQLite,
 * compare-and-set updates on MongoDB).
 *
 * @module
 */
import type { ElementFilter, InstanceFilter, Lease, LeaseRef, NewInstance } from "./types.ts";
import {
  type AgentHeartbeat,
  type ElementStatus,
  type Instance,
  type InstanceStatus,
  parseElement,
  parseInstance,
} from "./schemas.ts";
import { LeaseLostError, StoreError } from "./errors.ts";
import { newId } from "./_ids.ts";
import { toInstance } from "./_validation.ts";
import type { BackoffOptions } from "../shared/backoff.ts";

/** A stored document, ids as strings. */
export type Doc = Record<string, unknown>;

/** Delays between retries of a store operation (connect, feed reopen): 100 ms doubling to 5 s. */
export const STORE_RETRY_BACKOFF: BackoffOptions = { baseMs: 100, maxMs: 5_000 };

/** The first bridge port handed out by `addInstance`. */
const FIRST_INSTANCE_PORT = 15_000;

// ---- status of a document (the schemas' defaults, applied the same way everywhere) ----

/** An element's status; a document without one is `PENDING` (the schema's default). */
function elementStatusOf(doc: Doc): ElementStatus {
  return (doc.status ?? "PENDING") as ElementStatus;
}

/**
 * An instance's status; a document without one is `FREE` (the schema's default), for listing
 * and for claiming alike, so a terminal shown as free can also be claimed.
 */
export function instanceStatusOf(doc: Doc): InstanceStatus {
  return (doc.status ?? "FREE") as InstanceStatus;
}

/** Whether an element document passes the status part of an {@link ElementFilter}. */
export function elementStatusMatches(doc: Doc, filter: ElementFilter): boolean {
  return filter.status === undefined || filter.status.includes(elementStatusOf(doc));
}

/** Whether an instance document passes an {@link InstanceFilter}. */
export function instanceMatches(doc: Doc, filter: InstanceFilter): boolean {
  return (filter.host === undefined || doc.host === filter.host) &&
    (filter.status === undefined || instanceStatusOf(doc) === filter.status);
}

/**
 * The instances a claim may take, best first: FREE (or without status), with a valid stored
 * document (one written invalid by others is never taken), lowest port first.
 */
export function claimableInstances<T extends Doc>(docs: T[]): T[] {
  return docs.filter((doc) => instanceStatusOf(doc) === "FREE" && parseInstance(doc).ok)
    .sort((a, b) => Number(a.port) - Number(b.port));
}

/** Sorts instances by host, then port. */
export function compareInstances(a: Instance, b: Instance): number {
  return a.host < b.host ? -1 : a.host > b.host ? 1 : a.port - b.port;
}

/** Sorts documents by id. */
export function compareIds(a: Doc, b: Doc): number {
  const x = String(a._id);
  const y = String(b._id);
  return x < y ? -1 : x > y ? 1 : 0;
}

// ---- leases ----

/** The fencing counter of an element document; a document without one is at 0. */
export function leaseOfDoc(doc: Doc): number {
  return typeof doc.lease === "number" ? doc.lease : 0;
}

/**
 * Whether the holder of an element was last seen before `cutoff`: its last ping, or, when it
 * never pinged, when it took the lease.
 */
export function isStale(doc: Doc, cutoff: number): boolean {
  const seen = typeof doc.last_ping === "number"
    ? doc.last_ping
    : typeof doc.leased_at === "number"
    ? doc.leased_at
    : 0;
  return seen < cutoff;
}

/**
 * The element document when it may be claimed or taken over: it exists, is not DISABLED (a
 * person's decision) and is valid.
 *
 * @throws {StoreError} `NOT_FOUND`, `CLAIM_FAILED` (DISABLED), `ELEMENT_INVALID`.
 */
export function claimableElement(doc: Doc | null, elementId: string): Doc {
  if (doc === null) throw notFound("element", elementId);
  if (doc.status === "DISABLED") throw elementDisabled(elementId);
  const parsed = parseElement(doc);
  if (!parsed.valid) {
    throw new StoreError(
      "ELEMENT_INVALID",
      `Cannot claim element ${elementId}: ${parsed.field} ${parsed.reason}`,
    );
  }
  return doc;
}

/**
 * Whether a risk process adopts the admin's lease instead of taking a new one: the element was
 * claimed on this very instance by the admin and has never pinged.
 */
export function adoptsClaim(doc: Doc, instance: Doc, instanceId: string): boolean {
  return doc.instance_id === instanceId && doc.last_ping === null &&
    instance.element_id === String(doc._id);
}

/**
 * Whether a `takeLease` repeats one that landed but whose answer was lost (admin died with the
 * call in flight, and the child made it again on its own store): the element is held on this
 * instance under the take id the caller gave, which only that take wrote (a ping or another
 * process's take cannot match it). The repeat gets the lease that take got, instead of being
 * refused as held by itself.
 */
export function repeatsTake(
  doc: Doc,
  instance: Doc,
  instanceId: string,
  takeId: string | undefined,
): boolean {
  return takeId !== undefined && doc.take_id === takeId && doc.instance_id === instanceId &&
    holdsInstance(doc, instance, instanceId);
}

/**
 * Whether `instance` may be taken by `elementId`: not OCCUPIED, already this element's, or its
 * holder's last ping is older than `cutoff` (or it never pinged).
 */
export function instanceTakeable(instance: Doc, elementId: string, cutoff: number): boolean {
  return instanceStatusOf(instance) !== "OCCUPIED" || instance.element_id === elementId ||
    typeof instance.last_ping !== "number" || instance.last_ping < cutoff;
}

/** Whether `instance` (read by `instanceId`) is OCCUPIED by the element `doc`. */
export function holdsInstance(doc: Doc, instance: Doc | null, instanceId: string): instance is Doc {
  return instance !== null && String(instance._id) === instanceId &&
    instance.status === "OCCUPIED" && instance.element_id === String(doc._id);
}

/** What a claim or take-over writes on the element. */
export function claimedElementFields(
  instanceId: string,
  host: string,
  lease: number,
  now: number,
  lastPing: number | null,
  takeId: string | null = null,
): Doc {
  return {
    instance_id: instanceId,
    host,
    lease,
    leased_at: now,
    take_id: takeId,
    last_ping: lastPing,
    status: "ACTIVE",
    updated_at: now,
  };
}

/** What a claim or take-over writes on the instance. */
export function occupiedInstanceFields(elementId: string, lease: number, now: number): Doc {
  return { status: "OCCUPIED", element_id: elementId, lease, last_ping: now, pid: null };
}

/** What freeing an instance writes (release, reap, a forced delete of its element). */
export const FREED_INSTANCE_FIELDS: Readonly<Doc> = Object.freeze({
  status: "FREE",
  element_id: null,
  lease: null,
  pid: null,
});

/**
 * What releasing a holder writes on its element besides `lease + 1` (which fences the old
 * holder off) and the status: no instance, no host.
 */
export function releasedElementFields(now: number): Doc {
  return { instance_id: null, host: null, leased_at: null, take_id: null, updated_at: now };
}

/** The lease just taken or adopted, as returned to the caller. */
export function leaseOf(doc: Doc, instance: Doc): Lease {
  return {
    element_id: String(doc._id),
    instance_id: String(instance._id),
    lease: leaseOfDoc(doc),
    host: String(doc.host),
    instance: toInstance(instance),
  };
}

// ---- instances ----

/**
 * Where a new instance goes among the instances already on its host, as a document to insert:
 * a terminal folder may be registered once per host (simulator paths `sim:...` may repeat); a
 * given port range must not overlap a used one; without a port, the lowest free pair from
 * {@link FIRST_INSTANCE_PORT} is taken.
 *
 * @throws {StoreError} `STORE_CONFLICT` naming the folder's instance or the clashing ports.
 */
export function planInstance(existing: Doc[], input: NewInstance, now: number): Instance {
  if (!input.path.startsWith("sim:")) {
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
  const ports = existing.map((doc) => Number(doc.port));
  let port = input.port;
  if (port === undefined) port = allocatePort(ports);
  else {
    const wanted = port;
    const clash = ports.find((used) => Math.abs(used - wanted) <= 1);
    if (clash !== undefined) {
      throw new StoreError(
        "STORE_CONFLICT",
        `Port ${port} overlaps ports ${clash}-${clash + 1} already used on host ${input.host}`,
      );
    }
  }
  return toInstance({
    _id: newId(now),
    path: input.path,
    host: input.host,
    port,
    ...(input.symbol === undefined ? {} : { symbol: input.symbol }),
    status: "FREE",
    created_at: now,
  });
}

/** Lowest port `p >= FIRST_INSTANCE_PORT` (step 2) such that `p` and `p+1` are both unused. */
function allocatePort(used: Iterable<number>): number {
  const taken = new Set<number>();
  for (const port of used) {
    taken.add(port);
    taken.add(port + 1);
  }
  let port = FIRST_INSTANCE_PORT;
  while (taken.has(port) || taken.has(port + 1)) port += 2;
  return port;
}

// ---- refusals (one wording on both adapters) ----

/** `NOT_FOUND`: no document with this id. */
export function notFound(what: "element" | "instance", id: string): StoreError {
  return new StoreError("NOT_FOUND", `No ${what} with id ${id}`);
}

/** `ELEMENT_HELD`: the element is held by a manager. */
export function elementHeld(id: string, doc: Doc): StoreError {
  return new StoreError(
    "ELEMENT_HELD",
    `Element ${id} is held by host ${String(doc.host)} on instance ${String(doc.instance_id)}`,
  );
}

/** `CLAIM_FAILED`: the element is DISABLED (a person's decision). */
export function elementDisabled(id: string): StoreError {
  return new StoreError("CLAIM_FAILED", `Cannot claim element ${id}: it is DISABLED`);
}

/** `CLAIM_FAILED`: no instance on the host may be claimed. */
export function noFreeInstance(host: string): StoreError {
  return new StoreError("CLAIM_FAILED", `Cannot claim instance: no FREE instance on host ${host}`);
}

/** `CLAIM_FAILED`: the instance is held by another, fresh element. */
export function instanceBusy(instanceId: string, instance: Doc, now: number): StoreError {
  const ping = instance.last_ping;
  const age = typeof ping === "number" ? `${Math.round((now - ping) / 1000)} s ago` : "never";
  return new StoreError(
    "CLAIM_FAILED",
    `Cannot take instance ${instanceId}: OCCUPIED by element ${
      String(instance.element_id)
    } (pinged ${age})`,
  );
}

/** `STORE_CONFLICT`: an OCCUPIED instance is not deleted without `force`. */
export function instanceOccupied(id: string, doc: Doc): StoreError {
  return new StoreError(
    "STORE_CONFLICT",
    `Instance ${id} is OCCUPIED by element ${String(doc.element_id)}; use --force`,
  );
}

/** `STORE_CONFLICT`: a manager may not change the status of a DISABLED element. */
export function statusOfDisabled(id: string, status: unknown): StoreError {
  return new StoreError(
    "STORE_CONFLICT",
    `Element ${id} is DISABLED; its status is not changed to ${String(status)}`,
  );
}

/** `LEASE_LOST`: `lease` is not the element's current lease (`doc` as read now). */
export function leaseLost(lease: LeaseRef, doc: Doc | null): LeaseLostError {
  if (doc === null) return new LeaseLostError(lease.element_id, lease.lease, "element deleted");
  return new LeaseLostError(lease.element_id, lease.lease, `current lease is ${leaseOfDoc(doc)}`);
}

/** `LEASE_LOST`: the lease's instance is no longer held by its element. */
export function instanceLost(lease: LeaseRef): LeaseLostError {
  return new LeaseLostError(
    lease.element_id,
    lease.lease,
    `instance ${lease.instance_id} is no longer held by this element`,
  );
}

/** `agent_state` id prefix of admin heartbeats (`agent:<host>`); resume tokens use the host. */
export const AGENT_ID_PREFIX = "agent:";

/**
 * Whether a stored heartbeat blocks `beat`: it is another run of the host (and not the run
 * `replaceRunId`, known dead), not stopped, and younger than `staleAfterMs` at the new beat's
 * time.
 */
export function heartbeatBlocks(
  stored: AgentHeartbeat,
  beat: AgentHeartbeat,
  options: { staleAfterMs: number; replaceRunId?: string },
): boolean {
  return stored.run_id !== beat.run_id && stored.run_id !== options.replaceRunId &&
    stored.stopped_at === null && beat.last_seen - stored.last_seen < options.staleAfterMs;
}

/** What marking an instance unusable writes (`null` problem: FREE again). */
export function instanceUsableFields(problem: string | null, now: number): Doc {
  return problem === null
    ? { status: "FREE", error: null }
    : { status: "UNUSABLE", error: { code: "INSTANCE_UNUSABLE", message: problem, at: now } };
}
