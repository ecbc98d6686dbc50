/**
 * Action lists shared by the built-in limit rules.
 *
 * @module
 */
import type { RuleAction, RuleInput } from "../rule.ts";

/**
 * Lock (for the day until `until`, or permanently when `until` is 0), cancel pending orders if
 * there are any, close every position if there are any, and one critical notification a day.
 */
export function breachActions(
  input: RuleInput<unknown>,
  reason: string,
  until: number,
): RuleAction[] {
  const actions: RuleAction[] = [
    until === 0
      ? { type: "lock", scope: "permanent", until: 0, reason }
      : { type: "lock", scope: "day", until, reason },
  ];
  if (input.snapshot.orders.length > 0) actions.push({ type: "cancel_orders", reason });
  if (input.snapshot.positions.length > 0) actions.push({ type: "close_all", reason });
  actions.push({ type: "notify", level: "critical", reason, once: "breach" });
  return actions;
}

/** Positions newest first (latest `open_time`, then highest ticket). */
export function newestFirst<P extends { open_time: number; ticket: number }>(
  positions: readonly P[],
): P[] {
  return [...positions].sort((a, b) => b.open_time - a.open_time || b.ticket - a.ticket);
}

/** Tolerance for comparing lot sums. */
export const LOT_EPSILON = 1e-9;
