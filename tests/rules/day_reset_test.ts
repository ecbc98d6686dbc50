/**
 * Day rollover across DST changes (Europe/Prague, America/New_York), server-time resets, and
 * positions held across the reset.
 */
import assert from "node:assert/strict";
import { advanceDay, dayWindow } from "../../src/risk/day_state.ts";
import { samplePosition, sampleSnapshot } from "../../src/rules/samples.ts";
import type { RiskSettings } from "../../src/rules/settings.ts";
import { kinds, run } from "./_support.ts";

type Daily = RiskSettings["daily"];
const prague = (reset: string): Daily => ({
  reset,
  timezone: "Europe/Prague",
  baseline: "balance",
});
const H = 3_600_000;

Deno.test("dayWindow: Europe/Prague midnight resets across both DST changes", () => {
  const cases: { now: string; daily: Daily; date: string; start: string; end: string }[] = [
    // Winter (CET, UTC+1): midnight is 23:00 UTC the evening before
    {
      now: "2026-01-15T12:00:00Z",
      daily: prague("00:00"),
      date: "2026-01-15",
      start: "2026-01-14T23:00:00Z",
      end: "2026-01-15T23:00:00Z",
    },
    // 2026-03-29: clocks go 02:00 CET -> 03:00 CEST; the day is 23 hours long
    {
      now: "2026-03-29T12:00:00Z",
      daily: prague("00:00"),
      date: "2026-03-29",
      start: "2026-03-28T23:00:00Z",
      end: "2026-03-29T22:00:00Z",
    },
    // 22:30 UTC on the 29th is 00:30 CEST on the 30th: already the next day
    {
      now: "2026-03-29T22:30:00Z",
      daily: prague("00:00"),
      date: "2026-03-30",
      start: "2026-03-29T22:00:00Z",
      end: "2026-03-30T22:00:00Z",
    },
    // 2026-10-25: clocks go 03:00 CEST -> 02:00 CET; the day is 25 hours long
    {
      now: "2026-10-25T12:00:00Z",
      daily: prague("00:00"),
      date: "2026-10-25",
      start: "2026-10-24T22:00:00Z",
      end: "2026-10-25T23:00:00Z",
    },
    // A 02:30 reset does not exist on 2026-03-29: it happens at 03:30 CEST (01:30 UTC)
    {
      now: "2026-03-29T01:00:00Z",
      daily: prague("02:30"),
      date: "2026-03-28",
      start: "2026-03-28T01:30:00Z",
      end: "2026-03-29T01:30:00Z",
    },
    // A 02:30 reset happens twice on 2026-10-25: the first one (00:30 UTC, CEST) counts
    {
      now: "2026-10-25T00:45:00Z",
      daily: prague("02:30"),
      date: "2026-10-25",
      start: "2026-10-25T00:30:00Z",
      end: "2026-10-26T01:30:00Z",
    },
    // 17:00 New York (EST, UTC-5) = 22:00 UTC; 16:30 EST is still the day that began yesterday
    {
      now: "2026-11-24T21:30:00Z",
      daily: { reset: "17:00", timezone: "America/New_York", baseline: "balance" },
      date: "2026-11-23",
      start: "2026-11-23T22:00:00Z",
      end: "2026-11-24T22:00:00Z",
    },
  ];
  for (const c of cases) {
    const window = dayWindow(Date.parse(c.now), 7_200_000, c.daily);
    assert.deepEqual(
      window,
      { date: c.date, starts_at: Date.parse(c.start), ends_at: Date.parse(c.end) },
      `${c.now} ${c.daily.timezone} ${c.daily.reset}`,
    );
  }
});

Deno.test("dayWindow: server time zone follows the snapshot's server offset", () => {
  const daily: Daily = { reset: "00:00", timezone: "server", baseline: "balance" };
  // server UTC+2: 21:59 UTC is 23:59 server, 22:00 UTC is midnight
  assert.equal(dayWindow(Date.parse("2026-11-24T21:59:00Z"), 2 * H, daily).date, "2026-11-24");
  assert.equal(dayWindow(Date.parse("2026-11-24T22:00:00Z"), 2 * H, daily).date, "2026-11-25");
  // server UTC+3 (summer EEST)
  assert.deepEqual(dayWindow(Date.parse("2026-07-01T20:59:00Z"), 3 * H, daily), {
    date: "2026-07-01",
    starts_at: Date.parse("2026-06-30T21:00:00Z"),
    ends_at: Date.parse("2026-07-01T21:00:00Z"),
  });
});

Deno.test("daily loss across the Prague spring-forward reset with a position held over it", () => {
  const settings = {
    max_daily_loss: { kind: "money" as const, value: 500 },
    warn_at: [],
    daily: prague("00:00"),
  };
  // Saturday 2026-03-28 22:30 UTC = 23:30 CET: day 2026-03-28, baseline 10,000 earlier
  const before = Date.parse("2026-03-28T22:30:00Z");
  const held = (profit: number, utc: number) =>
    sampleSnapshot({
      utc,
      serverOffset: 2 * H,
      balance: 10_000,
      positions: [samplePosition({ ticket: 1, profit }, utc + 2 * H - 5 * H)],
    });
  let evaluation = run(held(-450, before), {
    settings,
    state: {
      day: {
        date: "2026-03-28",
        start_balance: 10_500,
        start_equity: 10_500,
        high_equity: 10_500,
        baseline: 10_500,
      },
    },
  });
  // 10,500 - 9,550 = 950 >= 500: the old day is breached and the lock ends at the reset
  assert.deepEqual(kinds(evaluation.actions), ["lock", "close_all", "notify"]);
  const lock = evaluation.actions[0]!;
  assert.equal(lock.type === "lock" && lock.until, Date.parse("2026-03-28T23:00:00Z"));

  // 23:00 UTC = 00:00 CET on the 29th: rollover from live figures: balance 10,000, the held
  // position is -450 so start equity 9,550; baseline balance 10,000
  const after = Date.parse("2026-03-28T23:00:30Z");
  evaluation = run(held(-450, after), { settings, state: evaluation.state });
  assert.equal(evaluation.day_change, "rollover");
  assert.deepEqual(evaluation.state.day, {
    date: "2026-03-29",
    start_balance: 10_000,
    start_equity: 9_550,
    high_equity: 9_550,
    baseline: 10_000,
    ops_seen: 0,
    ops_date: "2026-03-29",
  });
  // The held position's loss counts against the balance baseline: -450 is not yet 500...
  assert.deepEqual(evaluation.actions, []);
  // ...-500 is, and the lock lasts until the next reset 23 hours later (DST)
  evaluation = run(held(-500, after + 60_000), { settings, state: evaluation.state });
  const dayLock = evaluation.actions[0]!;
  assert.equal(dayLock.type === "lock" && dayLock.until, Date.parse("2026-03-29T22:00:00Z"));
  // With an equity baseline the same -500 is only -50 for the day
  evaluation = run(held(-500, after + 60_000), {
    settings: { ...settings, daily: { ...settings.daily, baseline: "equity" } },
    state: { day: evaluation.state.day },
  });
  assert.deepEqual(evaluation.actions, []);
});

Deno.test("first start mid-day reconstructs the day from today's realized P/L", () => {
  const utc = Date.parse("2026-11-24T12:00:00Z"); // 14:00 server (UTC+2)
  const server = utc + 2 * H;
  const snapshot = sampleSnapshot({
    utc,
    balance: 9_700, // after -300 realized today
    realized: -300,
    positions: [
      // opened yesterday, carried over the reset: -120 floating (swap -5)
      samplePosition({ ticket: 1, profit: -115, swap: -5, open_time: server - 20 * H }),
      // opened today: -80
      samplePosition({ ticket: 2, profit: -80, open_time: server - H }),
    ],
  });
  const daily: Daily = { reset: "00:00", timezone: "server", baseline: "balance" };
  const update = advanceDay(undefined, snapshot, daily, utc);
  assert.equal(update.change, "reconstructed");
  // start balance 9,700 + 300 = 10,000; start equity 10,000 - 120 = 9,880; equity now 9,500
  assert.deepEqual(update.day, {
    date: "2026-11-24",
    start_balance: 10_000,
    start_equity: 9_880,
    high_equity: 9_880,
    baseline: 10_000,
    ops_seen: 0,
    ops_date: "2026-11-24",
  });
  // A persisted state from yesterday on the first snapshot of a restarted process is rebuilt
  const stale = {
    date: "2026-11-23",
    start_balance: 1,
    start_equity: 1,
    high_equity: 1,
    baseline: 1,
  };
  assert.equal(advanceDay(stale, snapshot, daily, utc, { fresh: true }).day.start_balance, 10_000);
  // ...but rolled over from live figures while the process runs
  assert.equal(advanceDay(stale, snapshot, daily, utc).day.start_balance, 9_700);
  // A persisted state of today is kept (restart mid-day), only the high-water mark moves
  const today = {
    date: "2026-11-24",
    start_balance: 10_100,
    start_equity: 10_100,
    high_equity: 9_000,
    baseline: 10_100,
  };
  assert.deepEqual(advanceDay(today, snapshot, daily, utc, { fresh: true }).day, {
    ...today,
    high_equity: 9_500,
    ops_seen: 0,
    ops_date: "2026-11-24",
  });
});
