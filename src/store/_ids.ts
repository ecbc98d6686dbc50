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

/**
 * Ids shaped like a MongoDB ObjectId: 4 bytes of seconds, 5 bytes drawn once per process, 3
 * bytes of a counter incremented for every id. The ids of one sequence are strictly increasing
 * while the clock does not go back; when the counter wraps, the process value moves up by one
 * instead, keeping the order.
 */
export class IdSequence {
  #process: number;
  #counter: number;

  /** A sequence from a 5-byte process value and the counter of the id before the first. */
  constructor(processValue: number, counter: number) {
    this.#process = processValue;
    this.#counter = counter;
  }

  /** The next id, for the wall time `now` (epoch ms). */
  next(now: number): string {
    this.#counter++;
    if (this.#counter > 0xff_ffff) {
      this.#counter = 0;
      this.#process = (this.#process + 1) % 2 ** 40;
    }
    const seconds = Math.floor(now / 1000) >>> 0;
    return hex(seconds, 8) + hex(this.#process, 10) + hex(this.#counter, 6);
  }
}

/** This process's sequence: a random process value, the counter from a random point below half. */
const processIds = new IdSequence(randomBelow(2 ** 40), randomBelow(2 ** 23));

/**
 * A new 24-hex-digit id ({@link IdSequence}). Ids made by one process are strictly increasing,
 * so events it writes within one millisecond are listed in the order written by `(at, _id)` on
 * both adapters.
 */
export function newId(now = Date.now()): string {
  return processIds.next(now);
}

function hex(value: number, digits: number): string {
  return value.toString(16).padStart(digits, "0");
}

function randomBelow(limit: number): number {
  const words = crypto.getRandomValues(new Uint32Array(2));
  return (words[0]! * 2 ** 32 + words[1]!) % limit;
}
