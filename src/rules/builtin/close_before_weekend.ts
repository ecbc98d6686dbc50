/**
 * `close_before_weekend`: flat over the weekend.
 *
 * @module
 */
import { defineRule, type RiskSettings, type RuleAction } from "../rule.ts";
import { DAY_MS, wallMidnight } from "../wall_clock.ts";

/** The close-before-weekend settings. */
export type WeekendSettings = NonNullable<RiskSettings["close_before_weekend"]>;

/**
 * From ISO weekday `day` (default 5, Friday) at `time` until the end of Sunday (local time in
 * `timezone`): lock until Monday 00:00, cancel pending orders, close every position.
 */
export const closeBeforeWeekend = defineRule<WeekendSettings>({
  id: "close_before_weekend",
  description: "closes everything and locks from the configured weekday and time until Monday",
  evaluate({ snapshot, options, helpers }) {
    const local = helpers.localTime(options.timezone);
    const time = helpers.parseClockTime(options.time);
    const active = (local.weekday === options.day && local.minutes >= time) ||
      local.weekday > options.day;
    if (!active) return [];
    const monday = wallMidnight(local.wall) + (8 - local.weekday) * DAY_MS;
    const until = helpers.wallToUtc(monday, options.timezone);
    const reason = `weekend close from day ${options.day} ${options.time} (${options.timezone})`;
    const actions: RuleAction[] = [{ type: "lock", scope: "day", until, reason }];
    if (snapshot.orders.length > 0) actions.push({ type: "cancel_orders", reason });
    if (snapshot.positions.length > 0) actions.push({ type: "close_all", reason });
    actions.push({ type: "notify", level: "info", reason, once: "weekend" });
    return actions;
  },
});
