/**
 * The fixed choices of an element's risk settings that both the store (the element schema) and
 * the rules (the settings parser) check: kept here, in neither, because the store imports nothing
 * from the rules and the rules use nothing but `shared`.
 *
 * @module
 */

/** How the drawdown limit is measured: from the initial balance, or trailing a high-water mark. */
export const DRAWDOWN_MODES = ["static", "trailing_balance", "trailing_equity"] as const;
/** A drawdown mode. */
export type DrawdownMode = typeof DRAWDOWN_MODES[number];

/** What the trading day is measured from. */
export const DAILY_BASELINES = ["balance", "equity", "max"] as const;
/** A daily baseline. */
export type DailyBaseline = typeof DAILY_BASELINES[number];
