/**
 * Wall-clock arithmetic for rules: turning a UTC instant into the local wall clock of the trade
 * server or of an IANA time zone, and back, with daylight-saving time handled through `Intl`.
 *
 * A "wall" time is the local date and time encoded as milliseconds as if it were UTC (the same
 * encoding MT5 uses for `datetime`), so `new Date(wall).getUTCHours()` is the local hour.
 *
 * Used by rules, the plugin worker and the risk process (day windows). Keep it free of
 * dependencies.
 *
 * @module
 */

/** `"server"` (the trade server's clock) or an IANA time zone name such as `Europe/Prague`. */
export type TimeZoneName = string;

const MINUTE = 60_000;
const DAY = 86_400_000;
const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let format = formatters.get(timeZone);
  if (format === undefined) {
    format = new Intl.DateTimeFormat("en-US", {
      timeZone,
      hourCycle: "h23",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
      second: "numeric",
    });
    formatters.set(timeZone, format);
  }
  return format;
}

/** Whether `name` is `"server"` or a time zone `Intl` knows. */
export function isValidTimeZone(name: string): boolean {
  if (name === "server") return true;
  try {
    formatter(name);
    return true;
  } catch {
    return false;
  }
}

/** Offset of `timeZone` from UTC at the instant `utcMs`, in milliseconds (CET: +3,600,000). */
export function zoneOffsetMs(utcMs: number, timeZone: string): number {
  const seconds = Math.floor(utcMs / 1000) * 1000;
  let year = 0, month = 1, day = 1, hour = 0, minute = 0, second = 0;
  for (const part of formatter(timeZone).formatToParts(seconds)) {
    switch (part.type) {
      case "year":
        year = Number(part.value);
        break;
      case "month":
        month = Number(part.value);
        break;
      case "day":
        day = Number(part.value);
        break;
      case "hour":
        hour = Number(part.value);
        break;
      case "minute":
        minute = Number(part.value);
        break;
      case "second":
        second = Number(part.value);
        break;
    }
  }
  return Date.UTC(year, month - 1, day, hour, minute, second) - seconds;
}

/**
 * The local wall time of the instant `utcMs` in `timeZone`; `"server"` adds `serverOffsetMs`
 * (see {@link serverOffsetOf}).
 */
export function toWall(utcMs: number, timeZone: TimeZoneName, serverOffsetMs: number): number {
  if (timeZone === "server") return utcMs + serverOffsetMs;
  return utcMs + zoneOffsetMs(utcMs, timeZone);
}

/**
 * The UTC instant at which the wall clock of `timeZone` shows `wallMs`. A wall time that does
 * not exist (skipped by a spring-forward change) maps to the instant just after the gap, as
 * the same wall time on the old offset (02:30 in a 02:00 -> 03:00 change becomes 03:30); a wall
 * time that occurs twice (fall back) maps to its first occurrence.
 */
export function toUtc(wallMs: number, timeZone: TimeZoneName, serverOffsetMs: number): number {
  if (timeZone === "server") return wallMs - serverOffsetMs;
  const first = wallMs - zoneOffsetMs(wallMs - zoneOffsetMs(wallMs, timeZone), timeZone);
  if (first + zoneOffsetMs(first, timeZone) === wallMs) {
    // Prefer the earlier of two occurrences (fall-back overlap).
    const earlier = first - 3_600_000;
    if (earlier + zoneOffsetMs(earlier, timeZone) === wallMs) return earlier;
    return first;
  }
  const second = wallMs - zoneOffsetMs(first, timeZone);
  if (second + zoneOffsetMs(second, timeZone) === wallMs) return second;
  return Math.max(first, second);
}

/**
 * The trade server's offset from UTC, from one snapshot's `server_time` and `utc_time`,
 * rounded to 15 minutes so that transport latency and clock skew do not leak into it.
 */
export function serverOffsetOf(snapshot: { server_time: number; utc_time: number }): number {
  return Math.round((snapshot.server_time - snapshot.utc_time) / (15 * MINUTE)) * 15 * MINUTE;
}

/** Parses `"HH:MM"` (00:00 .. 23:59, or 24:00) into minutes after midnight; throws otherwise. */
export function parseClockTime(text: string): number {
  const match = /^(\d{1,2}):(\d{2})$/.exec(text);
  if (match === null) throw new RangeError(`Invalid time "${text}": expected HH:MM`);
  const hours = Number(match[1]);
  const minutes = Number(match[2]);
  if (minutes > 59 || hours > 24 || (hours === 24 && minutes !== 0)) {
    throw new RangeError(`Invalid time "${text}": expected 00:00 to 24:00`);
  }
  return hours * 60 + minutes;
}

/** The `YYYY-MM-DD` date of a wall time. */
export function wallDate(wallMs: number): string {
  return new Date(wallMs).toISOString().slice(0, 10);
}

/** The ISO weekday (1 = Monday .. 7 = Sunday) of a wall time. */
export function wallWeekday(wallMs: number): number {
  return ((new Date(wallMs).getUTCDay() + 6) % 7) + 1;
}

/** Minutes after local midnight of a wall time (fractional). */
export function wallMinutes(wallMs: number): number {
  return (((wallMs % DAY) + DAY) % DAY) / MINUTE;
}

/** Local midnight (as a wall time) of the day that contains `wallMs`. */
export function wallMidnight(wallMs: number): number {
  return Math.floor(wallMs / DAY) * DAY;
}

/** Milliseconds in one day, for wall-time arithmetic. */
export const DAY_MS = DAY;
/** Milliseconds in one minute. */
export const MINUTE_MS = MINUTE;
