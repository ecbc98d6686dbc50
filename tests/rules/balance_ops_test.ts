/**
 * Deposits and withdrawals are not trading: they move the day's start figures and the drawdown
 * marks with the balance. And a day rebuilt mid-day with a reset that is not 00:00 server time
 * (where the terminal's "today" begins) is estimated on the side that counts more losses.
 */
import assert from "node:assert/strict";
import type { Snapshot } from "../../src/mt5/protocol.ts";
import { advanceDay } from "../../src/risk/day_state.ts";
import { samplePosition, sampleSnapshot } from "../../src/rules/samples.ts";
import { kinds, peak, run } from "./_support.ts";

const H = 3_600_000;
const UTC = Date.parse("2026-11-24T10:00:00Z"); // 12:00 server (UTC+2)
const limit = { max_daily_loss: { kind: "money" as const, value: 500 } };

/** A snapshot `minutes` after UTC with a balance, floating P/L and today's balance operations. */
function at(minutes: number, balance: number, floating: number, ops: number): Snapshot {
  const utc = UTC + minutes * 60_000;
  const positions = floating === 0 ? [] : [samplePosition({ ticket: 7, profit: floating }, utc)];
  const snapshot = sampleSnapshot({ utc, balance, positions });
  return { ...snapshot, realized_today: { ...snapshot.realized_today, balance_ops: ops } };
}

Deno.test("a deposit during the day does not hide a loss", () => {
  let evaluation = run(at(0, 10_000, 0, 0), { settings: limit });
  assert.equal(evaluation.state.day.baseline, 10_000);
  // +2,000 deposited, then 1,500 lost on an open position: equity 10,500 is above the old
  // baseline, but the day is 1,500 down.
  evaluation = run(at(30, 12_000, -1_500, 2_000), { settings: limit, state: evaluation.state });
  assert.equal(evaluation.state.day.baseline, 12_000);
  assert.deepEqual(kinds(evaluation.actions).slice(0, 2), ["lock", "close_all"]);
});

Deno.test("a withdrawal during the day is not a loss", () => {
  let evaluation = run(at(0, 10_000, 0, 0), { settings: limit });
  evaluation = run(at(30, 9_000, 0, -1_000), { settings: limit, state: evaluation.state });
  assert.equal(evaluation.state.day.baseline, 9_000);
  assert.deepEqual(evaluation.actions, []);
  // ...but a loss after it still counts from the moved baseline
  evaluation = run(at(60, 9_000, -520, -1_000), { settings: limit, state: evaluation.state });
  assert.equal(kinds(evaluation.actions)[0], "lock");
});

Deno.test("a payout is not a drawdown: the trailing marks move with it", () => {
  const drawdown = {
    max_drawdown: {
      limit: { kind: "percent" as const, value: 5 },
      mode: "trailing_balance" as const,
      stop_at_initial: false,
    },
  };
  let evaluation = run(at(0, 108_000, 0, 0), {
    settings: drawdown,
    peak: peak(100_000, 108_000),
  });
  assert.deepEqual(evaluation.actions, []);
  evaluation = run(at(30, 100_000, 0, -8_000), { settings: drawdown, state: evaluation.state });
  assert.equal(evaluation.state.peak.high_balance, 100_000);
  assert.equal(evaluation.state.peak.initial_balance, 92_000);
  assert.deepEqual(evaluation.actions, [], "no lock for a withdrawal");
});

Deno.test("the terminal's 'today' restarting at server midnight is not a withdrawal", () => {
  const daily = { reset: "22:00", timezone: "server", baseline: "balance" as const };
  // 23:30 server on the 24th (after a 1,000 deposit that day), then 00:30 server on the 25th:
  // the terminal's balance operations of "today" are back to 0, the balance is unchanged.
  const before = at(11 * 60 + 30, 11_000, 0, 1_000);
  const first = advanceDay(undefined, before, daily, before.utc_time);
  const after = at(12 * 60 + 30, 11_000, 0, 0);
  const next = advanceDay(first.day, after, daily, after.utc_time);
  assert.equal(next.change, "same");
  assert.equal(next.balance_ops_delta, 0);
  assert.equal(next.day.baseline, first.day.baseline);
});

Deno.test("a day rebuilt with a reset off server midnight is estimated conservatively", () => {
  // Reset 22:00 server; restart at 23:00 server. The terminal's "today" (since 00:00 server)
  // lost 1,000, some or all of it before the reset: the start balance is taken as 10,000, so
  // the loss is counted (the safe side), and the day is flagged as an estimate.
  const daily = { reset: "22:00", timezone: "server", baseline: "balance" as const };
  const utc = Date.parse("2026-11-24T21:00:00Z"); // 23:00 server
  const snapshot = sampleSnapshot({ utc, balance: 9_000, realized: -1_000 });
  const update = advanceDay(undefined, snapshot, daily, utc);
  assert.equal(update.change, "reconstructed");
  assert.equal(update.estimated, true);
  assert.equal(update.day.start_balance, 10_000);
  // A profitable server day before the reset is not credited: the start balance is the
  // current balance.
  const winning = sampleSnapshot({ utc, balance: 11_000, realized: 1_000 });
  assert.equal(advanceDay(undefined, winning, daily, utc).day.start_balance, 11_000);
  // At a 00:00 server reset the terminal's "today" is the trading day: exact, not estimated.
  const midnight = advanceDay(undefined, snapshot, { ...daily, reset: "00:00" }, utc - 2 * H);
  assert.equal(midnight.estimated, false);
  assert.equal(midnight.day.start_balance, 10_000);
});
