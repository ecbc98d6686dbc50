/**
 * The built-in rules and their configuration from {@link RiskSettings}.
 *
 * @module
 */
import type { ConfiguredRule, RiskSettings } from "../rule.ts";
import { maxDailyLoss } from "./max_daily_loss.ts";
import { maxPositionRisk } from "./max_position_risk.ts";
import { maxProfit } from "./max_profit.ts";
import { maxDrawdown } from "./max_drawdown.ts";
import { warningTiers } from "./warning_tiers.ts";
import { maxOpenPositions } from "./max_open_positions.ts";
import { maxTotalLots } from "./max_total_lots.ts";
import { maxLotsPerSymbol } from "./max_lots_per_symbol.ts";
import { tradingHours } from "./trading_hours.ts";
import { closeBeforeWeekend } from "./close_before_weekend.ts";

export { maxDailyLoss } from "./max_daily_loss.ts";
export { maxPositionRisk, type PositionRiskOptions } from "./max_position_risk.ts";
export { maxProfit } from "./max_profit.ts";
export {
  type DrawdownFloor,
  drawdownFloor,
  type DrawdownSettings,
  maxDrawdown,
} from "./max_drawdown.ts";
export { warningTiers } from "./warning_tiers.ts";
export { maxOpenPositions } from "./max_open_positions.ts";
export { closeNewestOverLots, maxTotalLots } from "./max_total_lots.ts";
export { maxLotsPerSymbol } from "./max_lots_per_symbol.ts";
export {
  insideTradingHours,
  nextWindowStart,
  tradingHours,
  type TradingHoursSettings,
} from "./trading_hours.ts";
export { closeBeforeWeekend, type WeekendSettings } from "./close_before_weekend.ts";

/** Ids of the built-in rules; a plugin may not use one of them. */
export const BUILTIN_RULE_IDS: readonly string[] = [
  "max_daily_loss",
  "max_position_risk",
  "max_profit",
  "max_drawdown",
  "warning_tiers",
  "max_open_positions",
  "max_total_lots",
  "max_lots_per_symbol",
  "trading_hours",
  "close_before_weekend",
];

/** The built-in rules the settings switch on, with their options, in evaluation order. */
export function builtinRules(settings: RiskSettings): ConfiguredRule[] {
  const rules: ConfiguredRule[] = [];
  if (settings.max_drawdown !== undefined) {
    rules.push({ rule: maxDrawdown, options: settings.max_drawdown });
  }
  if (settings.max_daily_loss !== undefined) {
    rules.push({ rule: maxDailyLoss, options: settings.max_daily_loss });
  }
  if (settings.max_profit !== undefined) {
    rules.push({ rule: maxProfit, options: settings.max_profit });
  }
  if (settings.max_position_risk !== undefined || settings.require_stop_loss) {
    rules.push({
      rule: maxPositionRisk,
      options: {
        limit: settings.max_position_risk,
        require_stop_loss: settings.require_stop_loss,
        action: settings.position_risk_action,
      },
    });
  }
  if (settings.max_open_positions !== undefined) {
    rules.push({ rule: maxOpenPositions, options: settings.max_open_positions });
  }
  if (settings.max_total_lots !== undefined) {
    rules.push({ rule: maxTotalLots, options: settings.max_total_lots });
  }
  if (settings.max_lots_per_symbol !== undefined) {
    rules.push({ rule: maxLotsPerSymbol, options: settings.max_lots_per_symbol });
  }
  if (settings.trading_hours !== undefined) {
    rules.push({ rule: tradingHours, options: settings.trading_hours });
  }
  if (settings.close_before_weekend !== undefined) {
    rules.push({ rule: closeBeforeWeekend, options: settings.close_before_weekend });
  }
  if (
    settings.warn_at.length > 0 &&
    (settings.max_daily_loss !== undefined || settings.max_profit !== undefined ||
      settings.max_drawdown !== undefined)
  ) {
    rules.push({ rule: warningTiers, options: settings });
  }
  return rules;
}
