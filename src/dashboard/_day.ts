/**
 * The account's trading day as the dashboard shows it (folder-private): when it began and ends
 * in UTC, from the stored day (`day.date`) and the element's `daily` settings (reset `HH:MM`
 * and time zone), with the same wall-clock arithmetic the risk process uses to cut days. A day
 * in the broker's time (`timezone: "server"`) also needs the server's offset from UTC, which
 * the risk process writes with its metrics (`metrics.server_offset`).
 *
 * @module
 */
import type { Element } from "../store/mod.ts";
import { MINUTE_MS, parseClockTime, toUtc, zoneOffsetMs } from "../rules/wall_clock.ts";

/** The day of one account. */
export interface DayInfo {
  /** `YYYY-MM-DD` of the stored day; `null` before the risk process first wrote one. */
  date: string | null;
  /** The reset time, `HH:MM`. */
  reset: string;
  /** The configured zone: `"server"` or an IANA name. */
  timezone: string;
  /** The zone with its UTC offset for people, e.g. `Europe/Berlin (UTC+01:00)`. */
  zone: string;
  /** UTC epoch ms of the reset that began the day; `null` when not known. */
  starts_at: number | null;
  /** UTC epoch ms of the next reset; `null` when not known. */
  ends_at: number | null;
}

/** The day of a valid element. */
export function dayInfo(element: Element): DayInfo {
  const { reset, timezone } = element.daily;
  const date = element.day?.date ?? null;
  const serverOffset = element.metrics?.server_offset;
  const known = date !== null && (timezone !== "server" || serverOffset !== undefined);
  const offset = serverOffset ?? 0;
  const at = (days: number) => {
    const wall = Date.parse(`${date}T00:00:00Z`) + days * 86_400_000 +
      parseClockTime(reset) * MINUTE_MS;
    return toUtc(wall, timezone, offset);
  };
  const startsAt = known ? at(0) : null;
  return {
    date,
    reset,
    timezone,
    zone: zoneLabel(timezone, startsAt, serverOffset),
    starts_at: startsAt,
    ends_at: known ? at(1) : null,
  };
}

/** `broker server time (UTC+02:00)`, `Europe/Berlin (UTC+01:00)`. */
function zoneLabel(timezone: string, at: number | null, serverOffset: number | undefined): string {
  if (timezone === "server") {
    return serverOffset === undefined
      ? "broker server time"
      : `broker server time (${utcOffset(serverOffset)})`;
  }
  return `${timezone} (${utcOffset(zoneOffsetMs(at ?? Date.now(), timezone))})`;
}

/** `7_200_000` -> `UTC+02:00`; `0` -> `UTC`. */
export function utcOffset(offsetMs: number): string {
  if (offsetMs === 0) return "UTC";
  const minutes = Math.round(Math.abs(offsetMs) / MINUTE_MS);
  const hh = String(Math.floor(minutes / 60)).padStart(2, "0");
  const mm = String(minutes % 60).padStart(2, "0");
  return `UTC${offsetMs < 0 ? "-" : "+"}${hh}:${mm}`;
}
