import assert from "node:assert/strict";
import {
  parseClockTime,
  serverOffsetOf,
  toUtc,
  toWall,
  wallWeekday,
  zoneOffsetMs,
} from "./wall_clock.ts";

const H = 3_600_000;

Deno.test("zone offsets and wall <-> UTC across Prague DST", () => {
  assert.equal(zoneOffsetMs(Date.parse("2026-01-10T12:00:00Z"), "Europe/Prague"), H);
  assert.equal(zoneOffsetMs(Date.parse("2026-07-10T12:00:00Z"), "Europe/Prague"), 2 * H);
  const wall = Date.parse("2026-07-10T14:00:00Z"); // 14:00 local
  assert.equal(toUtc(wall, "Europe/Prague", 0), Date.parse("2026-07-10T12:00:00Z"));
  assert.equal(toWall(Date.parse("2026-07-10T12:00:00Z"), "Europe/Prague", 0), wall);
  // skipped 02:30 -> 03:30 CEST; doubled 02:30 -> the first (CEST)
  assert.equal(
    toUtc(Date.parse("2026-03-29T02:30:00Z"), "Europe/Prague", 0),
    Date.parse("2026-03-29T01:30:00Z"),
  );
  assert.equal(
    toUtc(Date.parse("2026-10-25T02:30:00Z"), "Europe/Prague", 0),
    Date.parse("2026-10-25T00:30:00Z"),
  );
  assert.equal(toUtc(wall, "server", 3 * H), wall - 3 * H);
});

Deno.test("server offset rounds to 15 minutes; clock times parse", () => {
  assert.equal(serverOffsetOf({ server_time: 2 * H + 1_234, utc_time: 0 }), 2 * H);
  assert.equal(serverOffsetOf({ server_time: 0, utc_time: 5 * H + 30 * 60_000 + 900 }), -(5.5 * H));
  assert.equal(parseClockTime("17:30"), 1_050);
  assert.equal(parseClockTime("24:00"), 1_440);
  for (const bad of ["7", "12:60", "24:01", "ab:cd"]) assert.throws(() => parseClockTime(bad));
  assert.equal(wallWeekday(Date.parse("2026-11-29T12:00:00Z")), 7);
});
