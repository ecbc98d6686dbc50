/**
 * The risk engine's persisted state: the trading day (`day` of an element) and the high-water
 * marks (`peak`), also kept in a risk process's local journal. Their readers stand apart from the
 * document schemas, so that a risk process can check its journal without loading the schemas;
 * the element schema (`schemas.ts`) wraps these same readers, so both check alike.
 *
 * @module
 */
import { describeValue, isCount, isNumber, isRecord } from "../shared/validation.ts";

/**
 * Persisted daily baseline (owned by the risk engine; stored as given). The same shape as the
 * rules' `DayState` (src/rules/rule.ts, where the fields are explained): the risk process passes
 * one for the other both ways, so the compiler keeps them equal; the store imports nothing from
 * the rules.
 */
export interface DayState {
  /** The trading day, `YYYY-MM-DD`. */
  date: string;
  start_balance: number;
  start_equity: number;
  high_equity: number;
  baseline: number;
  ops_seen?: number | undefined;
  /** `YYYY-MM-DD`. */
  ops_date?: string | undefined;
  /** Once-a-day notifications already delivered this day (`rule|key`): not sent again. */
  notified?: string[] | undefined;
}

/** Persisted high-water marks (owned by the risk engine; the rules' `PeakState`). */
export interface PeakState {
  initial_balance: number;
  high_balance: number;
  high_equity: number;
  /** UTC epoch ms: an integer >= 0. */
  since: number;
}

/** Why a stored value is refused: where inside it, and why in the store's words. */
export interface StateIssue {
  /** Path inside the value (`[]` for the value itself). */
  path: (string | number)[];
  /** E.g. `must be a number, got the string "x"`, or `is required`. */
  reason: string;
}

/** Most once-a-day notifications remembered per day, and the longest key of one. */
const MAX_NOTIFIED = 1_000;
const MAX_NOTIFIED_LENGTH = 500;
const DATE = /^\d{4}-\d{2}-\d{2}$/;

/** Reads a day state; `undefined` after adding every problem to `issues`. */
export function readDayState(raw: unknown, issues: StateIssue[]): DayState | undefined {
  if (!isRecord(raw)) return refuse(issues, [], "an object", raw);
  const count = issues.length;
  const date = dateAt(raw.date, ["date"], issues);
  const start_balance = numberAt(raw.start_balance, ["start_balance"], issues);
  const start_equity = numberAt(raw.start_equity, ["start_equity"], issues);
  const high_equity = numberAt(raw.high_equity, ["high_equity"], issues);
  const baseline = numberAt(raw.baseline, ["baseline"], issues);
  const { ops_seen, ops_date, notified } = raw;
  if (ops_seen !== undefined) numberAt(ops_seen, ["ops_seen"], issues);
  if (ops_date !== undefined) dateAt(ops_date, ["ops_date"], issues);
  if (notified !== undefined) notifiedAt(notified, issues);
  if (issues.length > count) return undefined;
  const day: DayState = {
    date: date!,
    start_balance: start_balance!,
    start_equity: start_equity!,
    high_equity: high_equity!,
    baseline: baseline!,
  };
  if ("ops_seen" in raw) day.ops_seen = ops_seen as number | undefined;
  if ("ops_date" in raw) day.ops_date = ops_date as string | undefined;
  if ("notified" in raw) {
    day.notified = notified === undefined ? undefined : [...notified as string[]];
  }
  return day;
}

/** Reads the high-water marks; `undefined` after adding every problem to `issues`. */
export function readPeakState(raw: unknown, issues: StateIssue[]): PeakState | undefined {
  if (!isRecord(raw)) return refuse(issues, [], "an object", raw);
  const initial_balance = numberAt(raw.initial_balance, ["initial_balance"], issues);
  const high_balance = numberAt(raw.high_balance, ["high_balance"], issues);
  const high_equity = numberAt(raw.high_equity, ["high_equity"], issues);
  const since = countAt(raw.since, ["since"], issues);
  if (
    initial_balance === undefined || high_balance === undefined || high_equity === undefined ||
    since === undefined
  ) {
    return undefined;
  }
  return { initial_balance, high_balance, high_equity, since };
}

function refuse(
  issues: StateIssue[],
  path: (string | number)[],
  expected: string,
  value: unknown,
): undefined {
  const reason = value === undefined
    ? "is required"
    : `must be ${expected}, got ${describeValue(value)}`;
  issues.push({ path, reason });
  return undefined;
}

function numberAt(raw: unknown, path: string[], issues: StateIssue[]): number | undefined {
  return isNumber(raw) ? raw : refuse(issues, path, "a number", raw);
}

function countAt(raw: unknown, path: string[], issues: StateIssue[]): number | undefined {
  return isCount(raw) ? raw : refuse(issues, path, "an integer >= 0", raw);
}

function dateAt(raw: unknown, path: string[], issues: StateIssue[]): string | undefined {
  if (typeof raw !== "string") return refuse(issues, path, "a string", raw);
  if (DATE.test(raw)) return raw;
  return refuse(issues, path, 'a date "YYYY-MM-DD"', raw);
}

function notifiedAt(raw: unknown, issues: StateIssue[]): void {
  if (!Array.isArray(raw)) return void refuse(issues, ["notified"], "an array", raw);
  for (const [index, key] of raw.entries()) {
    if (typeof key !== "string") refuse(issues, ["notified", index], "a string", key);
    else if (key.length > MAX_NOTIFIED_LENGTH) {
      refuse(issues, ["notified", index], `at most ${MAX_NOTIFIED_LENGTH} characters`, key);
    }
  }
  if (raw.length > MAX_NOTIFIED) {
    refuse(issues, ["notified"], `at most ${MAX_NOTIFIED} items`, raw);
  }
}
