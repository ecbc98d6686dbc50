/**
 * zod schemas of the stored documents (`elements`, `instances`, `events`, `samples`,
 * `agent_state`) and the parsing of an element into a typed result that never throws.
 *
 * Documents are plain JSON-compatible objects with snake_case fields. Ids are strings (`_id`);
 * times are epoch milliseconds. `docs/data-model.md` is the full reference.
 *
 * @module
 */
import { z } from "zod";
import { isSecretField } from "../../src/shared/secrets.ts";
import { describeValue, isRecord, kindOf } from "../../src/shared/validation.ts";
import {
  DAILY_BASELINES,
  DRAWDOWN_MODES,
  ELEMENT_STATUSES,
  FLATTEN_TARGETS,
  INSTANCE_STATUSES,
  MAX_LISTED_TRADES,
  TRADING_STATES,
} from "../../src/store/document_values.ts";
import { readDayState, readPeakState, type StateIssue } from "../../src/store/day_peak.ts";

export * from "../../src/store/document_values.ts";
export type { DayState, PeakState } from "../../src/store/day_peak.ts";
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
export const limitSchema: z.ZodType<Limit, unknown> = z.unknown().transform((raw, ctx) => {
  const limit = parseLimit(raw);
  if (limit !== undefined) return limit;
  ctx.addIssue({ code: "custom", message: describeBadLimit(raw) });
  return z.NEVER;
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

const hhmmSchema = z.string().regex(HHMM, 'must be a time "HH:MM" (00:00 to 23:59)');
const timezoneSchema = z.string().refine(
  (value) => value === "server" || isIanaTimeZone(value),
  { message: 'must be "server" or an IANA time zone like "Europe/Berlin"' },
);
const positive = z.number().positive();
const epochMs = z.number().finite();

/** Drawdown settings of an element. */
export const maxDrawdownSchema = z.object({
  limit: limitSchema,
  mode: z.enum(DRAWDOWN_MODES),
  stop_at_initial: z.boolean().optional(),
});

/** Daily settings: when the day resets, in which time zone, and its baseline. */
export const dailySchema = z.object({
  reset: hhmmSchema.default("00:00"),
  timezone: timezoneSchema.default("server"),
  baseline: z.enum(DAILY_BASELINES).default("balance"),
});

/** Allowed trading window. */
export const tradingHoursSchema = z.object({
  start: hhmmSchema,
  end: hhmmSchema,
  timezone: timezoneSchema.default("server"),
  days: z.array(z.number().int().min(1).max(7)).min(1).optional(),
});

/** Flatten positions before the weekend. */
export const closeBeforeWeekendSchema = z.object({
  day: z.number().int().min(1).max(7).default(5),
  time: hhmmSchema,
  timezone: timezoneSchema.default("server"),
});

/** A plugin rule reference. */
export const ruleRefSchema = z.object({
  module: z.string().min(1),
  options: z.record(z.string(), z.unknown()).optional(),
});

/**
 * A schema that reads with a hand-written reader of `day_peak.ts`, which the risk journal uses
 * too: one definition of a valid day and peak state.
 */
function handReadSchema<T>(
  read: (raw: unknown, issues: StateIssue[]) => T | undefined,
): z.ZodType<T, unknown> {
  return z.unknown().transform((raw, ctx) => {
    const issues: StateIssue[] = [];
    const value = read(raw, issues);
    for (const issue of issues) {
      ctx.addIssue({ code: "custom", path: issue.path, message: issue.reason, input: raw });
    }
    return value === undefined || issues.length > 0 ? z.NEVER : value;
  });
}

/** Persisted daily baseline (owned by the risk engine; stored as given). */
export const dayStateSchema = handReadSchema(readDayState);

/** Persisted high-water marks (owned by the risk engine; stored as given). */
export const peakStateSchema = handReadSchema(readPeakState);

const ticketSchema = z.number().int().min(0);
const symbolNameSchema = z.string().min(1);

/** One open position as listed in `metrics.open_positions` (what the dashboard shows). */
export const listedPositionSchema = z.object({
  ticket: ticketSchema,
  symbol: symbolNameSchema,
  side: z.enum(["buy", "sell"]),
  volume: z.number().min(0),
  open_price: z.number().min(0),
  /** Stop loss price, 0 when none (MT5's convention). */
  sl: z.number().min(0),
  /** Take profit price, 0 when none. */
  tp: z.number().min(0),
  /** Floating profit plus swap, in the account currency. */
  profit: z.number(),
});

/** One pending order as listed in `metrics.pending_orders`. */
export const listedOrderSchema = z.object({
  ticket: ticketSchema,
  symbol: symbolNameSchema,
  type: z.enum([
    "buy_limit",
    "sell_limit",
    "buy_stop",
    "sell_stop",
    "buy_stop_limit",
    "sell_stop_limit",
  ]),
  volume: z.number().min(0),
  /** The order's price. */
  price: z.number().min(0),
  sl: z.number().min(0),
  tp: z.number().min(0),
});

/** A capped list: the first {@link MAX_LISTED_TRADES} items and whether more were left out. */
function cappedList<T extends z.ZodType>(item: T) {
  return z.object({ items: z.array(item).max(MAX_LISTED_TRADES), truncated: z.boolean() });
}

/** Last known account figures. */
export const metricsSchema = z.object({
  balance: z.number(),
  equity: z.number(),
  daily_pl: z.number(),
  positions: z.number().int().min(0),
  orders: z.number().int().min(0),
  updated_at: epochMs,
  /** The open positions (absent in documents written before they were listed). */
  open_positions: cappedList(listedPositionSchema).optional(),
  /** The pending orders. */
  pending_orders: cappedList(listedOrderSchema).optional(),
  /**
   * The trade server's offset from UTC, ms (server time minus UTC, rounded to 15 minutes):
   * where the day of a `daily.timezone: "server"` account begins, for those who read the store.
   */
  server_offset: z.number().finite().optional(),
});

/** Last error of an element. */
export const elementErrorSchema = z.object({
  code: z.string().min(1),
  message: z.string(),
  at: epochMs,
});

/** The schema of an `elements` document (after id/date normalization). */
export const elementSchema = z.object({
  _id: z.string().min(1),
  name: z.string().optional(),
  server: z.string().trim().min(1, "must not be empty"),
  login: z.number().int().positive(),
  password: z.string().min(1).optional(),
  password_enc: z.string().min(1).optional(),
  max_daily_loss: limitSchema.optional(),
  max_position_risk: limitSchema.optional(),
  max_profit: limitSchema.optional(),
  max_drawdown: maxDrawdownSchema.optional(),
  daily: dailySchema.prefault({}),
  warn_at: z.number().gt(0).lt(1).default(0.8),
  require_stop_loss: z.boolean().default(false),
  position_risk_action: z.enum(["close", "notify"]).default("close"),
  max_open_positions: z.number().int().positive().optional(),
  max_total_lots: positive.optional(),
  max_lots_per_symbol: positive.optional(),
  trading_hours: tradingHoursSchema.optional(),
  close_before_weekend: closeBeforeWeekendSchema.optional(),
  rules: z.array(ruleRefSchema).default([]),
  initial_balance: positive.optional(),
  /** Only the admin of this host may claim the element (absent: any host with a FREE instance). */
  pin_host: z.string().trim().min(1, "must not be empty").optional(),
  status: z.enum(ELEMENT_STATUSES).default("PENDING"),
  trading: z.enum(TRADING_STATES).default("ALLOWED"),
  lock_reason: z.string().nullable().default(null),
  locked_until: epochMs.nullable().default(null),
  /** When a person last unlocked the account (`configureElement` with `trading: "ALLOWED"`). */
  unlocked_at: epochMs.nullable().default(null),
  /**
   * The `unlocked_at` a risk process saw take effect on the EA (managed): a person's unlock
   * later than this one is still owed to the EA; without one, an EA lock is kept, not undone.
   */
  unlock_applied_at: epochMs.nullable().default(null),
  /**
   * Account-wide closes still being enforced with the lock (managed): a restarted risk process
   * takes them up again instead of forgetting to flatten.
   */
  flatten_pending: z.array(z.enum(FLATTEN_TARGETS)).default([]),
  host: z.string().nullable().default(null),
  instance_id: z.string().nullable().default(null),
  lease: z.number().int().min(0).default(0),
  leased_at: epochMs.nullable().default(null),
  last_ping: epochMs.nullable().default(null),
  day: dayStateSchema.nullable().default(null),
  peak: peakStateSchema.nullable().default(null),
  metrics: metricsSchema.nullable().default(null),
  error: elementErrorSchema.nullable().default(null),
  created_at: epochMs.optional(),
  updated_at: epochMs.optional(),
}).check((ctx) => {
  const value = ctx.value;
  if (value.password === undefined && value.password_enc === undefined) {
    ctx.issues.push({
      code: "custom",
      path: ["password"],
      message: "is required (password or password_enc)",
      input: undefined,
    });
  }
});

/** A parsed, valid element. Limits are parsed into {@link Limit}; defaults are filled in. */
export type Element = z.output<typeof elementSchema>;

/** Daily settings after defaults. */
export type DailySettings = z.output<typeof dailySchema>;
/** Last known account figures. */
export type Metrics = z.output<typeof metricsSchema>;
/** One open position as listed in the metrics. */
export type ListedPosition = z.output<typeof listedPositionSchema>;
/** One pending order as listed in the metrics. */
export type ListedOrder = z.output<typeof listedOrderSchema>;
/** Last error of an element. */
export type ElementError = z.output<typeof elementErrorSchema>;
/** A plugin rule reference. */
export type RuleRef = z.output<typeof ruleRefSchema>;

/** A chart symbol as MT5 names it: no spaces, no `=` (it goes into the startup ini). */
const CHART_SYMBOL = /^[^\s=]{1,64}$/;

/** The schema of an `instances` document. */
export const instanceSchema = z.object({
  _id: z.string().min(1),
  path: z.string().min(1),
  host: z.string().min(1),
  port: z.number().int().min(1).max(65_534),
  /** Chart symbol the EA is attached to at startup (default EURUSD): brokers name it EURUSD.m. */
  symbol: z.string().regex(CHART_SYMBOL, "must be a symbol name without spaces").optional(),
  status: z.enum(INSTANCE_STATUSES).default("FREE"),
  element_id: z.string().nullable().default(null),
  lease: z.number().int().min(0).nullable().default(null),
  last_ping: epochMs.nullable().default(null),
  pid: z.number().int().positive().nullable().default(null),
  /** Why an `UNUSABLE` instance cannot run a terminal (set by admin). */
  error: elementErrorSchema.nullable().default(null),
  created_at: epochMs.optional(),
});

/** A parsed instance (MT5 terminal folder on one host). */
export type Instance = z.output<typeof instanceSchema>;

/** The schema of an `events` document. */
export const eventSchema = z.object({
  _id: z.string().min(1),
  element_id: z.string().min(1),
  at: epochMs,
  type: z.string().min(1),
  server_time: z.union([z.number(), z.string()]).nullable().default(null),
  rule: z.string().nullable().default(null),
  message: z.string().default(""),
  detail: z.record(z.string(), z.unknown()).default({}),
  host: z.string().nullable().default(null),
});

/** One audit-trail record. */
export type EventRecord = z.output<typeof eventSchema>;

/** What {@link Store.appendEvent} takes: an event without its id (and `at` optional). */
export const newEventSchema = eventSchema.omit({ _id: true }).extend({ at: epochMs.optional() });

/** Input of {@link Store.appendEvent}. */
export type NewEvent = z.input<typeof newEventSchema>;

/** The schema of a `samples` document: one point of an element's equity curve. */
export const sampleSchema = z.object({
  element_id: z.string().min(1),
  at: epochMs,
  balance: z.number().finite(),
  equity: z.number().finite(),
  daily_pl: z.number().finite(),
  positions: z.number().int().min(0),
});

/** One point of an element's equity history (for the dashboard's curves). */
export type Sample = z.output<typeof sampleSchema>;

/** The schema of an `agent_state` document: one per admin host (its `_id`). */
export const agentStateSchema = z.object({
  _id: z.string().min(1),
  resume_token: z.unknown(),
  updated_at: epochMs,
});

/** Durable state of one admin host's change feed. */
export type AgentState = z.output<typeof agentStateSchema>;

/** An admin's heartbeat, stored in `agent_state` as `agent:<host>`. */
export const agentHeartbeatSchema = z.object({
  host: z.string().min(1),
  /** One id per admin run: a restart is another run. */
  run_id: z.string().min(1),
  pid: z.number().int(),
  /** The machine's own name (the host name may differ). */
  machine: z.string(),
  version: z.string(),
  started_at: epochMs,
  last_seen: epochMs,
  children: z.number().int().min(0),
  instances_free: z.number().int().min(0),
  instances_total: z.number().int().min(0),
  /** Set by a clean shutdown. */
  stopped_at: epochMs.nullable().default(null),
});

/** An admin host's heartbeat. */
export type AgentHeartbeat = z.output<typeof agentHeartbeatSchema>;

/** One reason why a document is invalid. */
export interface FieldIssue {
  /** Dotted path of the field, e.g. `max_drawdown.limit` (`(document)` for the whole). */
  field: string;
  /** Why the value is wrong, with the value seen (never for secret fields). */
  reason: string;
}

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
    result = elementSchema.safeParse(raw, { reportInput: true });
  } catch (error) {
    const issue = { field: "(document)", reason: `cannot be parsed: ${String(error)}` };
    return { valid: false, id, ...issue, issues: [issue], raw: doc };
  }
  if (result.success) return { valid: true, id: result.data._id, element: result.data };
  const issues = describeIssues(result.error.issues);
  const first = issues[0] ?? { field: "(document)", reason: "is invalid" };
  return { valid: false, id, field: first.field, reason: first.reason, issues, raw: doc };
}

/** Turns zod issues into {@link FieldIssue}s; secret values are never shown. */
export function describeIssues(issues: readonly z.core.$ZodIssue[]): FieldIssue[] {
  return issues.map((issue) => {
    const field = issue.path.length === 0 ? "(document)" : issue.path.map(String).join(".");
    return { field, reason: describeIssue(issue) };
  });
}

function describeIssue(issue: z.core.$ZodIssue): string {
  const input = (issue as { input?: unknown }).input;
  const secret = issue.path.some((part) => typeof part === "string" && isSecretField(part));
  const seen = secret ? "" : `, got ${describeValue(input)}`;
  switch (issue.code) {
    case "invalid_type":
      if (input === undefined) return "is required";
      return `must be ${article(issue.expected)}${seen}`;
    case "invalid_value":
      return `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(", ")}${seen}`;
    case "too_small":
    case "too_big":
    case "invalid_format":
    case "not_multiple_of":
      return `${
        issue.message.replace(/^Too (small|big): expected \w+ to (have |be )?/, "must be ")
          .replace(/must be >=\s*/, "must be at least ").replace(
            /must be <=\s*/,
            "must be at most ",
          )
          .replace(/must be >\s*/, "must be more than ").replace(
            /must be <\s*/,
            "must be less than ",
          )
      }${seen}`;
    case "unrecognized_keys":
      return `has unknown keys ${issue.keys.join(", ")}`;
    case "custom":
      // Our own messages already name the value seen where it helps.
      return issue.message;
    default:
      return `${issue.message}${seen}`;
  }
}

function article(expected: string): string {
  if (expected === "int") return "an integer";
  return /^[aeiou]/.test(expected) ? `an ${expected}` : `a ${expected}`;
}

/** Parses an instance document; returns `undefined` with issues when invalid. */
export function parseInstance(
  raw: unknown,
): { ok: true; instance: Instance } | { ok: false; issues: FieldIssue[] } {
  const result = instanceSchema.safeParse(raw, { reportInput: true });
  if (result.success) return { ok: true, instance: result.data };
  return { ok: false, issues: describeIssues(result.error.issues) };
}
export const managedPatchSchema = z.strictObject({
  status: z.enum(ELEMENT_STATUSES).exclude(["DISABLED"]).optional(),
  trading: z.enum(TRADING_STATES).optional(),
  lock_reason: z.string().nullable().optional(),
  locked_until: z.number().finite().nullable().optional(),
  unlock_applied_at: z.number().int().nonnegative().nullable().optional(),
  flatten_pending: z.array(z.enum(["cancel_orders", "close_all"])).optional(),
  metrics: metricsSchema.optional(),
  day: dayStateSchema.nullable().optional(),
  peak: peakStateSchema.nullable().optional(),
  error: elementErrorSchema.nullable().optional(),
});

/** Validates a manager's patch and returns the fields to set. */
