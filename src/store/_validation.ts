/**
 * Validation of what the adapters are given and what they read back (folder-private): new
 * elements, events, instances and managed patches are checked before anything is written;
 * stored documents written by others are parsed, and an invalid one is skipped (and logged) or
 * refused, never taken.
 *
 * @module
 */
import type { InsertResult, ManagedPatch } from "./types.ts";
import {
  type AgentHeartbeat,
  agentHeartbeatSchema,
  type DayState,
  dayStateSchema,
  ELEMENT_STATUSES,
  type ElementError,
  elementErrorSchema,
  type EventRecord,
  eventSchema,
  type FieldIssue,
  FLATTEN_TARGETS,
  type Instance,
  type Metrics,
  metricsSchema,
  newEventSchema,
  parseElement,
  parseInstance,
  type PeakState,
  peakStateSchema,
  type Sample,
  sampleSchema,
  TRADING_STATES,
  type ValidElement,
} from "./schemas.ts";
import { StoreError, StoreInputError } from "./errors.ts";
import {
  array,
  atLeast,
  int,
  nullable,
  number,
  object,
  oneOf,
  optional,
  string,
} from "./_check.ts";
import { newId, normalizeId } from "./_ids.ts";
import { logger } from "../shared/logging.ts";
import { maskUriCredentials } from "../shared/secrets.ts";

/** What a manager may set on an element (every field optional; any other key is refused). */
interface ManagedFields {
  status?: Exclude<typeof ELEMENT_STATUSES[number], "DISABLED"> | undefined;
  trading?: typeof TRADING_STATES[number] | undefined;
  lock_reason?: string | null | undefined;
  locked_until?: number | null | undefined;
  unlock_applied_at?: number | null | undefined;
  flatten_pending?: typeof FLATTEN_TARGETS[number][] | undefined;
  metrics?: Metrics | undefined;
  day?: DayState | null | undefined;
  peak?: PeakState | null | undefined;
  error?: ElementError | null | undefined;
}

const managedPatchSchema = object<ManagedFields>({
  status: optional(oneOf(ELEMENT_STATUSES.filter((status) => status !== "DISABLED"))),
  trading: optional(oneOf(TRADING_STATES)),
  lock_reason: optional(nullable(string())),
  locked_until: optional(nullable(number())),
  unlock_applied_at: optional(nullable(number(int(), atLeast(0)))),
  flatten_pending: optional(array(oneOf(FLATTEN_TARGETS))),
  metrics: optional(metricsSchema),
  day: optional(nullable(dayStateSchema)),
  peak: optional(nullable(peakStateSchema)),
  error: optional(nullable(elementErrorSchema)),
}, { strict: true });

/** Validates a manager's patch and returns the fields to set. */
export function checkManagedPatch(patch: ManagedPatch): Record<string, unknown> {
  const result = managedPatchSchema.parse(patch);
  if (!result.ok) throw new StoreInputError("element update", result.issues);
  const fields: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(result.value)) {
    if (value !== undefined) fields[key] = value;
  }
  return fields;
}

/** Validates a new event and fills its defaults. */
export function checkNewEvent(input: unknown, id: string, now: number): EventRecord {
  const parsed = newEventSchema.parse(input);
  if (!parsed.ok) throw new StoreInputError("event", parsed.issues);
  const full = eventSchema.parse({ ...parsed.value, _id: id, at: parsed.value.at ?? now });
  if (!full.ok) throw new StoreInputError("event", full.issues);
  const record = full.value;
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

/**
 * Prepares a new element document: fills id, status, trading, lease and timestamps, validates
 * it. Returns the document to store (raw limits kept) with the element it parses to, or the
 * refusal.
 */
export function prepareElement(
  input: Record<string, unknown>,
  now: number,
):
  | { ok: true; doc: Record<string, unknown>; element: ValidElement }
  | (InsertResult & { ok: false }) {
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
  return { ok: true, doc, element: parsed };
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
function logSkippedDocument(what: string, id: unknown, reason: string): void {
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
    const parsed = eventSchema.parse(doc);
    if (parsed.ok) out.push(parsed.value);
    else logSkippedDocument("event", doc._id, firstIssue(parsed.issues));
  }
  return out;
}

function firstIssue(issues: FieldIssue[]): string {
  const first = issues[0];
  return first === undefined ? "invalid" : `${first.field} ${first.reason}`;
}

/** How long equity samples are kept by default: 30 days. */
export const DEFAULT_SAMPLE_RETENTION_MS = 30 * 24 * 60 * 60 * 1000;

/** How many samples {@link Store.listSamples} returns by default. */
export const DEFAULT_SAMPLE_LIMIT = 20_000;

/** Validates a sample for {@link Store.appendSample} (id in the store's form). */
export function checkSample(input: unknown): Sample {
  const parsed = sampleSchema.parse(input);
  if (!parsed.ok) throw new StoreInputError("sample", parsed.issues);
  return { ...parsed.value, element_id: normalizeId(parsed.value.element_id) };
}

/** Samples read back, with documents that do not parse skipped (and logged). */
export function validSamples(docs: Record<string, unknown>[]): Sample[] {
  const out: Sample[] = [];
  for (const doc of docs) {
    const parsed = sampleSchema.parse(doc);
    if (parsed.ok) out.push(parsed.value);
    else logSkippedDocument("sample", doc.element_id, firstIssue(parsed.issues));
  }
  return out;
}

/** Parses stored heartbeats, skipping malformed ones, sorted by host. */
export function validHeartbeats(docs: readonly unknown[]): AgentHeartbeat[] {
  return docs.flatMap((doc) => {
    const parsed = agentHeartbeatSchema.parse(doc);
    return parsed.ok ? [parsed.value] : [];
  }).sort((a, b) => a.host < b.host ? -1 : a.host > b.host ? 1 : 0);
}
