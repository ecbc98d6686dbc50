/**
 * `max_drawdown`: static or trailing drawdown from the initial balance or a high-water mark.
 *
 * @module
 */
import { defineRule, type PeakState, type RiskSettings } from "../rule.ts";
import { resolveLimit } from "../helpers.ts";
import { breachActions } from "./_breach.ts";

/** The drawdown settings. */
export type DrawdownSettings = NonNullable<RiskSettings["max_drawdown"]>;

/** Where the drawdown floor is and how it was found. */
export interface DrawdownFloor {
  /** Equity at or below this breaches. */
  floor: number;
  /** The limit in money (a percent limit is a percentage of the initial balance). */
  limit: number;
  /** The figure the limit is subtracted from: initial balance, high balance or high equity. */
  reference: number;
  /** Whether the floor stopped trailing at the initial balance. */
  stopped: boolean;
}

/**
 * `floor = reference - limit`, where `reference` is the initial balance (`static`), the
 * highest balance (`trailing_balance`) or the highest equity (`trailing_equity`); with
 * `stop_at_initial` the floor never rises above the initial balance.
 */
export function drawdownFloor(peak: PeakState, settings: DrawdownSettings): DrawdownFloor {
  const limit = resolveLimit(settings.limit, peak.initial_balance);
  const reference = settings.mode === "static"
    ? peak.initial_balance
    : settings.mode === "trailing_balance"
    ? peak.high_balance
    : peak.high_equity;
  let floor = reference - limit;
  let stopped = false;
  if (settings.stop_at_initial && settings.mode !== "static" && floor >= peak.initial_balance) {
    floor = peak.initial_balance;
    stopped = true;
  }
  return { floor, limit, reference, stopped };
}

/** Breach when `equity <= floor` (see {@link drawdownFloor}): permanent lock, close all. */
export const maxDrawdown = defineRule<DrawdownSettings>({
  id: "max_drawdown",
  description: "locks the account permanently when equity falls to the drawdown floor",
  evaluate(input) {
    const { snapshot, peak, options, helpers } = input;
    const { floor, limit, reference } = drawdownFloor(peak, options);
    const equity = snapshot.account.equity;
    if (equity > floor) return [];
    const reason = `${options.mode} drawdown: equity ${helpers.money(equity)} <= floor ${
      helpers.money(floor)
    } (${helpers.money(reference)} - ${helpers.money(limit)})`;
    return breachActions(input, reason, 0);
  },
});
