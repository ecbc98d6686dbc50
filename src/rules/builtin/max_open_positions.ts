/**
 * `max_open_positions`.
 *
 * @module
 */
import { defineRule, type RuleAction } from "../rule.ts";
import { newestFirst } from "./_breach.ts";

/**
 * With `n` positions open and at most `max` allowed, the `n - max` newest positions (latest
 * `open_time`, then highest ticket) are closed.
 */
export const maxOpenPositions = defineRule<number>({
  id: "max_open_positions",
  description: "closes the newest positions beyond the allowed number",
  evaluate({ snapshot, options: max }) {
    const count = snapshot.positions.length;
    if (count <= max) return [];
    const reason = `${count} positions open, at most ${max} allowed`;
    return newestFirst(snapshot.positions).slice(0, count - max).map((position): RuleAction => ({
      type: "close_position",
      ticket: position.ticket,
      reason,
    }));
  },
});
