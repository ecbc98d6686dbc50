/**
 * Ids in the store's form (folder-private): new ObjectId-shaped ids, and one spelling of a
 * 24-hex id (lowercase) for every id given to a store method, on both adapters.
 *
 * @module
 */
import type { LeaseRef, WatchOptions } from "./types.ts";
import { isRecord } from "./schemas.ts";

/** A 24-hex-digit id: the text of a MongoDB ObjectId. */
export const HEX_ID = /^[0-9a-fA-F]{24}$/;

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
