/**
 * Day and peak state, pure: which trading day a moment belongs to (configured reset time and
 * time zone, DST-aware), the day's baseline, reconstruction on a first start mid-day, and the
 * high-water marks used by drawdown.
 *
 * @module
 */
import type { Snapshot } from "../mt5/protocol.ts";
import type { DayState, DayView, PeakState, RiskSettings } from "../rules/rule.ts";
import {
  DAY_MS,
  MINUTE_MS,
  parseClockTime,
  serverOffsetOf,
  toUtc,
  toWall,
  wallDate,
  wallMidnight,
} from "../rules/wall_clock.ts";

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
  /**
   * Deposits minus withdrawals (balance operations) since the previous snapshot: the start
   * figures moved by this much, and the peak must move too (see {@link advancePeak}).
   */
  balance_ops_delta: number;
  /**
   * The day was reconstructed although the reset is not at 00:00 server time, where the
   * terminal's "today" begins: the start figures are a conservative estimate.
   */
  estimated: boolean;
}

/** Today's balance operations as the EA reports them (0 when it does not). */
function balanceOps(snapshot: Snapshot): number {
  return snapshot.realized_today.balance_ops ?? 0;
}

/** The server date of a snapshot: the terminal's "today", which `realized_today` covers. */
function serverDate(snapshot: Snapshot): string {
  return wallDate(wallMidnight(snapshot.server_time));
}

/**
 * Deposits minus withdrawals since `previous` was written: the change of today's balance
 * operations, or all of them when the server date moved on (the terminal's "today" restarted
 * from zero). A state written before this was tracked counts nothing.
 */
function balanceOpsDelta(previous: DayState, snapshot: Snapshot): number {
  if (previous.ops_seen === undefined || previous.ops_date === undefined) return 0;
  const ops = balanceOps(snapshot);
  return previous.ops_date === serverDate(snapshot) ? ops - previous.ops_seen : ops;
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
    ops_seen: balanceOps(snapshot),
    ops_date: serverDate(snapshot),
  };
}

/**
 * A day reconstructed mid-day: `start_balance = balance - realized_today.total` (today's closed
 * deals are undone; deposits and withdrawals are not deals, so they stay in the start figure).
 * That is exact when the reset is 00:00 server time, which is what the terminal's "today" means.
 * With another reset, `realized_today` also holds deals from before the reset, so the start
 * balance is the larger of `balance` and `balance - total`: on the side that counts more of
 * today's losses (see {@link isResetAtServerMidnight}). `start_equity = start_balance +
 * profit + swap of the positions opened before the reset`, an estimate that uses their current
 * prices. Their commission is not added: MT5 charges it to the balance when the deal is made,
 * so it is already in `start_balance` (MT5's equity is balance + profit + swap of the open
 * positions). `high_equity` is the larger of start equity and current equity.
 */
export function reconstructDay(
  snapshot: Snapshot,
  window: DayWindow,
  daily: DailySettings,
): DayState {
  const { balance } = snapshot.account;
  const total = snapshot.realized_today.total;
  const startBalance = isResetAtServerMidnight(snapshot, window)
    ? balance - total
    : Math.max(balance, balance - total);
  const resetServerTime = window.starts_at + serverOffsetOf(snapshot);
  let carried = 0;
  for (const position of snapshot.positions) {
    if (position.open_time < resetServerTime) carried += position.profit + position.swap;
  }
  const startEquity = startBalance + carried;
  return {
    date: window.date,
    start_balance: startBalance,
    start_equity: startEquity,
    high_equity: Math.max(startEquity, snapshot.account.equity),
    baseline: baselineOf(startBalance, startEquity, daily.baseline),
    ops_seen: balanceOps(snapshot),
    ops_date: serverDate(snapshot),
  };
}

/** True when the trading day began at 00:00 server time, where `realized_today` begins. */
export function isResetAtServerMidnight(snapshot: Snapshot, window: DayWindow): boolean {
  const serverMidnightUtc = wallMidnight(snapshot.server_time) - serverOffsetOf(snapshot);
  return window.starts_at === serverMidnightUtc;
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
    // A deposit or withdrawal is not trading: it moves the start figures along with the balance.
    const delta = balanceOpsDelta(previous, snapshot);
    const startBalance = previous.start_balance + delta;
    const startEquity = previous.start_equity + delta;
    return {
      day: {
        date: previous.date,
        start_balance: startBalance,
        start_equity: startEquity,
        high_equity: Math.max(previous.high_equity + delta, snapshot.account.equity),
        baseline: baselineOf(startBalance, startEquity, daily.baseline),
        ops_seen: balanceOps(snapshot),
        ops_date: serverDate(snapshot),
      },
      window,
      change: "same",
      balance_ops_delta: delta,
      estimated: false,
    };
  }
  if (previous === undefined || options.fresh === true) {
    return {
      day: reconstructDay(snapshot, window, daily),
      window,
      change: "reconstructed",
      balance_ops_delta: 0,
      estimated: !isResetAtServerMidnight(snapshot, window),
    };
  }
  return {
    day: startDay(snapshot, window, daily),
    window,
    change: "rollover",
    balance_ops_delta: 0,
    estimated: false,
  };
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
 * setting replaces the persisted one. `balanceOpsDelta` (deposits minus withdrawals since the
 * previous snapshot, from {@link advanceDay}) moves the marks and the persisted initial balance
 * with the balance, so a payout is not a drawdown and a deposit is not a new high.
 */
export function advancePeak(
  previous: PeakState | undefined,
  snapshot: Snapshot,
  now: number,
  initialBalance?: number,
  balanceOpsDelta = 0,
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
  const initial = initialBalance ?? previous.initial_balance + balanceOpsDelta;
  return {
    initial_balance: initial,
    high_balance: Math.max(previous.high_balance + balanceOpsDelta, balance, initial),
    high_equity: Math.max(previous.high_equity + balanceOpsDelta, equity, initial),
    since: previous.since,
  };
}
