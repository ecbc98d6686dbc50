/**
 * The schemas of the stored documents (`elements`, `instances`, `events`, `samples`,
 * `agent_state`), one per document, and the parsing of an element into a typed result that never
 * throws. Built from the store's own small blocks (`_check.ts`), not a schema library: admin and
 * the dashboard load this file, and a library costs a process megabytes.
 *
 * Documents are plain JSON-compatible objects with snake_case fields. Ids are strings (`_id`);
 * times are epoch milliseconds. `docs/data-model.md` is the full reference.
 *
 * @module
 */
import { isRecord, kindOf } from "../shared/validation.ts";
import type { DailyBaseline, DrawdownMode } from "../shared/risk_modes.ts";
import {
  DAILY_BASELINES,
  DRAWDOWN_MODES,
  ELEMENT_STATUSES,
  type ElementStatus,
  FLATTEN_TARGETS,
  type FlattenTarget,
  INSTANCE_STATUSES,
  type InstanceStatus,
  MAX_LISTED_TRADES,
  TRADING_STATES,
  type TradingState,
} from "./document_values.ts";
import { type DayState, type PeakState, readDayState, readPeakState } from "./day_peak.ts";
import {
  array,
  atLeast,
  atMost,
  boolean,
  type FieldIssue,
  fieldProblem,
  int,
  lessThan,
  matches,
  maxLength,
  minLength,
  moreThan,
  nullable,
  number,
  numberOrString,
  object,
  oneOf,
  optional,
  prefault,
  read,
  record,
  satisfies,
  type Schema,
  string,
  trim,
  unknown,
  withDefault,
} from "./_check.ts";

export * from "./document_values.ts";
export type { DayState, PeakState } from "./day_peak.ts";
export type { FieldIssue, ObjectSchema, Parsed, Schema } from "./_check.ts";
export { isRecord };

/** A parsed limit: money in the account currency, or a percent (0 < value <= 100). */
export interface Limit {
  /** `money`: an amount in the account currency; `percent`: a share of a baseline. */
  kind: "money" | "percent";
  /** The amount, or the percent (5 for "5%"). */
  value: number;
}

const PERCENT = /^\s*([0-9]+(?:\.[0-9]+)?)\s*%\s*$/;
const HHMM = /^([01][0-9]|2[0-3]):[0-5][0-9]$/;

/** Parses a raw limit (`250` or `"5%"`) into a {@link Limit}; `undefined` when invalid. */
export function parseLimit(raw: unknown): Limit | undefined {
  if (typeof raw === "number") {
    return Number.isFinite(raw) && raw > 0 ? { kind: "money", value: raw } : undefined;
  }
  if (typeof raw === "string") {
    const match = PERCENT.exec(raw);
    if (match === null) return undefined;
    const value = Number(match[1]);
    return value > 0 && value <= 100 ? { kind: "percent", value } : undefined;
  }
  return undefined;
}

/** Money (a positive number) or a percent string `"N%"` with 0 < N <= 100. */
const limitSchema: Schema<Limit> = read((raw, issues) => {
  const limit = parseLimit(raw);
  if (limit === undefined) issues.push({ path: [], reason: describeBadLimit(raw) });
  return limit;
});

function describeBadLimit(raw: unknown): string {
  if (typeof raw === "number") {
    return `must be a positive amount of money, got ${raw}`;
  }
  if (typeof raw === "string") {
    const match = PERCENT.exec(raw);
    if (match !== null) return `percent must be more than 0 and at most 100, got "${raw}"`;
    if (raw.trim() !== "" && Number.isFinite(Number(raw))) {
      return `must be a number (money) or a percent like "5%", got the string "${raw}"`;
    }
    return `must be a number (money) or a percent like "5%", got "${raw}"`;
  }
  if (raw === undefined) return "is required";
  return `must be a number (money) or a percent like "5%", got ${
    raw === null ? "null" : Array.isArray(raw) ? "an array" : typeof raw
  }`;
}

/** True when `name` is an IANA time zone known to this runtime. */
export function isIanaTimeZone(name: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: name });
    return true;
  } catch {
    return false;
  }
}

const hhmm = () => string(matches(HHMM, 'must be a time "HH:MM" (00:00 to 23:59)'));
const timezone = () =>
  string(satisfies(
    (value) => value === "server" || isIanaTimeZone(value),
    'must be "server" or an IANA time zone like "Europe/Berlin"',
  ));
/** `"server"` when absent. */
const serverTimezone = () => withDefault(timezone(), () => "server");
const positive = () => number(moreThan(0));
const epochMs = () => number();
const count = () => number(int(), atLeast(0));
const weekday = () => number(int(), atLeast(1), atMost(7));
const nonEmpty = () => string(minLength(1));
/** A trimmed string that is not empty once trimmed. */
const trimmedName = () => string(trim(), minLength(1, "must not be empty"));
/** `null` when absent. */
const orNull = <T>(inner: Schema<T>) => withDefault(nullable(inner), () => null);

/** Drawdown settings of an element. */
export type MaxDrawdown = {
  limit: Limit;
  mode: DrawdownMode;
  stop_at_initial?: boolean | undefined;
};

const maxDrawdownSchema = object<MaxDrawdown>({
  limit: limitSchema,
  mode: oneOf(DRAWDOWN_MODES),
  stop_at_initial: optional(boolean()),
});

/** Daily settings (after defaults): when the day resets, in which time zone, and its baseline. */
export type DailySettings = {
  /** `HH:MM`, default `00:00`. */
  reset: string;
  /** `server` (default) or an IANA time zone. */
  timezone: string;
  /** Default `balance`. */
  baseline: DailyBaseline;
};

const dailySchema = object<DailySettings>({
  reset: withDefault(hhmm(), () => "00:00"),
  timezone: serverTimezone(),
  baseline: withDefault(oneOf(DAILY_BASELINES), () => "balance" as const),
});

/** Allowed trading window. */
export type TradingHours = {
  start: string;
  end: string;
  timezone: string;
  /** ISO weekdays 1 (Monday) to 7. */
  days?: number[] | undefined;
};

const tradingHoursSchema = object<TradingHours>({
  start: hhmm(),
  end: hhmm(),
  timezone: serverTimezone(),
  days: optional(array(weekday(), minLength(1))),
});

/** Flatten positions before the weekend. */
export type CloseBeforeWeekend = {
  /** ISO weekday, default 5 (Friday). */
  day: number;
  time: string;
  timezone: string;
};

const closeBeforeWeekendSchema = object<CloseBeforeWeekend>({
  day: withDefault(weekday(), () => 5),
  time: hhmm(),
  timezone: serverTimezone(),
});

/** A plugin rule reference. */
export type RuleRef = {
  module: string;
  options?: Record<string, unknown> | undefined;
};

const ruleRefSchema = object<RuleRef>({
  module: nonEmpty(),
  options: optional(record()),
});

/**
 * Persisted daily baseline, read by the hand-written reader of `day_peak.ts` that the risk
 * journal uses too: one definition of a valid day and peak state.
 */
export const dayStateSchema: Schema<DayState> = read(readDayState);

/** Persisted high-water marks (owned by the risk engine; stored as given). */
export const peakStateSchema: Schema<PeakState> = read(readPeakState);

const ticket = () => number(int(), atLeast(0));
const price = () => number(atLeast(0));

/** One open position as listed in `metrics.open_positions` (what the dashboard shows). */
export type ListedPosition = {
  ticket: number;
  symbol: string;
  side: "buy" | "sell";
  volume: number;
  open_price: number;
  /** Stop loss price, 0 when none (MT5's convention). */
  sl: number;
  /** Take profit price, 0 when none. */
  tp: number;
  /** Floating profit plus swap, in the account currency. */
  profit: number;
};

const listedPositionSchema = object<ListedPosition>({
  ticket: ticket(),
  symbol: nonEmpty(),
  side: oneOf(["buy", "sell"]),
  volume: price(),
  open_price: price(),
  sl: price(),
  tp: price(),
  profit: number(),
});

/** One pending order as listed in `metrics.pending_orders`. */
export type ListedOrder = {
  ticket: number;
  symbol: string;
  type:
    | "buy_limit"
    | "sell_limit"
    | "buy_stop"
    | "sell_stop"
    | "buy_stop_limit"
    | "sell_stop_limit";
  volume: number;
  /** The order's price. */
  price: number;
  sl: number;
  tp: number;
};

const listedOrderSchema = object<ListedOrder>({
  ticket: ticket(),
  symbol: nonEmpty(),
  type: oneOf([
    "buy_limit",
    "sell_limit",
    "buy_stop",
    "sell_stop",
    "buy_stop_limit",
    "sell_stop_limit",
  ]),
  volume: price(),
  price: price(),
  sl: price(),
  tp: price(),
});

/** A capped list: the first {@link MAX_LISTED_TRADES} items and whether more were left out. */
export type CappedList<T> = {
  items: T[];
  truncated: boolean;
};

function cappedList<T>(item: Schema<T>) {
  return object<CappedList<T>>({
    items: array(item, maxLength(MAX_LISTED_TRADES)),
    truncated: boolean(),
  });
}

/** Last known account figures. */
export type Metrics = {
  balance: number;
  equity: number;
  daily_pl: number;
  positions: number;
  orders: number;
  updated_at: number;
  /** The open positions (absent in documents written before they were listed). */
  open_positions?: CappedList<ListedPosition> | undefined;
  /** The pending orders. */
  pending_orders?: CappedList<ListedOrder> | undefined;
  /**
   * The trade server's offset from UTC, ms (server time minus UTC, rounded to 15 minutes):
   * where the day of a `daily.timezone: "server"` account begins, for those who read the store.
   */
  server_offset?: number | undefined;
};

/** The schema of an element's `metrics`. */
export const metricsSchema = object<Metrics>({
  balance: number(),
  equity: number(),
  daily_pl: number(),
  positions: count(),
  orders: count(),
  updated_at: epochMs(),
  open_positions: optional(cappedList(listedPositionSchema)),
  pending_orders: optional(cappedList(listedOrderSchema)),
  server_offset: optional(number()),
});

/** Last error of an element (or of an instance). */
export type ElementError = {
  code: string;
  message: string;
  at: number;
};

/** The schema of an element's (or an instance's) `error`. */
export const elementErrorSchema = object<ElementError>({
  code: nonEmpty(),
  message: string(),
  at: epochMs(),
});

/** A parsed, valid element. Limits are parsed into {@link Limit}; defaults are filled in. */
export type Element = {
  _id: string;
  name?: string | undefined;
  /** Trimmed. */
  server: string;
  login: number;
  password?: string | undefined;
  password_enc?: string | undefined;
  max_daily_loss?: Limit | undefined;
  max_position_risk?: Limit | undefined;
  max_profit?: Limit | undefined;
  max_drawdown?: MaxDrawdown | undefined;
  daily: DailySettings;
  /** Share of a limit at which a warning is sent, default 0.8. */
  warn_at: number;
  require_stop_loss: boolean;
  position_risk_action: "close" | "notify";
  max_open_positions?: number | undefined;
  max_total_lots?: number | undefined;
  max_lots_per_symbol?: number | undefined;
  trading_hours?: TradingHours | undefined;
  close_before_weekend?: CloseBeforeWeekend | undefined;
  rules: RuleRef[];
  initial_balance?: number | undefined;
  /** Only the admin of this host may claim the element (absent: any host with a FREE instance). */
  pin_host?: string | undefined;
  status: ElementStatus;
  trading: TradingState;
  lock_reason: string | null;
  locked_until: number | null;
  /** When a person last unlocked the account (`configureElement` with `trading: "ALLOWED"`). */
  unlocked_at: number | null;
  /**
   * The `unlocked_at` a risk process saw take effect on the EA (managed): a person's unlock
   * later than this one is still owed to the EA; without one, an EA lock is kept, not undone.
   */
  unlock_applied_at: number | null;
  /**
   * Account-wide closes still being enforced with the lock (managed): a restarted risk process
   * takes them up again instead of forgetting to flatten.
   */
  flatten_pending: FlattenTarget[];
  host: string | null;
  instance_id: string | null;
  lease: number;
  leased_at: number | null;
  /**
   * The id its holder gave the take of this lease (managed): a take made again with the same id
   * (its answer was lost) gets this lease instead of being refused as held.
   */
  take_id: string | null;
  last_ping: number | null;
  day: DayState | null;
  peak: PeakState | null;
  metrics: Metrics | null;
  error: ElementError | null;
  created_at?: number | undefined;
  updated_at?: number | undefined;
};

/**
 * The schema of an `elements` document (after id/date normalization). A password is required,
 * in clear or encrypted; it is checked once every field has its type.
 */
export const elementSchema = object<Element>({
  _id: nonEmpty(),
  name: optional(string()),
  server: trimmedName(),
  login: number(int(), moreThan(0)),
  password: optional(nonEmpty()),
  password_enc: optional(nonEmpty()),
  max_daily_loss: optional(limitSchema),
  max_position_risk: optional(limitSchema),
  max_profit: optional(limitSchema),
  max_drawdown: optional(maxDrawdownSchema),
  daily: prefault(dailySchema, () => ({})),
  warn_at: withDefault(number(moreThan(0), lessThan(1)), () => 0.8),
  require_stop_loss: withDefault(boolean(), () => false),
  position_risk_action: withDefault(oneOf(["close", "notify"]), () => "close" as const),
  max_open_positions: optional(number(int(), moreThan(0))),
  max_total_lots: optional(positive()),
  max_lots_per_symbol: optional(positive()),
  trading_hours: optional(tradingHoursSchema),
  close_before_weekend: optional(closeBeforeWeekendSchema),
  rules: withDefault(array(ruleRefSchema), () => []),
  initial_balance: optional(positive()),
  pin_host: optional(trimmedName()),
  status: withDefault(oneOf(ELEMENT_STATUSES), () => "PENDING" as const),
  trading: withDefault(oneOf(TRADING_STATES), () => "ALLOWED" as const),
  lock_reason: orNull(string()),
  locked_until: orNull(epochMs()),
  unlocked_at: orNull(epochMs()),
  unlock_applied_at: orNull(epochMs()),
  flatten_pending: withDefault(array(oneOf(FLATTEN_TARGETS)), () => []),
  host: orNull(string()),
  instance_id: orNull(string()),
  lease: withDefault(count(), () => 0),
  leased_at: orNull(epochMs()),
  take_id: orNull(string()),
  last_ping: orNull(epochMs()),
  day: orNull(dayStateSchema),
  peak: orNull(peakStateSchema),
  metrics: orNull(metricsSchema),
  error: orNull(elementErrorSchema),
  created_at: optional(epochMs()),
  updated_at: optional(epochMs()),
}, {
  refine(element, problems) {
    if (element.password === undefined && element.password_enc === undefined) {
      problems.push(fieldProblem(["password"], "is required (password or password_enc)"));
    }
  },
});

/** A chart symbol as MT5 names it: no spaces, no `=` (it goes into the startup ini). */
const CHART_SYMBOL = /^[^\s=]{1,64}$/;

/** A parsed instance (MT5 terminal folder on one host). */
export type Instance = {
  _id: string;
  path: string;
  host: string;
  port: number;
  /** Chart symbol the EA is attached to at startup (default EURUSD): brokers name it EURUSD.m. */
  symbol?: string | undefined;
  status: InstanceStatus;
  element_id: string | null;
  lease: number | null;
  last_ping: number | null;
  pid: number | null;
  /** Why an `UNUSABLE` instance cannot run a terminal (set by admin). */
  error: ElementError | null;
  created_at?: number | undefined;
};

/** The schema of an `instances` document. */
export const instanceSchema = object<Instance>({
  _id: nonEmpty(),
  path: nonEmpty(),
  host: nonEmpty(),
  port: number(int(), atLeast(1), atMost(65_534)),
  symbol: optional(string(matches(CHART_SYMBOL, "must be a symbol name without spaces"))),
  status: withDefault(oneOf(INSTANCE_STATUSES), () => "FREE" as const),
  element_id: orNull(string()),
  lease: orNull(count()),
  last_ping: orNull(epochMs()),
  pid: orNull(number(int(), moreThan(0))),
  error: orNull(elementErrorSchema),
  created_at: optional(epochMs()),
});

/** One audit-trail record. */
export type EventRecord = {
  _id: string;
  element_id: string;
  at: number;
  type: string;
  server_time: number | string | null;
  rule: string | null;
  message: string;
  detail: Record<string, unknown>;
  host: string | null;
};

/** The event fields after its id and time, with their defaults. */
const eventFields = {
  type: nonEmpty(),
  server_time: orNull(numberOrString()),
  rule: orNull(string()),
  message: withDefault(string(), () => ""),
  detail: withDefault(record(), () => ({})),
  host: orNull(string()),
};

/** The schema of an `events` document. */
export const eventSchema = object<EventRecord>({
  _id: nonEmpty(),
  element_id: nonEmpty(),
  at: epochMs(),
  ...eventFields,
});

/** Input of {@link Store.appendEvent}: an event without its id (and `at` optional). */
export type NewEvent = {
  element_id: string;
  at?: number | undefined;
  type: string;
  server_time?: number | string | null | undefined;
  rule?: string | null | undefined;
  message?: string | undefined;
  detail?: Record<string, unknown> | undefined;
  host?: string | null | undefined;
};

/** What {@link Store.appendEvent} takes (its output has the defaults filled in). */
export const newEventSchema = object<NewEvent>({
  element_id: nonEmpty(),
  at: optional(epochMs()),
  ...eventFields,
});

/** One point of an element's equity history (for the dashboard's curves). */
export type Sample = {
  element_id: string;
  at: number;
  balance: number;
  equity: number;
  daily_pl: number;
  positions: number;
};

/** The schema of a `samples` document: one point of an element's equity curve. */
export const sampleSchema = object<Sample>({
  element_id: nonEmpty(),
  at: epochMs(),
  balance: number(),
  equity: number(),
  daily_pl: number(),
  positions: count(),
});

/** Durable state of one admin host's change feed. */
export type AgentState = {
  _id: string;
  /** Required as a key; any value. */
  resume_token: unknown;
  updated_at: number;
};

/** The schema of an `agent_state` document: one per admin host (its `_id`). */
export const agentStateSchema = object<AgentState>({
  _id: nonEmpty(),
  resume_token: unknown(),
  updated_at: epochMs(),
});

/** An admin host's heartbeat, stored in `agent_state` as `agent:<host>`. */
export type AgentHeartbeat = {
  host: string;
  /** One id per admin run: a restart is another run. */
  run_id: string;
  pid: number;
  /** The machine's own name (the host name may differ). */
  machine: string;
  version: string;
  started_at: number;
  last_seen: number;
  children: number;
  instances_free: number;
  instances_total: number;
  /** Set by a clean shutdown. */
  stopped_at: number | null;
};

/** The schema of an admin's heartbeat. */
export const agentHeartbeatSchema = object<AgentHeartbeat>({
  host: nonEmpty(),
  run_id: nonEmpty(),
  pid: number(int()),
  machine: string(),
  version: string(),
  started_at: epochMs(),
  last_seen: epochMs(),
  children: count(),
  instances_free: count(),
  instances_total: count(),
  stopped_at: orNull(epochMs()),
});

/** A valid element read from the store. */
export interface ValidElement {
  /** Always `true`. */
  valid: true;
  /** The element id. */
  id: string;
  /** The parsed element. */
  element: Element;
}

/** An element document that does not match the schema. Nothing is thrown for it. */
export interface InvalidElement {
  /** Always `false`. */
  valid: false;
  /** The element id (`""` when the document has none). */
  id: string;
  /** The first wrong field. */
  field: string;
  /** Why it is wrong. */
  reason: string;
  /** Every issue found. */
  issues: FieldIssue[];
  /** The raw document (normalized ids/dates), for status fields and diagnostics. */
  raw: Record<string, unknown>;
}

/** The result of parsing an element document. */
export type ParsedElement = ValidElement | InvalidElement;

/** Parses an element document; never throws. */
export function parseElement(raw: unknown): ParsedElement {
  const doc = isRecord(raw) ? raw : {};
  const id = typeof doc._id === "string" ? doc._id : "";
  if (!isRecord(raw)) {
    const issue = { field: "(document)", reason: `must be an object, got ${kindOf(raw)}` };
    return { valid: false, id, ...issue, issues: [issue], raw: {} };
  }
  let result;
  try {
    result = elementSchema.parse(raw);
  } catch (error) {
    const issue = { field: "(document)", reason: `cannot be parsed: ${String(error)}` };
    return { valid: false, id, ...issue, issues: [issue], raw: doc };
  }
  if (result.ok) return { valid: true, id: result.value._id, element: result.value };
  const issues = result.issues;
  const first = issues[0] ?? { field: "(document)", reason: "is invalid" };
  return { valid: false, id, field: first.field, reason: first.reason, issues, raw: doc };
}

/** Parses an instance document; returns `undefined` with issues when invalid. */
export function parseInstance(
  raw: unknown,
): { ok: true; instance: Instance } | { ok: false; issues: FieldIssue[] } {
  const result = instanceSchema.parse(raw);
  return result.ok ? { ok: true, instance: result.value } : result;
}
