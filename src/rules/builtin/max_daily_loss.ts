/**
 * `max_daily_loss`: equity against the day baseline.
 *
 * @module
 */
import { defineRule, type Limit } from "../rule.ts";
import { breachActions } from "./_breach.ts";

/**
 * Breach when `equity <= baseline - limit` (a percent limit is a percentage of the baseline).
 * Equity includes floating P/L and swap of open positions (their commission is already in the
 * balance), so positions held across the reset count with their whole floating result against
 * a balance baseline. Breach:
 * lock until the next reset, cancel orders, close all.
 */
export const maxDailyLoss = defineRule<Limit>({
  id: "max_daily_loss",
  description: "locks the day and closes everything when equity falls to baseline - limit",
  evaluate(input) {
    const { snapshot, day, options, helpers } = input;
    const limit = helpers.resolveLimit(options, day.baseline);
    const floor = day.baseline - limit;
    const equity = snapshot.account.equity;
    if (equity > floor) return [];
    const reason = `daily loss ${helpers.money(day.baseline - equity)} reached the limit of ${
      helpers.money(limit)
    } (equity ${helpers.money(equity)} <= ${helpers.money(floor)})`;
    return breachActions(input, reason, day.ends_at);
  },
});
