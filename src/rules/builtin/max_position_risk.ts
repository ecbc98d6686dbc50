/**
 * `max_position_risk` (and `require_stop_loss`): the most one position may lose at its stop.
 *
 * @module
 */
import { symbolInfoOf } from "../helpers.ts";
import { defineRule, type Limit, type RuleAction } from "../rule.ts";

/** Options of {@link maxPositionRisk}. */
export interface PositionRiskOptions {
  /** Most a position may lose at its stop loss (percent: of the current balance). */
  limit?: Limit | undefined;
  /** A position without a stop loss offends. */
  require_stop_loss: boolean;
  /** Close an offending position, or only notify. */
  action: "close" | "notify";
}

/**
 * For each position: `risk = positionRiskAtStop(position)` (see helpers). It offends when it
 * has no stop loss and one is required, or when `risk > limit`. An offending position is closed
 * (`action: "close"`, with a warning once per ticket a day) or only reported (`"notify"`).
 * A position without a stop loss when none is required is reported once, not closed.
 */
export const maxPositionRisk = defineRule<PositionRiskOptions>({
  id: "max_position_risk",
  description: "closes a position whose loss at its stop exceeds the limit or that has no stop",
  evaluate({ snapshot, options, helpers }) {
    const actions: RuleAction[] = [];
    const limit = options.limit === undefined
      ? Infinity
      : helpers.resolveLimit(options.limit, snapshot.account.balance);
    for (const position of snapshot.positions) {
      const info = symbolInfoOf(snapshot.symbols, position.symbol);
      let reason: string | undefined;
      if (position.sl === 0) {
        if (options.require_stop_loss) {
          reason = `position ${position.ticket} ${position.symbol} has no stop loss`;
        } else if (options.limit !== undefined) {
          actions.push({
            type: "notify",
            level: "warning",
            reason: `position ${position.ticket} ${position.symbol} has no stop loss: its risk ` +
              "is unbounded",
            once: `no_sl:${position.ticket}`,
          });
        }
      } else if (options.limit !== undefined) {
        if (info === undefined) {
          actions.push({
            type: "notify",
            level: "warning",
            reason:
              `no symbol info for ${position.symbol}: cannot check the risk of position ${position.ticket}`,
            once: `no_info:${position.ticket}`,
          });
          continue;
        }
        const risk = helpers.positionRiskAtStop(position, info);
        if (risk > limit) {
          reason = `position ${position.ticket} ${position.symbol} risks ${
            helpers.money(risk)
          } at its stop, above the limit of ${helpers.money(limit)}`;
        }
      }
      if (reason === undefined) continue;
      if (options.action === "close") {
        actions.push({ type: "close_position", ticket: position.ticket, reason });
        actions.push({ type: "notify", level: "warning", reason, once: `${position.ticket}` });
      } else {
        actions.push({ type: "notify", level: "warning", reason, once: `${position.ticket}` });
      }
    }
    return actions;
  },
});
