/**
 * `trading_hours`: trading only inside a daily window.
 *
 * @module
 */
import { defineRule, type RiskSettings, type RuleAction } from "../rule.ts";
import { DAY_MS, MINUTE_MS, parseClockTime, wallMidnight, wallWeekday } from "../wall_clock.ts";

/** The trading-hours settings. */
export type TradingHoursSettings = NonNullable<RiskSettings["trading_hours"]>;

const ALL_DAYS = [1, 2, 3, 4, 5, 6, 7];

/**
 * Whether local wall time `wall` is inside the window. The window opens at `start` on each of
 * `days` (ISO weekdays; default every day) and closes at `end`, on the next day when
 * `end <= start` (an overnight window). `start == end` is a 24-hour window.
 */
export function insideTradingHours(wall: number, settings: TradingHoursSettings): boolean {
  const days = settings.days ?? ALL_DAYS;
  const start = parseClockTime(settings.start);
  const end = parseClockTime(settings.end);
  const minutes = (wall - wallMidnight(wall)) / MINUTE_MS;
  const weekday = wallWeekday(wall);
  const previous = weekday === 1 ? 7 : weekday - 1;
  if (start < end) return days.includes(weekday) && minutes >= start && minutes < end;
  // Overnight (end <= start): open from `start` on a listed day until `end` the next day.
  return (days.includes(weekday) && minutes >= start) ||
    (days.includes(previous) && minutes < end);
}

/** The wall time at which the window next opens after `wall` (within 8 days), or undefined. */
export function nextWindowStart(wall: number, settings: TradingHoursSettings): number | undefined {
  const days = settings.days ?? ALL_DAYS;
  const start = parseClockTime(settings.start);
  const midnight = wallMidnight(wall);
  for (let d = 0; d <= 8; d++) {
    const candidate = midnight + d * DAY_MS + start * MINUTE_MS;
    if (candidate > wall && days.includes(wallWeekday(candidate))) return candidate;
  }
  return undefined;
}

/**
 * Outside the window: lock until the window next opens, cancel pending orders, close every
 * position; an info notification once a day.
 */
export const tradingHours = defineRule<TradingHoursSettings>({
  id: "trading_hours",
  description: "outside the trading window: lock until it opens and close everything",
  evaluate({ snapshot, options, helpers, now }) {
    const local = helpers.localTime(options.timezone);
    if (insideTradingHours(local.wall, options)) return [];
    const opens = nextWindowStart(local.wall, options);
    let until = opens === undefined ? 0 : helpers.wallToUtc(opens, options.timezone);
    // In a fall-back hour the opening wall time occurs twice and maps to its first occurrence,
    // which can already be past: the lock must end in the future, so count wall time instead.
    if (opens !== undefined && until <= now) until = now + (opens - local.wall);
    const reason = `outside trading hours ${options.start}-${options.end} (${options.timezone})`;
    const actions: RuleAction[] = [
      until === 0
        ? { type: "lock", scope: "permanent", until: 0, reason }
        : { type: "lock", scope: "day", until, reason },
    ];
    if (snapshot.orders.length > 0) actions.push({ type: "cancel_orders", reason });
    if (snapshot.positions.length > 0) actions.push({ type: "close_all", reason });
    actions.push({ type: "notify", level: "info", reason, once: "outside" });
    return actions;
  },
});
