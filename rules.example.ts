/**
 * Example riskguard rule plugin: "no new positions around high-impact news".
 *
 * In the last `before_minutes` (default 15) before a configured news time and the
 * `after_minutes` (default 5) after it, the account is locked until the window ends, positions
 * opened inside the window are closed, and a notification is sent once per event.
 *
 * Use it on an element:
 *
 * ```json
 * "rules": [{ "module": "C:/riskguard/rules.example.ts",
 *             "options": { "events": ["08:30", "2026-12-05T13:30:00Z"],
 *                          "timezone": "America/New_York" } }]
 * ```
 *
 * or try it: `riskguard rules check rules.example.ts --options '{"events":["08:30"]}'`.
 *
 * How plugins work (see docs/rules.md):
 * - the file default-exports one rule: `{ id, description?, parseOptions?, evaluate }`;
 * - `evaluate(input)` is pure and synchronous: no IO, no `Date.now()`; time is `input.now`
 *   (UTC epoch ms) and `input.server_time` (the trade server's wall clock);
 * - it returns actions: `lock`, `cancel_orders`, `close_position`, `close_all`, `notify`;
 *   the engine stamps the rule id, merges them with the built-ins' and executes them safely;
 * - it may only `import type` from riskguard (the file is loaded from disk by the compiled
 *   executable, where project modules cannot be imported at run time); runtime helpers come
 *   through `input.helpers`;
 * - it runs in a worker with a deadline (50 ms): a plugin that throws or hangs is reported and
 *   restarted, and never stops the built-in rules.
 *
 * @module
 */
import type { Rule, RuleAction, RuleInput } from "./src/rules/rule.ts";

/** The options this rule accepts (after `parseOptions`). */
interface NewsWindowOptions {
  /**
   * News times: `"HH:MM"` repeats every listed weekday in `timezone`; an ISO 8601 instant
   * (`"2026-12-05T13:30:00Z"`) happens once.
   */
  events: string[];
  /** Time zone of the daily `"HH:MM"` events: `"server"` or IANA. */
  timezone: string;
  /** ISO weekdays (1 = Monday) of the daily events. */
  days: number[];
  /** Minutes before the news during which no new position may be opened. */
  before_minutes: number;
  /** Minutes after the news the window stays closed. */
  after_minutes: number;
  /** Close positions opened inside the window. */
  close: boolean;
  /** Lock the account until the window ends. */
  lock: boolean;
}

const MINUTE = 60_000;
const DAY = 86_400_000;

/** Reads a number option with a default and a range. */
function numberOption(raw: Record<string, unknown>, name: string, fallback: number): number {
  const value = raw[name] ?? fallback;
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0 || value > 240) {
    throw new Error(`${name} must be a number of minutes from 0 to 240, got ${value}`);
  }
  return value;
}

/** Reads a boolean option with a default. */
function booleanOption(raw: Record<string, unknown>, name: string, fallback: boolean): boolean {
  const value = raw[name] ?? fallback;
  if (typeof value !== "boolean") throw new Error(`${name} must be true or false, got ${value}`);
  return value;
}

/** The UTC instants of every event near `input.now` (yesterday to tomorrow for daily ones). */
function eventInstants(input: RuleInput<NewsWindowOptions>): number[] {
  const { options, helpers } = input;
  const instants: number[] = [];
  const local = helpers.localTime(options.timezone);
  const midnight = local.wall - local.minutes * MINUTE;
  for (const event of options.events) {
    if (!event.includes("T")) {
      const minutes = helpers.parseClockTime(event);
      for (let day = -1; day <= 1; day++) {
        const wall = midnight + day * DAY + minutes * MINUTE;
        const weekday = ((new Date(wall).getUTCDay() + 6) % 7) + 1;
        if (options.days.includes(weekday)) {
          instants.push(helpers.wallToUtc(wall, options.timezone));
        }
      }
    } else {
      instants.push(Date.parse(event));
    }
  }
  return instants;
}

const newsWindow: Rule<NewsWindowOptions> = {
  id: "news_window",
  description: "no new positions from 15 minutes before a news time until 5 minutes after",

  // Called once when the plugin loads (and by `riskguard rules check`): throw to reject the
  // options with a clear message; return the normalized options `evaluate` receives.
  parseOptions(raw: unknown): NewsWindowOptions {
    const options = (raw ?? {}) as Record<string, unknown>;
    if (typeof options !== "object" || Array.isArray(options)) {
      throw new Error("options must be an object");
    }
    const events = options.events ?? ["08:30", "10:00", "14:00"];
    if (!Array.isArray(events) || events.some((event) => typeof event !== "string")) {
      throw new Error('events must be a list of "HH:MM" or ISO instants');
    }
    for (const event of events as string[]) {
      if (event.includes("T") ? Number.isNaN(Date.parse(event)) : !/^\d{2}:\d{2}$/.test(event)) {
        throw new Error(`invalid event time "${event}"`);
      }
    }
    const timezone = options.timezone ?? "America/New_York";
    if (typeof timezone !== "string") throw new Error("timezone must be a string");
    const days = options.days ?? [1, 2, 3, 4, 5];
    if (
      !Array.isArray(days) ||
      days.some((day) => typeof day !== "number" || !Number.isInteger(day) || day < 1 || day > 7)
    ) {
      throw new Error("days must be ISO weekdays 1 (Monday) to 7 (Sunday)");
    }
    return {
      events: events as string[],
      timezone,
      days: days as number[],
      before_minutes: numberOption(options, "before_minutes", 15),
      after_minutes: numberOption(options, "after_minutes", 5),
      close: booleanOption(options, "close", true),
      lock: booleanOption(options, "lock", true),
    };
  },

  evaluate(input): RuleAction[] {
    const { snapshot, options, now, server_offset: serverOffset } = input;
    const actions: RuleAction[] = [];
    for (const news of eventInstants(input)) {
      const opens = news - options.before_minutes * MINUTE;
      const closes = news + options.after_minutes * MINUTE;
      if (now < opens || now >= closes) continue;
      const at = new Date(news).toISOString().slice(0, 16).replace("T", " ") + " UTC";
      const reason = `news at ${at}: no new positions until ${
        new Date(closes).toISOString().slice(11, 16)
      } UTC`;
      if (options.lock) actions.push({ type: "lock", scope: "day", until: closes, reason });
      if (options.close) {
        for (const position of snapshot.positions) {
          // open_time is the server's wall clock (MT5 convention): convert it to UTC.
          const openedAt = position.open_time - serverOffset;
          if (openedAt >= opens) {
            actions.push({
              type: "close_position",
              ticket: position.ticket,
              reason: `position ${position.ticket} opened inside the window of the ${at} news`,
            });
          }
        }
      }
      // Delivered once per event and day, however many snapshots fall inside the window.
      actions.push({ type: "notify", level: "info", reason, once: `news:${news}` });
    }
    return actions;
  },
};

export default newsWindow;
