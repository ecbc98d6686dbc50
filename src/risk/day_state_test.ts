import assert from "node:assert/strict";
import { sampleSnapshot } from "../rules/samples.ts";
import { samplePosition } from "../rules/samples.ts";
import { advancePeak, baselineOf, dayView } from "./day_state.ts";

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
