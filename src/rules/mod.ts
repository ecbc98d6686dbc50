/**
 * Rules: the {@link Rule} type and {@link defineRule}, the actions rules ask for, the risk
 * settings they read, the built-in rules, pure helpers, and the plugin host that runs user rule
 * files in workers.
 *
 * @module
 */
export * from "./rule.ts";
export * from "./settings.ts";
export * from "./helpers.ts";
export * from "./builtin/mod.ts";
export * from "./plugins.ts";
export {
  isValidTimeZone,
  parseClockTime,
  serverOffsetOf,
  toUtc,
  toWall,
  wallDate,
  wallMinutes,
  wallWeekday,
  zoneOffsetMs,
} from "./_time.ts";
export * from "./samples.ts";
