/**
 * Helpers shared by the two store adapters (folder-private).
 *
 * @module
 */
import { z } from "zod";
import type { InsertResult, LeaseRef, ManagedPatch, WatchOptions } from "./mod.ts";
import {
  dayStateSchema,
  describeIssues,
  ELEMENT_STATUSES,
  elementErrorSchema,
  type EventRecord,
  eventSchema,
  type FieldIssue,
  type Instance,
  isRecord,
  metricsSchema,
  newEventSchema,
  parseElement,
  parseInstance,
  peakStateSchema,
  type Sample,
  sampleSchema,
  TRADING_STATES,
  type ValidElement,
} from "./schemas.ts";
import { StoreError, StoreInputError } from "./errors.ts";
import { logger } from "../shared/logging.ts";
import { maskUriCredentials } from "../shared/secrets.ts";

/** Default staleness threshold: 5 minutes. */
export const DEFAULT_STALE_MS = 5 * 60 * 1000;

/** How long equity samples are kept by default: 30 days. */
export const DEFAULT_SAMPLE_RETENTION_MS = 30 * 24 * 60 * 60 * 1000;

/** How many samples {@link Store.listSamples} returns by default. */
export const DEFAULT_SAMPLE_LIMIT = 20_000;

/** The first bridge port handed out by `addInstance`. */
export const FIRST_INSTANCE_PORT = 15_000;

/** Element fields that change on every ping; changes of only these are not fed. */
export const VOLATILE_ELEMENT_FIELDS = ["last_ping", "metrics", "updated_at"] as const;

/**
 * Element fields a person (or another system) may change with `configureElement`. Every other
 * field (status, host, instance_id, lease, last_ping, day, peak, metrics, error, ids, times) is
 * written by riskguard itself. `trading` may only be set back to `ALLOWED` (an unlock).
 */
export const CONFIG_ELEMENT_FIELDS = [
  "name",
  "server",
  "login",
  "password",
  "password_enc",
  "max_daily_loss",
  "max_position_risk",
  "max_profit",
  "max_drawdown",
  "daily",
  "warn_at",
  "require_stop_loss",
  "position_risk_action",
  "max_open_positions",
  "max_total_lots",
  "max_lots_per_symbol",
  "trading_hours",
  "close_before_weekend",
  "rules",
  "initial_balance",
  "pin_host",
  "trading",
] as const;

const CONFIG_FIELD_SET: ReadonlySet<string> = new Set(CONFIG_ELEMENT_FIELDS);

/** Why `configureElement` refuses a field that is not a configuration field. */
export const MANAGED_FIELD_REASON = "cannot be changed by configureElement (managed by riskguard)";

/** A person's change checked against the current document: what to write, and the result. */
export interface ConfigChange {
  /** Always `true`. */
  ok: true;
  /** Fields to set (JSON values), `updated_at` included. */
  set: Record<string, unknown>;
  /** Fields to remove. */
  unset: string[];
  /** The whole document after the change, as it is to be stored. */
  doc: Record<string, unknown>;
  /** The document after the change, parsed. */
  element: ValidElement;
}

/**
 * Checks a person's configuration change (`configureElement`) against the element's current
 * document and returns what to write, or the refusal. Only {@link CONFIG_ELEMENT_FIELDS} may be
 * given; `null` removes a field; `trading` may only be `"ALLOWED"`, which also clears
 * `lock_reason` and `locked_until`. Setting `password` without `password_enc` removes a stored
 * `password_enc` (and the other way round), so that the new password is the one used. The merged
 * document must be a valid element. Never throws.
 */
export function prepareConfigChange(
  current: Record<string, unknown>,
  changes: unknown,
  now: number,
): ConfigChange | (InsertResult & { ok: false }) {
  if (!isRecord(changes)) {
    return refusal([{ field: "(document)", reason: "must be an object of fields to change" }]);
  }
  const issues: FieldIssue[] = [];
  const given: Record<string, unknown> = {};
  const unset = new Set<string>();
  for (const [key, value] of Object.entries(changes)) {
    if (value === undefined) continue;
    if (!CONFIG_FIELD_SET.has(key)) {
      issues.push({ field: key, reason: MANAGED_FIELD_REASON });
    } else if (key === "trading") {
      if (value === "ALLOWED") {
        given.trading = "ALLOWED";
        given.lock_reason = null;
        given.locked_until = null;
      } else {
        issues.push({
          field: "trading",
          reason: `may only be set to "ALLOWED" (unlock); locks are set by the risk process, got ${
            showValue(value)
          }`,
        });
      }
    } else if (value === null) {
      unset.add(key);
    } else {
      given[key] = value;
    }
  }
  if (issues.length > 0) return refusal(issues);
  const pairs = [["password", "password_enc"], ["password_enc", "password"]] as const;
  for (const [field, other] of pairs) {
    if (given[field] !== undefined && !(other in changes) && current[other] !== undefined) {
      unset.add(other);
    }
  }
  // Validate what was given, then what will be stored (JSON values, the same in both adapters).
  const checked = mergeAndParse(current, given, unset, now);
  if (!checked.ok) return checked;
  const set: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(given)) {
    let text: string | undefined;
    try {
      text = JSON.stringify(value);
    } catch (error) {
      return refusal([{ field: key, reason: `cannot be stored: ${(error as Error).message}` }]);
    }
    if (text === undefined) return refusal([{ field: key, reason: "cannot be stored as JSON" }]);
    set[key] = JSON.parse(text);
  }
  const stored = mergeAndParse(current, set, unset, now);
  if (!stored.ok) return stored;
  set.updated_at = now;
  return { ok: true, set, unset: [...unset], doc: stored.doc, element: stored.element };
}

function mergeAndParse(
  current: Record<string, unknown>,
  set: Record<string, unknown>,
  unset: ReadonlySet<string>,
  now: number,
):
  | { ok: true; doc: Record<string, unknown>; element: ValidElement }
  | (InsertResult & { ok: false }) {
  const doc: Record<string, unknown> = { ...current, ...set, updated_at: now };
  for (const key of unset) delete doc[key];
  const parsed = parseElement(doc);
  if (!parsed.valid) return refusal(parsed.issues);
  return { ok: true, doc, element: parsed };
}

function refusal(issues: FieldIssue[]): InsertResult & { ok: false } {
  const first = issues[0] ?? { field: "(document)", reason: "is invalid" };
  return { ok: false, field: first.field, reason: first.reason, issues };
}

function showValue(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value.slice(0, 40));
  if (typeof value === "number" || typeof value === "boolean" || value === null) {
    return String(value);
  }
  return Array.isArray(value) ? "an array" : typeof value;
}

/** A new 24-hex-digit id, ObjectId-shaped (4 bytes seconds + 8 random bytes). */
export function newId(now = Date.now()): string {
  const bytes = new Uint8Array(12);
  const seconds = Math.floor(now / 1000);
  bytes[0] = (seconds >>> 24) & 0xff;
  bytes[1] = (seconds >>> 16) & 0xff;
  bytes[2] = (seconds >>> 8) & 0xff;
  bytes[3] = seconds & 0xff;
  crypto.getRandomValues(bytes.subarray(4));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** A stable text of a document without its volatile fields, to tell real changes apart. */
export function fingerprint(doc: Record<string, unknown>): string {
  const copy: Record<string, unknown> = { ...doc };
  for (const field of VOLATILE_ELEMENT_FIELDS) delete copy[field];
  return stableStringify(copy);
}

function stableStringify(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableStringify).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const keys = Object.keys(value).sort();
    return `{${
      keys.map((key) =>
        `${JSON.stringify(key)}:${stableStringify((value as Record<string, unknown>)[key])}`
      ).join(",")
    }}`;
  }
  return JSON.stringify(value) ?? "null";
}

const managedPatchSchema = z.strictObject({
  status: z.enum(ELEMENT_STATUSES).exclude(["DISABLED"]).optional(),
  trading: z.enum(TRADING_STATES).optional(),
  lock_reason: z.string().nullable().optional(),
  locked_until: z.number().finite().nullable().optional(),
  metrics: metricsSchema.optional(),
  day: dayStateSchema.nullable().optional(),
  peak: peakStateSchema.nullable().optional(),
  error: elementErrorSchema.nullable().optional(),
});

/** Validates a manager's patch and returns the fields to set. */
export function checkManagedPatch(patch: ManagedPatch): Record<string, unknown> {
  const result = managedPatchSchema.safeParse(patch, { reportInput: true });
  if (!result.success) {
    throw new StoreInputError("element update", describeIssues(result.error.issues));
  }
  const fields: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(result.data)) {
    if (value !== undefined) fields[key] = value;
  }
  return fields;
}

/** Validates a new event and fills its defaults. */
export function checkNewEvent(input: unknown, id: string, now: number): EventRecord {
  const parsed = newEventSchema.safeParse(input, { reportInput: true });
  if (!parsed.success) throw new StoreInputError("event", describeIssues(parsed.error.issues));
  const record = eventSchema.parse({ ...parsed.data, _id: id, at: parsed.data.at ?? now });
  try {
    JSON.stringify(record);
  } catch (error) {
    throw new StoreInputError("event", [{
      field: "detail",
      reason: `cannot be stored: ${(error as Error).message}`,
    }]);
  }
  return record;
}

/** Validates a sample for {@link Store.appendSample} (id in the store's form). */
export function checkSample(input: unknown): Sample {
  const parsed = sampleSchema.safeParse(input, { reportInput: true });
  if (!parsed.success) throw new StoreInputError("sample", describeIssues(parsed.error.issues));
  return { ...parsed.data, element_id: normalizeId(parsed.data.element_id) };
}

/** Samples read back, with documents that do not parse skipped (and logged). */
export function validSamples(docs: Record<string, unknown>[]): Sample[] {
  const out: Sample[] = [];
  for (const doc of docs) {
    const parsed = sampleSchema.safeParse(doc, { reportInput: true });
    if (parsed.success) out.push(parsed.data);
    else {logSkippedDocument(
        "sample",
        doc.element_id,
        firstIssue(describeIssues(parsed.error.issues)),
      );}
  }
  return out;
}

/**
 * Prepares a new element document: fills id, status, trading, lease and timestamps, validates
 * it. Returns the document to store (raw limits kept) or the refusal.
 */
export function prepareElement(
  input: Record<string, unknown>,
  now: number,
): { ok: true; doc: Record<string, unknown> } | (InsertResult & { ok: false }) {
  if (input === null || typeof input !== "object" || Array.isArray(input)) {
    const issue = { field: "(document)", reason: "must be an object" };
    return { ok: false, ...issue, issues: [issue] };
  }
  const doc: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(input)) {
    if (value === undefined) continue;
    try {
      JSON.stringify(value);
    } catch (error) {
      const issue = { field: key, reason: `cannot be stored: ${(error as Error).message}` };
      return { ok: false, ...issue, issues: [issue] };
    }
    doc[key] = value;
  }
  if (doc._id === undefined) doc._id = newId(now);
  else if (typeof doc._id === "string") doc._id = normalizeId(doc._id);
  doc.status ??= "PENDING";
  doc.trading ??= "ALLOWED";
  doc.lease ??= 0;
  doc.host ??= null;
  doc.instance_id ??= null;
  doc.last_ping ??= null;
  doc.created_at ??= now;
  doc.updated_at = now;
  const parsed = parseElement(doc);
  if (!parsed.valid) {
    return { ok: false, field: parsed.field, reason: parsed.reason, issues: parsed.issues };
  }
  return { ok: true, doc };
}

/** Lowest port `p >= FIRST_INSTANCE_PORT` (step 2) such that `p` and `p+1` are both unused. */
export function allocatePort(used: Iterable<number>): number {
  const taken = new Set<number>();
  for (const port of used) {
    taken.add(port);
    taken.add(port + 1);
  }
  let port = FIRST_INSTANCE_PORT;
  while (taken.has(port) || taken.has(port + 1)) port += 2;
  return port;
}

/** True when the ranges `[a, a+1]` and `[b, b+1]` overlap. */
export function portsOverlap(a: number, b: number): boolean {
  return Math.abs(a - b) <= 1;
}

/** Validates a new instance's path, host, port and chart symbol. */
export function checkNewInstance(
  path: unknown,
  host: unknown,
  port: unknown,
  symbol?: unknown,
): void {
  const issues = [];
  if (typeof path !== "string" || path.trim() === "") {
    issues.push({ field: "path", reason: "must be a terminal folder or sim:<scenario>" });
  }
  if (typeof host !== "string" || host.trim() === "") {
    issues.push({ field: "host", reason: "must not be empty" });
  }
  if (
    port !== undefined &&
    (!Number.isInteger(port) || (port as number) < 1024 || (port as number) > 65_534)
  ) {
    issues.push({
      field: "port",
      reason: `must be an integer from 1024 to 65534, got ${String(port)}`,
    });
  }
  if (symbol !== undefined && (typeof symbol !== "string" || !/^[^\s=]{1,64}$/.test(symbol))) {
    issues.push({
      field: "symbol",
      reason: `must be a chart symbol without spaces, got ${JSON.stringify(symbol)}`,
    });
  }
  if (issues.length > 0) throw new StoreInputError("instance", issues);
}

/** True when the path names the simulator (`sim:<scenario>`); those may repeat on a host. */
export function isSimPath(path: string): boolean {
  return path.startsWith("sim:");
}

/** Resolves after `ms`, or at once when `signal` aborts. Never leaks its timer. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}

/** Backoff delay for attempt `n` (0-based): 100 ms doubling, capped at 5 s. */
export function backoffMs(attempt: number): number {
  return Math.min(5_000, 100 * 2 ** attempt);
}

/**
 * Parses a stored instance document.
 *
 * @throws {StoreInputError} `INPUT_INVALID` naming the instance and the wrong field.
 */
export function toInstance(doc: Record<string, unknown>): Instance {
  const parsed = parseInstance(doc);
  if (parsed.ok) return parsed.instance;
  throw new StoreInputError(`instance ${String(doc._id)} (stored document)`, parsed.issues);
}

/**
 * Refuses to take an instance whose stored document (written by others) is invalid: throws
 * CLAIM_FAILED naming the first bad field. Called before anything is written.
 */
export function checkStoredInstance(instance: Record<string, unknown>): void {
  const parsed = parseInstance(instance);
  if (parsed.ok) return;
  const first = parsed.issues[0];
  throw new StoreError(
    "CLAIM_FAILED",
    `Cannot take instance ${String(instance._id)}: its stored document is invalid${
      first === undefined ? "" : ` (${first.field} ${first.reason})`
    }`,
  );
}

/**
 * Logs (as a warning, without credentials) that a stored document written by others does not
 * match its schema and was left out of a list.
 */
export function logSkippedDocument(what: string, id: unknown, reason: string): void {
  logger("store", "read").warn("Skipped invalid {what} {id}: {reason}", {
    what,
    id: maskUriCredentials(String(id)),
    reason: maskUriCredentials(reason),
  });
}

/**
 * Parses stored instance documents; an invalid one is skipped (and logged), so that one bad
 * document never hides the others.
 */
export function validInstances(docs: Record<string, unknown>[]): Instance[] {
  const out: Instance[] = [];
  for (const doc of docs) {
    const parsed = parseInstance(doc);
    if (parsed.ok) out.push(parsed.instance);
    else logSkippedDocument("instance", doc._id, firstIssue(parsed.issues));
  }
  return out;
}

/**
 * Parses stored event documents; an invalid one is skipped (and logged), so that one bad
 * document never hides the others.
 */
export function validEvents(docs: Record<string, unknown>[]): EventRecord[] {
  const out: EventRecord[] = [];
  for (const doc of docs) {
    const parsed = eventSchema.safeParse(doc, { reportInput: true });
    if (parsed.success) out.push(parsed.data);
    else logSkippedDocument("event", doc._id, firstIssue(describeIssues(parsed.error.issues)));
  }
  return out;
}

function firstIssue(issues: FieldIssue[]): string {
  const first = issues[0];
  return first === undefined ? "invalid" : `${first.field} ${first.reason}`;
}

const HEX_ID = /^[0-9a-fA-F]{24}$/;

/**
 * The store's form of an id: a 24-hex id (an ObjectId's text) in lowercase, as MongoDB prints
 * ObjectIds; any other id unchanged. Every id given to a store method goes through this, so
 * `6B04...` and `6b04...` name the same document on both adapters.
 */
export function normalizeId(id: string): string {
  return typeof id === "string" && HEX_ID.test(id) ? id.toLowerCase() : id;
}

/** A lease reference with its ids in the store's form ({@link normalizeId}). */
export function normalizeLeaseRef<T extends LeaseRef>(lease: T): T {
  if (!isRecord(lease)) return lease; // bad input is refused by the method itself
  return {
    ...lease,
    element_id: normalizeId(lease.element_id),
    instance_id: normalizeId(lease.instance_id),
  };
}

/** A new event with its `element_id` in the store's form ({@link normalizeId}). */
export function normalizeEventIds<T>(event: T): T {
  if (!isRecord(event) || typeof event.element_id !== "string") return event;
  return { ...event, element_id: normalizeId(event.element_id) };
}

/** Feed options with `elementId` in the store's form ({@link normalizeId}). */
export function normalizeWatchOptions(options: WatchOptions): WatchOptions {
  if (!isRecord(options) || typeof options.elementId !== "string") return options;
  return { ...options, elementId: normalizeId(options.elementId) };
}
