/**
 * The lines an account's curve is drawn against: the daily-loss floor, the profit target and
 * the drawdown floor, computed from the element's limits and its persisted day and peak exactly
 * as the built-in rules compute them.
 *
 * @module
 */
import type { Element } from "../store/mod.ts";
import { resolveLimit } from "../rules/helpers.ts";
import { drawdownFloor } from "../rules/builtin/mod.ts";

/** The limit lines of one account; a line is `null` when its limit or baseline is unknown. */
export interface LimitLines {
  /** Today's baseline (start balance, start equity or their max, per `daily.baseline`). */
  baseline: number | null;
  /** The daily loss limit in money. */
  daily_loss_limit: number | null;
  /** Equity at or below this breaches the daily loss limit. */
  daily_loss_floor: number | null;
  /** Equity at or above this reaches the daily profit target. */
  profit_target: number | null;
  /** The drawdown limit in money. */
  drawdown_limit: number | null;
  /** Equity at or below this breaches the drawdown limit. */
  drawdown_floor: number | null;
}

/** Computes the limit lines of a valid element from its limits, `day` and `peak`. */
export function limitLines(element: Element): LimitLines {
  const baseline = element.day?.baseline ?? null;
  const dailyLossLimit = baseline !== null && element.max_daily_loss !== undefined
    ? resolveLimit(element.max_daily_loss, baseline)
    : null;
  const profit = baseline !== null && element.max_profit !== undefined
    ? resolveLimit(element.max_profit, baseline)
    : null;
  const drawdown = element.peak !== null && element.max_drawdown !== undefined
    ? drawdownFloor(element.peak, {
      limit: element.max_drawdown.limit,
      mode: element.max_drawdown.mode,
      stop_at_initial: element.max_drawdown.stop_at_initial === true,
    })
    : null;
  return {
    baseline,
    daily_loss_limit: dailyLossLimit,
    daily_loss_floor: baseline !== null && dailyLossLimit !== null
      ? baseline - dailyLossLimit
      : null,
    profit_target: baseline !== null && profit !== null ? baseline + profit : null,
    drawdown_limit: drawdown?.limit ?? null,
    drawdown_floor: drawdown?.floor ?? null,
  };
}
