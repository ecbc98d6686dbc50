import assert from "node:assert/strict";
import { floatingPnl, formatMoney, positionRiskAtStop, resolveLimit } from "./helpers.ts";
import { SAMPLE_SYMBOLS, samplePosition, sampleSnapshot } from "./samples.ts";

const EURUSD = SAMPLE_SYMBOLS.EURUSD!;

Deno.test("positionRiskAtStop: buy and sell, swap and commission, no stop", () => {
  // 300 ticks x 1 USD x 0.5 lots = 150, commission -3.5 adds to the loss
  assert.equal(
    positionRiskAtStop(
      samplePosition({ ticket: 1, volume: 0.5, sl: 1.097, commission: -3.5 }),
      EURUSD,
    ),
    153.5,
  );
  // sell 1.1 with sl 1.1025: 250 ticks = 250, positive swap 2 reduces the loss
  assert.equal(
    positionRiskAtStop(samplePosition({ ticket: 2, side: "sell", sl: 1.1025, swap: 2 }), EURUSD),
    248,
  );
  // a stop beyond entry locks in profit: negative risk
  assert.equal(positionRiskAtStop(samplePosition({ ticket: 3, sl: 1.1005 }), EURUSD), -50);
  assert.equal(positionRiskAtStop(samplePosition({ ticket: 4 }), EURUSD), Infinity);
});

Deno.test("resolveLimit and formatMoney", () => {
  assert.equal(resolveLimit({ kind: "money", value: 250 }, 1e6), 250);
  assert.equal(resolveLimit({ kind: "percent", value: 5 }, 20_000), 1_000);
  assert.equal(formatMoney(512.3, "EUR"), "512.30 EUR");
});

// MT5: a deal's commission is charged to the balance when the deal is made, so an open
// position's commission is already in the balance; equity = balance + credit + profit + swap.
const MT5_EQUITY_TABLE: {
  name: string;
  balance: number;
  positions: { profit: number; swap: number; commission: number }[];
  /** Σ (profit + swap): ACCOUNT_PROFIT, and each position's floating P/L summed. */
  floating: number;
  /** balance + floating. */
  equity: number;
}[] = [
  { name: "flat", balance: 10_000, positions: [], floating: 0, equity: 10_000 },
  {
    // bought 1 lot, 7 commission charged at entry: balance 10,000 - 7 = 9,993
    name: "one winner with its entry commission",
    balance: 9_993,
    positions: [{ profit: 50, swap: 0, commission: -7 }],
    floating: 50,
    equity: 10_043,
  },
  {
    // -300 - 4.5 = -304.5; 120 + 1.25 = 121.25; together -183.25
    name: "a loser with swap and a winner with positive swap",
    balance: 9_850,
    positions: [
      { profit: -300, swap: -4.5, commission: -14 },
      { profit: 120, swap: 1.25, commission: -3.5 },
    ],
    floating: -183.25,
    equity: 9_666.75,
  },
  {
    // commission only: nothing floats, the balance already paid it
    name: "a new position at its open price",
    balance: 9_972,
    positions: [{ profit: 0, swap: 0, commission: -28 }],
    floating: 0,
    equity: 9_972,
  },
];

Deno.test("floatingPnl and sampleSnapshot follow MT5: commission is in the balance, not floating", () => {
  for (const row of MT5_EQUITY_TABLE) {
    const positions = row.positions.map((p, i) => samplePosition({ ticket: i + 1, ...p }));
    const sum = positions.reduce((total, p) => total + floatingPnl(p), 0);
    assert.equal(Math.round(sum * 100) / 100, row.floating, `${row.name}: Σ floatingPnl`);
    const snapshot = sampleSnapshot({ utc: 0, balance: row.balance, positions });
    assert.equal(snapshot.account.balance, row.balance, `${row.name}: balance`);
    assert.equal(snapshot.account.profit, row.floating, `${row.name}: account profit`);
    assert.equal(snapshot.account.equity, row.equity, `${row.name}: equity`);
  }
});
