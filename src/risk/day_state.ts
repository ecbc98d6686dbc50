/**
 * Day and peak state, pure: which trading day a moment belongs to (configured reset time and
 * time zone, DST-aware), the day's baseline, reconstruction on a first start mid-day, and the
 * high-water marks used by drawdown.
 *
 * @module
 */
import type { Snapshot } from "../mt5/protocol.ts";
import type { DayState, DayView, PeakState, RiskSettings } from "../rules/rule.ts";
import { floatingPnl } from "../rules/helpers.ts";
import {
  DAY_MS,
  MINUTE_MS,
  parseClockTime,
  serverOffsetOf,
  toUtc,
  toWall,
  wallDate,
  wallMidnight,
} from "../rules/_time.ts";

/** The daily settings: reset time, time zone and baseline. */
export type DailySettings = RiskSettings["daily"];

/** The bounds of one trading day. */
export interface DayWindow {
  /** `YYYY-MM-DD`: the local date on which the day's reset happened. */
  date: string;
  /** UTC epoch ms of the reset that began the day. */
  starts_at: number;
  /** UTC epoch ms of the next reset. */
  ends_at: number;
}

/** How {@link advanceDay} got the day. */
export type DayChange =
  /** Same day as before; only the high-water mark moved. */
  | "same"
  /** A reset passed while the account was watched: the day starts from the live figures. */
  | "rollover"
  /** No usable state (first start, or first snapshot after a restart across a reset). */
  | "reconstructed";

/** Result of {@link advanceDay}. */
export interface DayUpdate {
  /** The state to persist. */
  day: DayState;
  /** The day's bounds. */
  window: DayWindow;
  /** How the day was obtained. */
  change: DayChange;
}

/**
 * The trading day that contains the UTC instant `now`: local wall time in the configured zone
 * (`server`: `now + serverOffsetMs`), minus the reset time, gives the date; the bounds are the
 * resets before and after, converted back to UTC through the zone, so days are 23 or 25 hours
 * long across a DST change.
 */
export function dayWindow(now: number, serverOffsetMs: number, daily: DailySettings): DayWindow {
  const reset = parseClockTime(daily.reset) * MINUTE_MS;
  const wall = toWall(now, daily.timezone, serverOffsetMs);
  let midnight = wallMidnight(wall - reset);
  const at = (day: number) => toUtc(day + reset, daily.timezone, serverOffsetMs);
  // A reset inside a skipped DST hour happens after the gap (02:30 -> 03:30): between the
  // wall time and that instant the previous day is still running.
  if (now < at(midnight)) midnight -= DAY_MS;
  else if (now >= at(midnight + DAY_MS)) midnight += DAY_MS;
  return { date: wallDate(midnight), starts_at: at(midnight), ends_at: at(midnight + DAY_MS) };
}

/** The baseline of a day from its start figures: balance, equity, or the larger of both. */
export function baselineOf(
  startBalance: number,
  startEquity: number,
  mode: DailySettings["baseline"],
): number {
  if (mode === "balance") return startBalance;
  if (mode === "equity") return startEquity;
  return Math.max(startBalance, startEquity);
}

/**
 * A day started from the live figures of the first snapshot after the reset: start balance and
 * equity as they are now. Positions held across the reset keep their floating P/L in the
 * equity; with a `balance` baseline all of it counts against the day.
 */
export function startDay(
  snapshot: Snapshot,
  window: DayWindow,
  daily: DailySettings,
): DayState {
  const { balance, equity } = snapshot.account;
  return {
    date: window.date,
    start_balance: balance,
    start_equity: equity,
    high_equity: equity,
    baseline: baselineOf(balance, equity, daily.baseline),
  };
}

/**
 * A day reconstructed mid-day: `start_balance = balance - realized_today.total` (today's closed
 * deals are undone; exact when the reset is 00:00 server time, which is what the terminal's
 * "today" means, an estimate otherwise); `start_equity = start_balance + floating P/L (with
 * swap and commission) of the positions opened before the reset`, an estimate that uses their
 * current prices. `high_equity` is the larger of start equity and current equity.
 */
export function reconstructDay(
  snapshot: Snapshot,
  window: DayWindow,
  daily: DailySettings,
): DayState {
  const startBalance = snapshot.account.balance - snapshot.realized_today.total;
  const resetServerTime = window.starts_at + serverOffsetOf(snapshot);
  let carried = 0;
  for (const position of snapshot.positions) {
    if (position.open_time < resetServerTime) carried += floatingPnl(position);
  }
  const startEquity = startBalance + carried;
  return {
    date: window.date,
    start_balance: startBalance,
    start_equity: startEquity,
    high_equity: Math.max(startEquity, snapshot.account.equity),
    baseline: baselineOf(startBalance, startEquity, daily.baseline),
  };
}

/** Options of {@link advanceDay}. */
export interface AdvanceDayOptions {
  /**
   * This is the first snapshot the process sees: a persisted day from before the last reset is
   * then rebuilt with {@link reconstructDay} (the reset passed while nobody watched) instead
   * of being rolled over from the live figures.
   */
  fresh?: boolean;
}

/**
 * Moves the day state to the snapshot at `now`: the same day updates the high-water mark (and
 * the baseline, from the start figures and the current baseline mode, so a settings change
 * applies at once); a later day is started from the live figures (rollover) or reconstructed
 * (no previous state, or `fresh`). A previous state from a later date than `now` (a clock that
 * went back) is kept as the same day.
 */
export function advanceDay(
  previous: DayState | undefined,
  snapshot: Snapshot,
  daily: DailySettings,
  now: number,
  options: AdvanceDayOptions = {},
): DayUpdate {
  const window = dayWindow(now, serverOffsetOf(snapshot), daily);
  if (previous !== undefined && previous.date >= window.date) {
    return {
      day: {
        date: previous.date,
        start_balance: previous.start_balance,
        start_equity: previous.start_equity,
        high_equity: Math.max(previous.high_equity, snapshot.account.equity),
        baseline: baselineOf(previous.start_balance, previous.start_equity, daily.baseline),
      },
      window,
      change: "same",
    };
  }
  if (previous === undefined || options.fresh === true) {
    return { day: reconstructDay(snapshot, window, daily), window, change: "reconstructed" };
  }
  return { day: startDay(snapshot, window, daily), window, change: "rollover" };
}

/** The day as rules see it. */
export function dayView(day: DayState, window: DayWindow, snapshot: Snapshot): DayView {
  return {
    ...day,
    starts_at: window.starts_at,
    ends_at: window.ends_at,
    realized: snapshot.realized_today,
    pnl: snapshot.account.equity - day.baseline,
  };
}

/**
 * Moves the high-water marks: a first call starts at `initialBalance` (the `initial_balance`
 * setting) or the current balance, with highs at least the initial balance; later calls raise
 * `high_balance` and `high_equity` to the snapshot's figures. A changed `initialBalance`
 * setting replaces the persisted one.
 */
export function advancePeak(
  previous: PeakState | undefined,
  snapshot: Snapshot,
  now: number,
  initialBalance?: number,
): PeakState {
  const { balance, equity } = snapshot.account;
  if (previous === undefined) {
    const initial = initialBalance ?? balance;
    return {
      initial_balance: initial,
      high_balance: Math.max(initial, balance),
      high_equity: Math.max(initial, equity),
      since: now,
    };
  }
  const initial = initialBalance ?? previous.initial_balance;
  return {
    initial_balance: initial,
    high_balance: Math.max(previous.high_balance, balance, initial),
    high_equity: Math.max(previous.high_equity, equity, initial),
    since: previous.since,
  };
}
