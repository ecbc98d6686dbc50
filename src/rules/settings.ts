/**
 * The risk settings rules read, mirrored from the element's fields (see DESIGN.md), with a
 * zod schema that parses the raw element form (`500`, `"5%"`) into {@link Limit} objects and
 * fills the defaults. The store validates the element; the risk runner maps it into this.
 *
 * @module
 */
import { z } from "zod";
import { RiskGuardError } from "../shared/errors.ts";
import { isValidTimeZone, parseClockTime } from "./wall_clock.ts";

/** A limit in account currency (`money`) or as a percentage of a base (`percent`). */
export interface Limit {
  /** How `value` is read. */
  kind: "money" | "percent";
  /** Amount in account currency, or percent (5 = 5%). */
  value: number;
}

const PERCENT = /^\s*(\d+(?:\.\d+)?)\s*%\s*$/;
const NUMBER = /^\s*(\d+(?:\.\d+)?)\s*$/;

/** Parses `500`, `"500"`, `"5%"` or `{kind, value}` into a {@link Limit}; throws on bad input. */
export function parseLimit(raw: unknown): Limit {
  const result = limitSchema.safeParse(raw);
  if (!result.success) throw new RangeError(result.error.issues[0]?.message ?? "invalid limit");
  return result.data;
}

/** zod schema of a limit in any accepted form, producing a {@link Limit}. */
export const limitSchema: z.ZodType<Limit, unknown> = z.union([
  z.number().finite().positive().transform((value): Limit => ({ kind: "money", value })),
  z.string().transform((text, ctx): Limit => {
    const percent = PERCENT.exec(text);
    if (percent !== null) {
      const value = Number(percent[1]);
      if (value > 0 && value <= 100) return { kind: "percent", value };
    }
    const number = NUMBER.exec(text);
    if (number !== null && Number(number[1]) > 0) {
      return { kind: "money", value: Number(number[1]) };
    }
    ctx.addIssue({
      code: "custom",
      message: `Invalid limit "${text}": expected a positive number or "N%" with 0 < N <= 100`,
    });
    return z.NEVER;
  }),
  z.object({
    kind: z.enum(["money", "percent"]),
    value: z.number().finite().positive(),
  }).refine((limit) => limit.kind === "money" || limit.value <= 100, {
    message: "a percent limit must be at most 100",
  }),
]);

const clockTime = z.string().refine((text) => {
  try {
    parseClockTime(text);
    return true;
  } catch {
    return false;
  }
}, { message: "expected a time HH:MM" });

const timeZone = z.string().refine(isValidTimeZone, {
  message: 'expected "server" or an IANA time zone such as "Europe/Prague"',
});

const weekday = z.number().int().min(1).max(7);

/** zod schema of {@link RiskSettings} (input: the element's raw fields). */
export const riskSettingsSchema = z.object({
  max_daily_loss: limitSchema.optional(),
  max_position_risk: limitSchema.optional(),
  max_profit: limitSchema.optional(),
  max_drawdown: z.object({
    limit: limitSchema,
    mode: z.enum(["static", "trailing_balance", "trailing_equity"]).default("static"),
    stop_at_initial: z.boolean().default(false),
  }).optional(),
  daily: z.object({
    reset: clockTime.default("00:00"),
    timezone: timeZone.default("server"),
    baseline: z.enum(["balance", "equity", "max"]).default("balance"),
  }).default({ reset: "00:00", timezone: "server", baseline: "balance" }),
  warn_at: z.union([
    z.number().gt(0).lt(1).transform((value) => [value]),
    z.array(z.number().gt(0).lt(1)).max(5),
  ]).default([0.8]),
  require_stop_loss: z.boolean().default(false),
  position_risk_action: z.enum(["close", "notify"]).default("close"),
  max_open_positions: z.number().int().nonnegative().optional(),
  max_total_lots: z.number().finite().positive().optional(),
  max_lots_per_symbol: z.number().finite().positive().optional(),
  trading_hours: z.object({
    start: clockTime,
    end: clockTime,
    timezone: timeZone.default("server"),
    days: z.array(weekday).min(1).max(7).optional(),
  }).optional(),
  close_before_weekend: z.object({
    day: weekday.default(5),
    time: clockTime,
    timezone: timeZone.default("server"),
  }).optional(),
  initial_balance: z.number().finite().positive().optional(),
  rules: z.array(z.object({
    module: z.string().min(1),
    options: z.unknown().optional(),
  })).default([]),
});

/** The element's risk settings, parsed, with defaults applied. */
export interface RiskSettings {
  /** Daily loss limit; percent of the day baseline. */
  max_daily_loss?: Limit | undefined;
  /** Most one position may lose at its stop loss; percent of the balance. */
  max_position_risk?: Limit | undefined;
  /** Daily profit at which the day is locked in; percent of the day baseline. */
  max_profit?: Limit | undefined;
  /** Drawdown limit; percent of the initial balance. */
  max_drawdown?: {
    limit: Limit;
    mode: "static" | "trailing_balance" | "trailing_equity";
    stop_at_initial: boolean;
  } | undefined;
  /** Daily reset: time, time zone and what the day is measured from. */
  daily: { reset: string; timezone: string; baseline: "balance" | "equity" | "max" };
  /** Fractions of a limit at which a warning is sent (default `[0.8]`). */
  warn_at: number[];
  /** Positions without a stop loss are not allowed. */
  require_stop_loss: boolean;
  /** What `max_position_risk` does with an offending position. */
  position_risk_action: "close" | "notify";
  /** Most positions open at once. */
  max_open_positions?: number | undefined;
  /** Most lots open at once, all symbols together. */
  max_total_lots?: number | undefined;
  /** Most lots open at once on one symbol. */
  max_lots_per_symbol?: number | undefined;
  /** Trading allowed only inside this window (end may be before start: overnight). */
  trading_hours?: {
    start: string;
    end: string;
    timezone: string;
    days?: number[] | undefined;
  } | undefined;
  /** Close everything from this weekday and time until the week ends. */
  close_before_weekend?: { day: number; time: string; timezone: string } | undefined;
  /** The account's starting balance for drawdown (default: balance when tracking began). */
  initial_balance?: number | undefined;
  /** Plugin rules. */
  rules: { module: string; options?: unknown }[];
}

/** Settings with every default and nothing else: no limits, no plugins. */
export const DEFAULT_SETTINGS: RiskSettings = Object.freeze({
  daily: { reset: "00:00", timezone: "server", baseline: "balance" },
  warn_at: [0.8],
  require_stop_loss: false,
  position_risk_action: "close",
  rules: [],
}) as RiskSettings;

/**
 * Parses raw element fields into {@link RiskSettings}; unknown fields are ignored. Throws a
 * `RiskGuardError` `INPUT_INVALID` naming the field and the problem.
 */
export function parseRiskSettings(raw: unknown): RiskSettings {
  const result = riskSettingsSchema.safeParse(raw);
  if (result.success) return result.data as RiskSettings;
  const messages = result.error.issues.map((issue) =>
    `${issue.path.join(".") || "(settings)"}: ${issue.message}`
  );
  throw new RiskGuardError("INPUT_INVALID", `Invalid risk settings: ${messages.join("; ")}`);
}
