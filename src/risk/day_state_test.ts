import assert from "node:assert/strict";
import { sampleSnapshot } from "../rules/samples.ts";
import { samplePosition } from "../rules/samples.ts";
import { advanceDay, advancePeak, baselineOf, dayView } from "./day_state.ts";

const NOW = Date.parse("2026-11-24T12:00:00Z");

Deno.test("advancePeak: starts at the initial balance, then only rises", () => {
  const start = advancePeak(undefined, sampleSnapshot({ utc: NOW, balance: 9_000 }), NOW, 10_000);
  assert.deepEqual(start, {
    initial_balance: 10_000,
    high_balance: 10_000,
    high_equity: 10_000,
    since: NOW,
  });
  const up = sampleSnapshot({
    utc: NOW,
    balance: 10_500,
    positions: [samplePosition({ ticket: 1, profit: 700 })],
  });
  const raised = advancePeak(start, up, NOW + 1, undefined);
  assert.deepEqual(raised, {
    initial_balance: 10_000,
    high_balance: 10_500,
    high_equity: 11_200,
    since: NOW,
  });
  const down = advancePeak(raised, sampleSnapshot({ utc: NOW, balance: 9_000 }), NOW + 2);
  assert.deepEqual(down, raised);
  // without a configured initial balance the first balance seen is the initial one
  assert.equal(
    advancePeak(undefined, sampleSnapshot({ utc: NOW, balance: 9_000 }), NOW).initial_balance,
    9_000,
  );
});

Deno.test("baselineOf and dayView", () => {
  assert.equal(baselineOf(10_000, 9_800, "balance"), 10_000);
  assert.equal(baselineOf(10_000, 9_800, "equity"), 9_800);
  assert.equal(baselineOf(10_000, 10_200, "max"), 10_200);
  const snapshot = sampleSnapshot({ utc: NOW, balance: 9_900, realized: -100 });
  const view = dayView(
    {
      date: "2026-11-24",
      start_balance: 10_000,
      start_equity: 10_000,
      high_equity: 10_000,
      baseline: 10_000,
    },
    { date: "2026-11-24", starts_at: 1, ends_at: 2 },
    snapshot,
  );
  assert.equal(view.pnl, -100);
  assert.equal(view.realized.total, -100);
  assert.equal(view.ends_at, 2);
});

// Issue 11 item 5. MT5: ACCOUNT_EQUITY = balance + credit + Σ(POSITION_PROFIT + POSITION_SWAP);
// entry commissions are charged to the balance when the deal is made, so a position's commission
// is already inside `balance` and must not be added to a rebuilt day's start equity again.
// Reset 00:00 server time (the terminal's "today"): the rebuilt figures are exact.
Deno.test("a rebuilt day's start_equity: start balance plus profit and swap of carried positions", () => {
  const utc = Date.UTC(2025, 2, 12, 10, 0); // 12:00 on a UTC+2 server
  const yesterday = Date.UTC(2025, 2, 11, 20, 0); // server time, before today's 00:00 reset
  const today = Date.UTC(2025, 2, 12, 9, 0); // server time, after it
  const rows = [
    {
      name: "one carried position in profit, a profitable close today",
      balance: 10_000,
      realized: 150, // closed today: profit 160, commission -10
      positions: [{ open_time: yesterday, profit: 200, swap: -3, commission: -7 }],
      // equity = 10,000 + 200 - 3 = 10,197
      start_balance: 9_850, // 10,000 - 150
      start_equity: 10_047, // 9,850 + 200 - 3 (not 10,040: the -7 is already in the balance)
      baselines: { balance: 9_850, equity: 10_047, max: 10_047 },
    },
    {
      name: "a carried loser and a position opened today",
      balance: 9_900,
      realized: -40,
      positions: [
        { open_time: yesterday, profit: -120, swap: -4, commission: -14 },
        { open_time: today, profit: -50, swap: 0, commission: -5 }, // not carried: not counted
      ],
      // equity = 9,900 - 120 - 4 - 50 = 9,726
      start_balance: 9_940, // 9,900 + 40
      start_equity: 9_816, // 9,940 - 120 - 4
      baselines: { balance: 9_940, equity: 9_816, max: 9_940 },
    },
    {
      name: "flat account",
      balance: 10_500,
      realized: 500,
      positions: [],
      start_balance: 10_000,
      start_equity: 10_000,
      baselines: { balance: 10_000, equity: 10_000, max: 10_000 },
    },
  ];
  for (const row of rows) {
    const positions = row.positions.map((p, n) => samplePosition({ ticket: n + 1, ...p }, utc));
    const floating = row.positions.reduce((sum, p) => sum + p.profit + p.swap, 0);
    const base = sampleSnapshot({ utc, balance: row.balance, realized: row.realized, positions });
    const snap = { ...base, account: { ...base.account, equity: row.balance + floating } };
    for (const mode of ["balance", "equity", "max"] as const) {
      const daily = { reset: "00:00", timezone: "server" as const, baseline: mode };
      const update = advanceDay(undefined, snap, daily, utc);
      assert.equal(update.change, "reconstructed", row.name);
      assert.equal(update.estimated, false, row.name);
      assert.equal(update.day.start_balance, row.start_balance, `${row.name}: start_balance`);
      assert.equal(update.day.start_equity, row.start_equity, `${row.name}: start_equity`);
      assert.equal(update.day.baseline, row.baselines[mode], `${row.name}: ${mode} baseline`);
    }
  }
});
