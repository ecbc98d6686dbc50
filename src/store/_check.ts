/**
 * The few building blocks the document schemas (`schemas.ts`) are made of (folder-private):
 * strings, numbers, enums, arrays, objects, records, nullable/optional/defaulted fields and
 * hand-written readers. Written by hand instead of loading a schema library (a process pays
 * megabytes for one). They keep the semantics the stored documents were first checked with
 * (zod 4): unknown keys are stripped (or refused by a strict object), every problem is
 * collected in field order, and a problem that leaves the value's type in doubt stops the
 * checks that need the type (a length check still runs on anything that has a length).
 *
 * @module
 */
import { isSecretField } from "../shared/secrets.ts";
import { describeValue } from "../shared/validation.ts";

/** One reason why a document is invalid. */
export interface FieldIssue {
  /** Dotted path of the field, e.g. `max_drawdown.limit` (`(document)` for the whole). */
  field: string;
  /** Why the value is wrong, with the value seen (never for secret fields). */
  reason: string;
}

/** A problem before it is described: the value seen is added last, unless a secret is on its path. */
export interface Problem {
  path: (string | number)[];
  message: string;
  input: unknown;
  /** Whether `, got <value>` follows the message. */
  showInput: boolean;
  /**
   * `true`: the value keeps its type, later checks still run; `false`: nothing more runs on the
   * value; absent: checks that need the type are skipped, length checks still run.
   */
  go?: boolean;
}

/** A value being checked and the problems found so far. */
interface Payload {
  value: unknown;
  problems: Problem[];
}

/** The outcome of {@link Schema.parse}. */
export type Parsed<T> = { ok: true; value: T } | { ok: false; issues: FieldIssue[] };

/** A validator of one kind of value. */
export interface Schema<T> {
  /** `optional`: an absent key is left out; `defaulted`: an absent key gets a value. */
  readonly optin?: "optional" | "defaulted" | undefined;
  /** `optional`: the result may be `undefined`. */
  readonly optout?: "optional" | undefined;
  /** Checks `input`; the value is `T` when no problem was found. */
  run(input: unknown): Payload;
  /** Checks `input`: the typed value, or every issue found (the first is the first wrong field). */
  parse(input: unknown): Parsed<T>;
}

/** A check run after the type is known (or, with `when`, on anything it applies to). */
interface Check {
  /** Runs even after a type problem, when it returns true (length checks). */
  when?: (value: unknown) => boolean;
  check(payload: Payload): void;
}

function schema<T>(
  run: (input: unknown) => Payload,
  opt: { optin?: "optional" | "defaulted" | undefined; optout?: "optional" | undefined } = {},
): Schema<T> {
  return {
    optin: opt.optin,
    optout: opt.optout,
    run,
    parse(input) {
      const payload = run(input);
      if (payload.problems.length === 0) return { ok: true, value: payload.value as T };
      return { ok: false, issues: payload.problems.map(describe) };
    },
  };
}

function describe(problem: Problem): FieldIssue {
  const field = problem.path.length === 0 ? "(document)" : problem.path.map(String).join(".");
  const secret = problem.path.some((part) => typeof part === "string" && isSecretField(part));
  const seen = problem.showInput && !secret ? `, got ${describeValue(problem.input)}` : "";
  return { field, reason: `${problem.message}${seen}` };
}

/** True when a problem from `start` on stops the checks that need the type. */
function stopped(problems: readonly Problem[], start = 0): boolean {
  for (let i = start; i < problems.length; i++) if (problems[i]!.go !== true) return true;
  return false;
}

function stoppedHard(problems: readonly Problem[]): boolean {
  return problems.some((problem) => problem.go === false);
}

function runChecks(payload: Payload, checks: readonly Check[]): Payload {
  let isStopped = stopped(payload.problems);
  for (const check of checks) {
    if (check.when !== undefined) {
      if (stoppedHard(payload.problems) || !check.when(payload.value)) continue;
    } else if (isStopped) continue;
    const count = payload.problems.length;
    check.check(payload);
    if (!isStopped && payload.problems.length > count) {
      isStopped = stopped(payload.problems, count);
    }
  }
  return payload;
}

const ARTICLE: Record<string, string> = {
  string: "a string",
  number: "a number",
  int: "an integer",
  boolean: "a boolean",
  object: "an object",
  array: "an array",
  record: "a record",
};

function wrongType(expected: string, input: unknown): Problem {
  return input === undefined
    ? { path: [], message: "is required", input, showInput: false }
    : { path: [], message: `must be ${ARTICLE[expected]}`, input, showInput: true };
}

function typed<T>(
  expected: string,
  accepts: (input: unknown) => boolean,
  checks: readonly Check[],
): Schema<T> {
  return schema((input) => {
    const payload: Payload = { value: input, problems: [] };
    if (!accepts(input)) payload.problems.push(wrongType(expected, input));
    return checks.length === 0 ? payload : runChecks(payload, checks);
  });
}

/** A string, then the checks in order. */
export function string(...checks: Check[]): Schema<string> {
  return typed("string", (input) => typeof input === "string", checks);
}

/** A finite number, then the checks in order. */
export function number(...checks: Check[]): Schema<number> {
  return typed("number", (input) => typeof input === "number" && Number.isFinite(input), checks);
}

/** `true` or `false`. */
export function boolean(): Schema<boolean> {
  return typed("boolean", (input) => typeof input === "boolean", []);
}

/** Anything, as given (an absent key is still required). */
export function unknown(): Schema<unknown> {
  return schema((input) => ({ value: input, problems: [] }));
}

/** One of `values`. */
export function oneOf<const V extends string>(values: readonly V[]): Schema<V> {
  const allowed = new Set<unknown>(values);
  const message = `must be one of ${values.map((value) => JSON.stringify(value)).join(", ")}`;
  return schema((input) => ({
    value: input,
    problems: allowed.has(input) ? [] : [{ path: [], message, input, showInput: true }],
  }));
}

/** A number or a string. */
export function numberOrString(): Schema<number | string> {
  const options = [number(), string()];
  return schema((input) => {
    const results = options.map((option) => option.run(input));
    const ok = results.find((result) => result.problems.length === 0);
    if (ok !== undefined) return ok;
    const going = results.filter((result) => !stopped(result.problems));
    if (going.length === 1) return going[0]!;
    return {
      value: input,
      problems: [{ path: [], message: "Invalid input", input, showInput: true }],
    };
  });
}

function prefixed(key: string | number, problems: readonly Problem[]): Problem[] {
  return problems.map((problem) => ({ ...problem, path: [key, ...problem.path] }));
}

/** An array of `item`s, then the length checks; an array past its cap is not read further. */
export function array<T>(item: Schema<T>, ...checks: Check[]): Schema<T[]> {
  const caps = checks.filter((check) => "maximum" in check) as (Check & { maximum: number })[];
  return schema((input) => {
    if (!Array.isArray(input)) {
      return runChecks({ value: input, problems: [wrongType("array", input)] }, checks);
    }
    for (const cap of caps) {
      if (input.length > cap.maximum) {
        const payload: Payload = { value: input, problems: [] };
        cap.check(payload);
        for (const problem of payload.problems) problem.go = false;
        return payload;
      }
    }
    const value: unknown[] = new Array(input.length);
    const problems: Problem[] = [];
    for (let i = 0; i < input.length; i++) {
      const result = item.run(input[i]);
      if (result.problems.length > 0) problems.push(...prefixed(i, result.problems));
      value[i] = result.value;
    }
    return runChecks({ value, problems }, checks);
  });
}

/** The validators of an object's fields, one for every field of `T`. */
export type Shape<T> = { readonly [K in keyof T]-?: Schema<unknown> };

/** An object validator that also names its fields. */
export interface ObjectSchema<T> extends Schema<T> {
  /** The fields, in order. */
  readonly keys: readonly string[];
}

/** Options of {@link object}. */
export interface ObjectOptions<T> {
  /** Refuse keys outside the shape (`has unknown keys ...`) instead of leaving them out. */
  strict?: boolean;
  /** A check of the whole, run when no field stopped it. */
  refine?: (value: T, problems: Problem[]) => void;
}

/**
 * An object with the fields of `shape`, read in its order. Unknown keys are left out of the
 * result (or refused, when strict).
 */
export function object<T>(shape: Shape<T>, options: ObjectOptions<T> = {}): ObjectSchema<T> {
  const keys = Object.keys(shape);
  const keySet = new Set(keys);
  const fields = keys.map((key) =>
    [key, (shape as Record<string, Schema<unknown>>)[key]!] as const
  );
  const base = schema<T>((input) => {
    if (input === null || typeof input !== "object" || Array.isArray(input)) {
      return { value: input, problems: [wrongType("object", input)] };
    }
    const source = input as Record<string, unknown>;
    const value: Record<string, unknown> = {};
    const problems: Problem[] = [];
    for (const [key, field] of fields) {
      if (key === "__proto__") continue;
      readField(field, field.run(source[key]), key, source, value, problems);
    }
    if (options.strict) {
      const unknownKeys: string[] = [];
      for (const key in source) if (!keySet.has(key)) unknownKeys.push(key);
      if (unknownKeys.length > 0) {
        const message = `has unknown keys ${unknownKeys.join(", ")}`;
        problems.push({ path: [], message, input, showInput: false, go: true });
      }
    }
    const refine = options.refine;
    if (refine !== undefined && !stopped(problems)) refine(value as T, problems);
    return { value, problems };
  });
  return { ...base, keys };
}

/** Puts one field's result into the object: absent, optional and defaulted keys as zod did. */
function readField(
  field: Schema<unknown>,
  result: Payload,
  key: string,
  input: Record<string, unknown>,
  out: Record<string, unknown>,
  problems: Problem[],
): void {
  const present = key in input;
  const { optin, optout } = field;
  if (!present && optout === "optional" && optin === "optional") return;
  if (result.problems.length > 0) {
    if (optin !== undefined && optout === "optional" && !present) return;
    problems.push(...prefixed(key, result.problems));
  }
  if (!present && optin === undefined) {
    if (result.problems.length === 0) {
      problems.push({ path: [key], message: "is required", input: undefined, showInput: false });
    }
    return;
  }
  if (result.value === undefined) {
    if (present || (optin === "defaulted" && optout !== "optional")) out[key] = undefined;
  } else {
    out[key] = result.value;
  }
}

/** A problem of the whole object, on one of its fields (for {@link ObjectOptions.refine}). */
export function fieldProblem(path: (string | number)[], message: string): Problem {
  return { path, message, input: undefined, showInput: false };
}

/** A plain object with string keys and any values, copied. */
export function record(): Schema<Record<string, unknown>> {
  return schema((input) => {
    if (!isPlainObject(input)) return { value: input, problems: [wrongType("record", input)] };
    const value: Record<string, unknown> = {};
    for (const key of Object.keys(input)) {
      if (key !== "__proto__") value[key] = input[key];
    }
    return { value, problems: [] };
  });
}

function isPlainObject(input: unknown): input is Record<string, unknown> {
  if (input === null || typeof input !== "object" || Array.isArray(input)) return false;
  const ctor = (input as { constructor?: unknown }).constructor;
  if (ctor === undefined || typeof ctor !== "function") return true;
  const proto: unknown = ctor.prototype;
  if (proto === null || typeof proto !== "object" || Array.isArray(proto)) return false;
  return Object.prototype.hasOwnProperty.call(proto, "isPrototypeOf");
}

/**
 * A value read by a hand-written reader that adds its own problems (`path` inside the value,
 * `reason` in full): the readers the risk process shares (`day_peak.ts`), the limits.
 */
export function read<T>(
  reader: (
    input: unknown,
    issues: { path: (string | number)[]; reason: string }[],
  ) => T | undefined,
): Schema<T> {
  return schema((input) => {
    const issues: { path: (string | number)[]; reason: string }[] = [];
    const value = reader(input, issues);
    const problems = issues.map((issue): Problem => ({
      path: [...issue.path],
      message: issue.reason,
      input,
      showInput: false,
    }));
    return { value: problems.length > 0 ? undefined : value, problems };
  });
}

/** `inner`, or `undefined` (an absent key stays absent). */
export function optional<T>(inner: Schema<T>): Schema<T | undefined> {
  return schema(
    (input) => input === undefined ? { value: undefined, problems: [] } : inner.run(input),
    {
      optin: "optional",
      optout: "optional",
    },
  );
}

/** `inner`, or `null`. */
export function nullable<T>(inner: Schema<T>): Schema<T | null> {
  return schema((input) => input === null ? { value: null, problems: [] } : inner.run(input), {
    optin: inner.optin,
    optout: inner.optout,
  });
}

/** `inner`, or `fallback()` for `undefined` (not checked). */
export function withDefault<T>(inner: Schema<T>, fallback: () => T): Schema<T> {
  return schema((input) => {
    if (input === undefined) return { value: fallback(), problems: [] };
    const result = inner.run(input);
    if (result.value === undefined) result.value = fallback();
    return result;
  }, { optin: "defaulted" });
}

/** `inner`, which reads `fallback()` in place of `undefined`. */
export function prefault<T>(inner: Schema<T>, fallback: () => unknown): Schema<T> {
  return schema((input) => inner.run(input === undefined ? fallback() : input), {
    optin: "defaulted",
  });
}

// ---- checks ----

/** A safe integer. */
export function int(): Check {
  return {
    check(payload) {
      const input = payload.value as number;
      if (!Number.isInteger(input)) {
        payload.problems.push({
          path: [],
          message: "must be an integer",
          input,
          showInput: true,
          go: false,
        });
      } else if (!Number.isSafeInteger(input)) {
        const message = input > 0
          ? `must be at most ${Number.MAX_SAFE_INTEGER}`
          : `must be at least ${Number.MIN_SAFE_INTEGER}`;
        payload.problems.push({ path: [], message, input, showInput: true, go: true });
      }
    },
  };
}

function compare(ok: (value: number) => boolean, message: string): Check {
  return {
    check(payload) {
      if (ok(payload.value as number)) return;
      payload.problems.push({ path: [], message, input: payload.value, showInput: true, go: true });
    },
  };
}

/** `>= minimum`. */
export function atLeast(minimum: number): Check {
  return compare((value) => value >= minimum, `must be at least ${minimum}`);
}

/** `> minimum`. */
export function moreThan(minimum: number): Check {
  return compare((value) => value > minimum, `must be more than ${minimum}`);
}

/** `<= maximum`. */
export function atMost(maximum: number): Check {
  return compare((value) => value <= maximum, `must be at most ${maximum}`);
}

/** `< maximum`. */
export function lessThan(maximum: number): Check {
  return compare((value) => value < maximum, `must be less than ${maximum}`);
}

function hasLength(value: unknown): boolean {
  return value !== null && value !== undefined &&
    (value as { length?: unknown }).length !== undefined;
}

/** The unit a length is counted in, as the message says it. */
function lengthUnit(value: unknown): string {
  if (Array.isArray(value)) return " items";
  return typeof value === "string" ? " characters" : "";
}

/**
 * Strings are measured in code points, arrays in items. A code point is one or two UTF-16 units,
 * so only a string between `bound` and twice `bound` units long needs counting.
 */
function lengthOf(value: { length: number }, bound: number): number {
  const units = value.length;
  if (typeof value !== "string" || units < bound || units >= 2 * bound) return units;
  let count = 0;
  for (const _ of value) count++;
  return count;
}

/** At least `minimum` characters or items; runs on anything with a length. */
export function minLength(minimum: number, message?: string): Check {
  return {
    when: hasLength,
    check(payload) {
      const value = payload.value as { length: number };
      if (lengthOf(value, minimum) >= minimum) return;
      payload.problems.push({
        path: [],
        message: message ?? `must be at least ${minimum}${lengthUnit(value)}`,
        input: value,
        showInput: true,
        go: true,
      });
    },
  };
}

/** At most `maximum` characters or items; runs on anything with a length. */
export function maxLength(maximum: number): Check & { maximum: number } {
  return {
    maximum,
    when: hasLength,
    check(payload) {
      const value = payload.value as { length: number };
      if (lengthOf(value, maximum + 1) <= maximum) return;
      payload.problems.push({
        path: [],
        message: `must be at most ${maximum}${lengthUnit(value)}`,
        input: value,
        showInput: true,
        go: true,
      });
    },
  };
}

/** Matches `pattern`. */
export function matches(pattern: RegExp, message: string): Check {
  return {
    check(payload) {
      if (pattern.test(payload.value as string)) return;
      payload.problems.push({ path: [], message, input: payload.value, showInput: true, go: true });
    },
  };
}

/** Passes `test`; the message names no value. */
export function satisfies(test: (value: string) => boolean, message: string): Check {
  return {
    check(payload) {
      if (test(payload.value as string)) return;
      payload.problems.push({
        path: [],
        message,
        input: payload.value,
        showInput: false,
        go: true,
      });
    },
  };
}

/** Trims the string (the checks after it see the trimmed value). */
export function trim(): Check {
  return {
    check(payload) {
      payload.value = (payload.value as string).trim();
    },
  };
}
