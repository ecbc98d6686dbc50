/**
 * `max_profit`: the daily profit target.
 *
 * @module
 */
import { defineRule, type Limit } from "../rule.ts";
import { breachActions } from "./_breach.ts";

/**
 * Reached when `equity >= baseline + limit` (a percent limit is a percentage of the baseline).
 * Then: lock until the next reset, cancel orders, close all (locking the profit in).
 */
export const maxProfit = defineRule<Limit>({
  id: "max_profit",
  description: "locks the day and closes everything when equity reaches baseline + limit",
  evaluate(input) {
    const { snapshot, day, options, helpers } = input;
    const limit = helpers.resolveLimit(options, day.baseline);
    const target = day.baseline + limit;
    const equity = snapshot.account.equity;
    if (equity < target) return [];
    const reason = `daily profit ${helpers.money(equity - day.baseline)} reached the target of ${
      helpers.money(limit)
    } (equity ${helpers.money(equity)} >= ${helpers.money(target)})`;
    return breachActions(input, reason, day.ends_at);
  },
});
