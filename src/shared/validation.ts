/**
 * The two pieces every hand-written validator shares: telling a plain object from other values,
 * and showing the value it refused in its message. Every validator of the project is written by
 * hand: the bridge messages, the rule settings, the state journal, the configuration and the
 * store's documents (a schema library costs a small process several megabytes).
 *
 * @module
 */

/** True for an object that is neither `null` nor an array (what JSON calls an object). */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/**
 * The value a validator refused, for its message: `nothing` for a missing value, strings quoted
 * (cut after 40 characters), numbers, booleans and `null` as written, otherwise the kind of value
 * (`an array`, `an object`). Never call it with a secret.
 */
export function describeValue(value: unknown): string {
  if (value === undefined) return "nothing";
  if (typeof value === "string") {
    return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value)}`;
  }
  if (typeof value === "number" || typeof value === "boolean" || value === null) {
    return String(value);
  }
  return kindOf(value);
}

/** `null`, `an array`, `an object` or the `typeof` name of any other value. */
export function kindOf(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return typeof value === "object" ? "an object" : typeof value;
}

/** A finite number (what JSON can hold). */
export function isNumber(value: unknown): value is number {
  return typeof value === "number" && Number.isFinite(value);
}

/** A finite number >= 0. */
export function isNonNegative(value: unknown): value is number {
  return isNumber(value) && value >= 0;
}

/** A finite number > 0. */
export function isPositive(value: unknown): value is number {
  return isNumber(value) && value > 0;
}

/** A safe integer (below 2^53 either way, so exact in a JSON number). */
export function isInteger(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value);
}

/** A safe integer >= 0: a count, a ticket, a time in ms. */
export function isCount(value: unknown): value is number {
  return isInteger(value) && value >= 0;
}

/** A safe integer > 0. */
export function isPositiveInteger(value: unknown): value is number {
  return isInteger(value) && value > 0;
}
