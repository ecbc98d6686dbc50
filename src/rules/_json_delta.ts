/**
 * Deltas between two JSON values, for the plugin protocol: the host sends a plugin only what
 * changed in the rule context since the snapshot before, instead of the whole context (200
 * positions are about 46 KB of JSON; from one snapshot to the next usually only prices, profits,
 * equity and the clock move).
 *
 * The encoder keeps its own JSON copy of the value it sent last (never the caller's objects,
 * which may change after the call) and compares the next value with it, with the semantics of
 * `JSON.stringify`: `toJSON` is called, non-finite numbers become `null`, `undefined`, functions
 * and symbols are left out of objects and become `null` in arrays. So the receiver rebuilds
 * exactly what `JSON.parse(JSON.stringify(value))` would have given.
 *
 * A {@link Patch} is JSON itself:
 * - `null`, a boolean, a number or a string replaces the value with itself;
 * - `[value]` replaces the value with an object or array;
 * - `{n, s}` changes an array: its new length `n`, and patches `s` of some items by index;
 * - `{s, d}` changes an object: patches `s` of some keys, and keys `d` that are gone;
 * - `{}` leaves the value as it is.
 * So a price that moved is `{"price": 1.1012}` inside its position's patch: no wrapper.
 *
 * @module
 */

/** A JSON value. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** A change to one JSON value (see the module documentation). */
export type Patch =
  | null
  | boolean
  | number
  | string
  | [Json]
  | { n: number; s?: Record<string, Patch> }
  | { n?: undefined; s?: Record<string, Patch>; d?: string[] };

const OMIT = Symbol("omit");
const SAME = Symbol("same");

/** The value as `JSON.stringify` sees it, one level deep; {@link OMIT} where it leaves it out. */
function prepare(raw: unknown): unknown {
  let value = raw;
  if (
    value !== null && typeof value === "object" &&
    typeof (value as { toJSON?: unknown }).toJSON === "function"
  ) {
    value = (value as { toJSON: () => unknown }).toJSON();
  }
  switch (typeof value) {
    case "number":
      return Number.isFinite(value) ? value : null;
    case "undefined":
    case "function":
    case "symbol":
      return OMIT;
    case "bigint":
      throw new TypeError("a BigInt cannot be sent as JSON");
    default:
      return value;
  }
}

/** Sets an own property, also one named `__proto__` (which `=` would take as the prototype). */
function setOwn<T>(target: Record<string, T>, key: string, value: T): void {
  if (key === "__proto__") {
    Object.defineProperty(target, key, {
      value,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  } else {
    target[key] = value;
  }
}

function isObject(value: Json | undefined): value is Record<string, Json> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/** A fresh JSON copy of a prepared value. */
function normalize(value: unknown): Json {
  if (value === null || typeof value !== "object") return value as Json;
  if (Array.isArray(value)) {
    const out: Json[] = new Array(value.length);
    for (let i = 0; i < value.length; i++) {
      const item = prepare(value[i]);
      out[i] = item === OMIT ? null : normalize(item);
    }
    return out;
  }
  const out: Record<string, Json> = {};
  for (const key of Object.keys(value)) {
    const item = prepare((value as Record<string, unknown>)[key]);
    if (item !== OMIT) setOwn(out, key, normalize(item));
  }
  return out;
}

/** The patch that replaces a value with `copy`. */
function replacement(copy: Json): Patch {
  return copy === null || typeof copy !== "object" ? copy : [copy];
}

/** The value a replacing patch puts in place; undefined for a patch that changes in place. */
function replaced(patch: Patch): Json | undefined {
  if (patch === null || typeof patch !== "object") return patch;
  return Array.isArray(patch) ? patch[0] : undefined;
}

/**
 * The patch from `previous` (the copy sent before) to a prepared value, or {@link SAME}.
 * Objects and arrays of `previous` that stay objects and arrays are brought up to date in
 * place; a replacing patch carries the new copy, which the caller puts in place.
 */
function diff(previous: Json | undefined, value: unknown): Patch | typeof SAME {
  if (value === null || typeof value !== "object") {
    return previous === value ? SAME : value as null | boolean | number | string;
  }
  if (Array.isArray(value)) {
    if (!Array.isArray(previous)) return [normalize(value)];
    let sets: Record<string, Patch> | undefined;
    const resized = previous.length !== value.length;
    for (let i = 0; i < value.length; i++) {
      let item = prepare(value[i]);
      if (item === OMIT) item = null;
      if (i < previous.length) {
        const patch = diff(previous[i], item);
        if (patch === SAME) continue;
        (sets ??= {})[i] = patch;
        const copy = replaced(patch);
        if (copy !== undefined) previous[i] = copy;
      } else {
        const copy = normalize(item);
        (sets ??= {})[i] = replacement(copy);
        previous[i] = copy;
      }
    }
    previous.length = value.length;
    if (sets === undefined) return resized ? { n: value.length } : SAME;
    return { n: value.length, s: sets };
  }
  if (!isObject(previous)) return [normalize(value)];
  let sets: Record<string, Patch> | undefined;
  let present = 0;
  for (const key of Object.keys(value)) {
    const raw = (value as Record<string, unknown>)[key];
    // Fast path: a string, boolean or finite number that did not change (most fields of most
    // positions); a JSON object's inherited members are functions, never equal to these.
    if (
      raw === previous[key] &&
      (typeof raw === "string" || typeof raw === "boolean" ||
        (typeof raw === "number" && Number.isFinite(raw)))
    ) {
      present++;
      continue;
    }
    const item = prepare(raw);
    if (item === OMIT) continue;
    present++;
    if (Object.hasOwn(previous, key)) {
      const patch = diff(previous[key], item);
      if (patch === SAME) continue;
      setOwn(sets ??= {}, key, patch);
      const copy = replaced(patch);
      if (copy !== undefined) setOwn(previous, key, copy);
    } else {
      const copy = normalize(item);
      setOwn(sets ??= {}, key, replacement(copy));
      setOwn(previous, key, copy);
    }
  }
  let deleted: string[] | undefined;
  if (present < Object.keys(previous).length) {
    deleted = [];
    for (const key of Object.keys(previous)) {
      const item = Object.hasOwn(value, key)
        ? prepare((value as Record<string, unknown>)[key])
        : OMIT;
      if (item === OMIT) {
        deleted.push(key);
        delete previous[key];
      }
    }
  }
  if (sets === undefined && deleted === undefined) return SAME;
  const patch: Patch = {};
  if (sets !== undefined) patch.s = sets;
  if (deleted !== undefined) patch.d = deleted;
  return patch;
}

/**
 * Turns successive values into patches, each from the value encoded before. The encoder keeps
 * its own copy of what it sent and brings it up to date in place, sharing parts with the
 * patches it returns: serialize a patch before the next call to {@link DeltaEncoder.encode}.
 */
export class DeltaEncoder {
  #sent: Json | undefined;

  /** The patch from the value encoded last (from nothing after {@link reset}) to `value`. */
  encode(value: unknown): Patch {
    const prepared = prepare(value);
    if (prepared === OMIT) throw new TypeError("undefined cannot be sent as JSON");
    const patch = diff(this.#sent, prepared);
    if (patch === SAME) return {};
    const copy = replaced(patch);
    if (copy !== undefined) this.#sent = copy;
    return patch;
  }

  /** Forgets the value sent last: the next patch carries the whole value. */
  reset(): void {
    this.#sent = undefined;
  }
}

/**
 * Applies a patch to `base` (changed in place where it is an object or array) and returns the
 * new value. Throws when the patch does not fit the base (an array patch on an object, ...).
 */
export function applyPatch(base: Json | undefined, patch: Patch): Json {
  if (patch === null || typeof patch !== "object") return patch;
  if (Array.isArray(patch)) return patch[0];
  const sets = patch.s;
  if (patch.n !== undefined) {
    if (!Array.isArray(base)) throw new TypeError("an array patch on a value that is no array");
    base.length = patch.n;
    if (sets !== undefined) {
      for (const key of Object.keys(sets)) {
        const index = Number(key);
        base[index] = applyPatch(base[index], sets[key]!);
      }
    }
    return base;
  }
  if (sets === undefined && patch.d === undefined) {
    if (base === undefined) throw new TypeError("an empty patch on nothing");
    return base;
  }
  if (!isObject(base)) throw new TypeError("an object patch on a value that is no object");
  for (const key of patch.d ?? []) delete base[key];
  if (sets !== undefined) {
    for (const key of Object.keys(sets)) {
      setOwn(base, key, applyPatch(Object.hasOwn(base, key) ? base[key] : undefined, sets[key]!));
    }
  }
  return base;
}

/** A deep copy of a JSON value (much faster than `structuredClone` for plain JSON). */
export function copyJson(value: Json): Json {
  if (value === null || typeof value !== "object") return value;
  if (Array.isArray(value)) {
    const out: Json[] = new Array(value.length);
    for (let i = 0; i < value.length; i++) out[i] = copyJson(value[i]!);
    return out;
  }
  const out: Record<string, Json> = {};
  for (const key in value) {
    const item = value[key]!;
    if (key === "__proto__") setOwn(out, key, copyJson(item));
    else out[key] = item === null || typeof item !== "object" ? item : copyJson(item);
  }
  return out;
}
