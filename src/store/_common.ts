/**
 * Helpers shared by the two store adapters (folder-private).
 *
 * @module
 */
import { z } from "zod";
import type { InsertResult, ManagedPatch } from "./mod.ts";
import {
  dayStateSchema,
  describeIssues,
  ELEMENT_STATUSES,
  elementErrorSchema,
  type EventRecord,
  eventSchema,
  type Instance,
  metricsSchema,
  newEventSchema,
  parseElement,
  parseInstance,
  peakStateSchema,
  TRADING_STATES,
} from "./schemas.ts";
import { StoreInputError } from "./errors.ts";

/** Default staleness threshold: 5 minutes. */
export const DEFAULT_STALE_MS = 5 * 60 * 1000;

/** The first bridge port handed out by `addInstance`. */
export const FIRST_INSTANCE_PORT = 15_000;

/** Element fields that change on every ping; changes of only these are not fed. */
export const VOLATILE_ELEMENT_FIELDS = ["last_ping", "metrics", "updated_at"] as const;

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

/** Validates a new instance's path and port. */
export function checkNewInstance(path: unknown, host: unknown, port: unknown): void {
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
