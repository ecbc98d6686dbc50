/**
 * `max_total_lots`.
 *
 * @module
 */
import type { Position } from "../../mt5/protocol.ts";
import { defineRule, type RuleAction } from "../rule.ts";
import { LOT_EPSILON, newestFirst } from "./_breach.ts";

/**
 * Closes the newest positions of `positions` until their summed volume is at most `max`.
 * Shared by `max_total_lots` and `max_lots_per_symbol`.
 */
export function closeNewestOverLots(
  positions: readonly Position[],
  max: number,
  what: string,
): RuleAction[] {
  let total = 0;
  for (const position of positions) total += position.volume;
  if (total <= max + LOT_EPSILON) return [];
  const reason = `${what} ${round(total)} lots open, at most ${max} allowed`;
  const actions: RuleAction[] = [];
  for (const position of newestFirst(positions)) {
    if (total <= max + LOT_EPSILON) break;
    actions.push({ type: "close_position", ticket: position.ticket, reason });
    total -= position.volume;
  }
  return actions;
}

function round(lots: number): number {
  return Math.round(lots * 1e6) / 1e6;
}

/** Sum of all positions' volumes above `max`: the newest are closed until it fits. */
export const maxTotalLots = defineRule<number>({
  id: "max_total_lots",
  description: "closes the newest positions while the total volume exceeds the limit",
  evaluate({ snapshot, options }) {
    return closeNewestOverLots(snapshot.positions, options, "in total");
  },
});
