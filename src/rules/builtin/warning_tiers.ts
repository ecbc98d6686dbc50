/**
 * `warning_tiers`: early warnings before a limit is reached.
 *
 * @module
 */
import { defineRule, type RiskSettings, type RuleAction } from "../rule.ts";
import { drawdownFloor } from "./max_drawdown.ts";

/**
 * For each configured limit, the fraction used: daily loss `(baseline - equity) / limit`,
 * profit `(equity - baseline) / limit`, drawdown `(floor + limit - equity) / limit`. For every
 * tier `t` of `warn_at` with `t <= used < 1` a warning is sent, once per limit, tier and day
 * (at `used >= 1` the limit's own rule acts instead).
 */
export const warningTiers = defineRule<RiskSettings>({
  id: "warning_tiers",
  description: "warns once a day when a limit is used up to each warn_at fraction",
  evaluate({ snapshot, day, peak, options, helpers }) {
    const actions: RuleAction[] = [];
    const equity = snapshot.account.equity;
    const check = (name: string, used: number, limit: number, what: string) => {
      if (!(limit > 0)) return;
      const fraction = used / limit;
      if (fraction >= 1) return;
      for (const tier of options.warn_at) {
        if (fraction < tier) continue;
        const percent = Math.round(tier * 100);
        actions.push({
          type: "notify",
          level: "warning",
          reason: `${what} ${helpers.money(roundDown(used, limit))} is ${
            formatPercentDown(fraction)
          } of the ${name} limit ${helpers.money(limit)} (warning at ${formatPercentDown(tier)})`,
          once: `${name}@${percent}`,
        });
      }
    };
    if (options.max_daily_loss !== undefined) {
      const limit = helpers.resolveLimit(options.max_daily_loss, day.baseline);
      check("max_daily_loss", day.baseline - equity, limit, "daily loss");
    }
    if (options.max_profit !== undefined) {
      const limit = helpers.resolveLimit(options.max_profit, day.baseline);
      check("max_profit", equity - day.baseline, limit, "daily profit");
    }
    if (options.max_drawdown !== undefined) {
      const { floor, limit } = drawdownFloor(peak, options.max_drawdown);
      check("max_drawdown", floor + limit - equity, limit, "drawdown");
    }
    return actions;
  },
});

/**
 * A fraction as a percent rounded down to one decimal (`0.99998` -> `"99.9%"`, `0.8` -> `"80%"`),
 * so that a limit not yet reached (fraction below 1) never reads "100%".
 */
export function formatPercentDown(fraction: number): string {
  // toFixed first: 0.57 * 1000 is 569.999..., which must still read 57%.
  let tenths = Math.floor(Number((fraction * 1000).toFixed(6)));
  if (fraction < 1) tenths = Math.min(tenths, 999);
  return `${tenths % 10 === 0 ? tenths / 10 : (tenths / 10).toFixed(1)}%`;
}

/** Money rounded down to cents and kept below `limit`: 499.999 of 500 reads 499.99, not 500.00. */
function roundDown(value: number, limit: number): number {
  const cents = Math.floor(Number((value * 100).toFixed(6)));
  return Math.min(cents, Math.ceil(Number((limit * 100).toFixed(6))) - 1) / 100;
}
