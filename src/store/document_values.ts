/**
 * The fixed values of the stored documents: lifecycle and trading states, modes, event types
 * and list caps. Kept apart from the schemas (`schemas.ts`) so that a risk process can use them
 * without loading the schemas; `schemas.ts` builds on them and re-exports them.
 *
 * @module
 */

/** Lifecycle states of an element. `DISABLED` is set by a person, never by the agent. */
export const ELEMENT_STATUSES = ["PENDING", "ACTIVE", "INACTIVE", "DISABLED", "ERROR"] as const;
/** A lifecycle state of an element. */
export type ElementStatus = typeof ELEMENT_STATUSES[number];

/** Enforcement states of an element. */
export const TRADING_STATES = ["ALLOWED", "LOCKED_DAY", "LOCKED"] as const;
/** An enforcement state of an element. */
export type TradingState = typeof TRADING_STATES[number];

/**
 * Account-wide closes a lock still enforces (`flatten_pending` of an element, `flatten` of the
 * risk journal): a restarted risk process takes them up again.
 */
export const FLATTEN_TARGETS = ["cancel_orders", "close_all"] as const;
/** An account-wide close a lock still enforces. */
export type FlattenTarget = typeof FLATTEN_TARGETS[number];

/** States of an instance (MT5 terminal). */
export const INSTANCE_STATUSES = ["FREE", "OCCUPIED", "UNUSABLE"] as const;
/** A state of an instance. */
export type InstanceStatus = typeof INSTANCE_STATUSES[number];

/** Drawdown modes and daily baselines (shared with the rules' settings parser). */
export { DAILY_BASELINES, DRAWDOWN_MODES } from "../shared/risk_modes.ts";

/** At most this many positions (and as many pending orders) are listed in `metrics`. */
export const MAX_LISTED_TRADES = 500;

/**
 * The event types riskguard writes. Stored events of other types (written by a newer version or
 * another system) are still read: the schema accepts any non-empty string.
 */
export const EVENT_TYPES = [
  "lifecycle",
  "breach",
  "warning",
  "command",
  "ack",
  "lock",
  "unlock",
  "error",
] as const;

/** A type of event riskguard writes. */
export type EventType = typeof EVENT_TYPES[number];
