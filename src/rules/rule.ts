/**
 * The shape every rule has, built-in or plugin: a pure `evaluate(input) -> actions`, plus the
 * types of its input (snapshot, day and peak state, time, options, helpers) and of the actions
 * it may ask for.
 *
 * A plugin file may `import type` from this module; everything it needs at run time (limit
 * resolution, position risk, time-zone arithmetic) comes through {@link RuleInput.helpers}.
 *
 * @module
 */
import type { Position, RealizedToday, Snapshot, SymbolInfo } from "../mt5/protocol.ts";
import type { Limit, RiskSettings } from "./settings.ts";
import { isCount, isPositiveInteger } from "../shared/validation.ts";

export type { Limit, RiskSettings } from "./settings.ts";
export type { Position, RealizedToday, Snapshot, SymbolInfo } from "../mt5/protocol.ts";

/** Severity of a notification. */
export type NotifyLevel = "info" | "warning" | "critical";

/** Fields every action carries. */
export interface ActionBase {
  /** Id of the rule that asked for the action (stamped by the engine). */
  rule: string;
  /** Human-readable reason, e.g. "daily loss 512.30 USD reached the limit of 500.00 USD". */
  reason: string;
}

/**
 * Refuse new trades. `scope: "day"` is a temporary lock lifted at `until` (UTC epoch ms: the
 * next daily reset, or the end of a window); `scope: "permanent"` has `until: 0` and stays until
 * a person unlocks the account.
 */
export interface LockAction extends ActionBase {
  /** Discriminant. */
  type: "lock";
  /** Temporary (`day`) or permanent. */
  scope: "day" | "permanent";
  /** UTC epoch ms at which a `day` lock ends; `0` for a permanent lock. */
  until: number;
}

/** Delete every pending order. */
export interface CancelOrdersAction extends ActionBase {
  /** Discriminant. */
  type: "cancel_orders";
}

/** Close one position (whole, or `volume` lots of it). */
export interface ClosePositionAction extends ActionBase {
  /** Discriminant. */
  type: "close_position";
  /** Ticket of the position. */
  ticket: number;
  /** Lots to close; absent or `0` closes the whole position. */
  volume?: number;
}

/** Close every position. */
export interface CloseAllAction extends ActionBase {
  /** Discriminant. */
  type: "close_all";
}

/** Tell a person (log, event, webhook). */
export interface NotifyAction extends ActionBase {
  /** Discriminant. */
  type: "notify";
  /** Severity. */
  level: NotifyLevel;
  /**
   * De-duplication key: a notification with a key is delivered at most once per rule, key and
   * trading day (the engine remembers delivered keys in its state). Without a key it is
   * delivered on every snapshot that produces it.
   */
  once?: string;
}

/** Anything a rule may ask for. */
export type Action =
  | LockAction
  | CancelOrdersAction
  | ClosePositionAction
  | CloseAllAction
  | NotifyAction;

/** The type names of actions. */
export type ActionType = Action["type"];

/** What a rule returns: an action without `rule` (the engine stamps the rule's id). */
export type RuleAction = Action extends infer A ? A extends Action ? Omit<A, "rule"> : never
  : never;

/** The persisted state of the current trading day (element field `day`). */
export interface DayState {
  /** Trading day `YYYY-MM-DD` in the configured reset time zone (the day the reset began). */
  date: string;
  /** Balance at the start of the day. */
  start_balance: number;
  /** Equity at the start of the day. */
  start_equity: number;
  /** Highest equity seen during the day. */
  high_equity: number;
  /** The figure daily loss and daily profit are measured from (balance, equity or max). */
  baseline: number;
  /**
   * Today's balance operations (deposits, withdrawals, credits; `realized_today.balance_ops`)
   * already accounted for in the start figures, and the server date they belong to: a later
   * deposit or withdrawal shifts the start figures instead of counting as profit or loss.
   */
  ops_seen?: number | undefined;
  /** Server date (`YYYY-MM-DD`) of `ops_seen`. */
  ops_date?: string | undefined;
  /**
   * Once-a-day notifications (warnings) already delivered during this day, as `rule|key`:
   * persisted so that a restarted risk process does not send them again.
   */
  notified?: string[] | undefined;
}

/** The persisted high-water marks for drawdown (element field `peak`). */
export interface PeakState {
  /** The balance the account started with (or `initial_balance` from the settings). */
  initial_balance: number;
  /** Highest balance seen. */
  high_balance: number;
  /** Highest equity seen. */
  high_equity: number;
  /** UTC epoch ms when tracking began. */
  since: number;
}

/** The day state as rules see it: persisted fields plus derived ones. */
export interface DayView extends DayState {
  /** UTC epoch ms of the reset that began this day. */
  starts_at: number;
  /** UTC epoch ms of the next reset: the `until` of a lock for the day. */
  ends_at: number;
  /** Profit realized today by closed deals, as the terminal reports it. */
  realized: RealizedToday;
  /** Daily P/L: `equity - baseline` (negative when losing). */
  pnl: number;
}

/**
 * Everything about one evaluation that does not depend on the rule: plain data, so it can be
 * posted to a plugin worker.
 */
export interface RuleContext {
  /** The snapshot being evaluated. */
  snapshot: Snapshot;
  /** The account's risk settings. */
  settings: RiskSettings;
  /** The current trading day. */
  day: DayView;
  /** Drawdown high-water marks. */
  peak: PeakState;
  /** Current UTC epoch ms, from the injected clock. */
  now: number;
  /** Trade server offset from UTC in ms (from the snapshot's server_time - utc_time). */
  server_offset: number;
}

/** Local time at `now` in some time zone. */
export interface LocalTime {
  /** `YYYY-MM-DD`. */
  date: string;
  /** ISO weekday, 1 = Monday .. 7 = Sunday. */
  weekday: number;
  /** Minutes after local midnight (fractional). */
  minutes: number;
  /** The local wall time as ms-as-if-UTC. */
  wall: number;
}

/** Pure helpers handed to every rule (plugins cannot import runtime code from the project). */
export interface RuleHelpers {
  /**
   * Money a position loses (positive) if its stop loss is hit, in account currency, counting
   * swap and commission already charged: `distance / tick_size * tick_value * volume - swap -
   * commission`, where `distance` is `open_price - sl` for a buy and `sl - open_price` for a
   * sell. Negative when the stop locks in a profit; `Infinity` when there is no stop loss.
   * Uses `symbol` or the snapshot's symbol info; throws when neither is known.
   */
  positionRiskAtStop(position: Position, symbol?: SymbolInfo): number;
  /**
   * Floating P/L of a position as it counts in equity: `profit + swap` (its commission was
   * charged to the balance when the deal was made, as in MT5).
   */
  floatingPnl(position: Position): number;
  /** A limit in money: a `money` limit as is, a `percent` limit as `base * value / 100`. */
  resolveLimit(limit: Limit, base: number): number;
  /** Local time at `now` in `timeZone` (`"server"` or IANA; default `"server"`). */
  localTime(timeZone?: string): LocalTime;
  /** UTC epoch ms at which `timeZone`'s wall clock shows `wall` (DST-aware). */
  wallToUtc(wall: number, timeZone?: string): number;
  /** The wall time of UTC instant `utc` in `timeZone`. */
  utcToWall(utc: number, timeZone?: string): number;
  /** Parses `"HH:MM"` into minutes after midnight; throws on bad input. */
  parseClockTime(text: string): number;
  /** Formats money with two decimals and the account currency: `"512.30 USD"`. */
  money(value: number): string;
}

/** The input of one rule evaluation. */
export interface RuleInput<O> extends RuleContext {
  /** Server wall time at `now` (ms as if UTC, like MT5 `datetime`). */
  server_time: number;
  /** The rule's options, as returned by its `parseOptions`. */
  options: O;
  /** Pure helpers. */
  helpers: RuleHelpers;
}

/**
 * A rule. `evaluate` must be pure and synchronous: no IO, no `Date.now()`, time comes from the
 * input. It returns the actions it wants now; returning the same actions on every snapshot
 * while a condition holds is expected (the engine and executor de-duplicate).
 */
export interface Rule<O = unknown> {
  /** Stable id, snake_case, e.g. `news_window`; used in events and logs. */
  readonly id: string;
  /** One line saying what the rule enforces. */
  readonly description?: string;
  /**
   * Validates and normalizes the raw options (from the element's `rules[].options` or
   * `--options`); throws an `Error` whose message says what is wrong. Without it the raw
   * options are passed through.
   */
  parseOptions?(raw: unknown): O;
  /** Decides the actions for one snapshot. */
  evaluate(input: RuleInput<O>): readonly RuleAction[];
}

/** A rule paired with its parsed options, ready to run. */
export interface ConfiguredRule {
  /** The rule. */
  // deno-lint-ignore no-explicit-any
  rule: Rule<any>;
  /** Its parsed options. */
  options: unknown;
}

/** Identity helper that types a rule's options from `parseOptions` and checks its shape. */
export function defineRule<O = undefined>(rule: Rule<O>): Rule<O> {
  return rule;
}

/** A rule that failed: thrown, timed out, returned something invalid, or did not load. */
export interface RuleError {
  /** Rule id (or the module path when the rule never loaded). */
  rule: string;
  /** What went wrong. */
  kind: "threw" | "timeout" | "invalid_actions" | "crashed" | "load" | "unavailable";
  /** The message seen. */
  message: string;
  /** Plugin file, when known. */
  file?: string;
  /** 1-based line in `file`, when known. */
  line?: number;
  /** 1-based column in `file`, when known. */
  column?: number;
}

const LEVELS: ReadonlySet<string> = new Set(["info", "warning", "critical"]);

/**
 * Checks untrusted rule output (from a plugin) and stamps `rule` on every action. Returns the
 * valid actions and a message per invalid one.
 */
export function checkActions(
  raw: unknown,
  ruleId: string,
): { actions: Action[]; problems: string[] } {
  const actions: Action[] = [];
  const problems: string[] = [];
  if (!Array.isArray(raw)) {
    return { actions, problems: [`evaluate() must return an array, got ${typeOf(raw)}`] };
  }
  raw.forEach((item: unknown, index) => {
    const problem = checkAction(item);
    if (problem !== undefined) {
      problems.push(`action ${index}: ${problem}`);
      return;
    }
    actions.push(stamp(item as RuleAction, ruleId));
  });
  return { actions, problems };
}

/** Adds the rule id to an action a rule returned (copying only the known fields). */
export function stamp(action: RuleAction, ruleId: string): Action {
  const base = { rule: ruleId, reason: action.reason };
  switch (action.type) {
    case "lock":
      return { type: "lock", ...base, scope: action.scope, until: action.until };
    case "cancel_orders":
      return { type: "cancel_orders", ...base };
    case "close_position":
      return action.volume === undefined || action.volume === 0
        ? { type: "close_position", ...base, ticket: action.ticket }
        : { type: "close_position", ...base, ticket: action.ticket, volume: action.volume };
    case "close_all":
      return { type: "close_all", ...base };
    case "notify":
      return action.once === undefined
        ? { type: "notify", ...base, level: action.level }
        : { type: "notify", ...base, level: action.level, once: action.once };
  }
}

function checkAction(item: unknown): string | undefined {
  if (typeof item !== "object" || item === null) return `expected an object, got ${typeOf(item)}`;
  const action = item as Record<string, unknown>;
  if (typeof action.reason !== "string" || action.reason.length === 0) {
    return "reason must be a non-empty string";
  }
  switch (action.type) {
    case "lock":
      if (action.scope !== "day" && action.scope !== "permanent") {
        return `lock scope must be "day" or "permanent", got ${JSON.stringify(action.scope)}`;
      }
      if (!isCount(action.until)) return "lock until must be epoch milliseconds (0 = none)";
      if (action.scope === "day" && action.until === 0) return "a day lock needs an until time";
      return undefined;
    case "cancel_orders":
    case "close_all":
      return undefined;
    case "close_position":
      // The bridge protocol refuses ticket 0 (docs/protocol.md): say so here, naming the rule.
      if (!isPositiveInteger(action.ticket)) {
        return "close_position ticket must be an integer > 0";
      }
      if (
        action.volume !== undefined &&
        (typeof action.volume !== "number" || !(action.volume >= 0) ||
          !Number.isFinite(action.volume))
      ) {
        return "close_position volume must be a number >= 0";
      }
      return undefined;
    case "notify":
      if (typeof action.level !== "string" || !LEVELS.has(action.level)) {
        return `notify level must be info, warning or critical, got ${
          JSON.stringify(action.level)
        }`;
      }
      if (action.once !== undefined && typeof action.once !== "string") {
        return "notify once must be a string";
      }
      return undefined;
    default:
      return `unknown action type ${JSON.stringify(action.type)}`;
  }
}

function typeOf(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return typeof value;
}
