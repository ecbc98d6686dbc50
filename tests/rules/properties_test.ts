/**
 * fast-check properties of the rules, the day window and the action merge.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import type { Action } from "../../src/rules/rule.ts";
import { samplePosition, sampleSnapshot } from "../../src/rules/samples.ts";
import { drawdownFloor } from "../../src/rules/builtin/mod.ts";
import { dayWindow } from "../../src/risk/day_state.ts";
import { mergeActions } from "../../src/risk/engine.ts";
import { day, peak, run } from "./_support.ts";

const NOON = Date.parse("2026-11-24T12:00:00Z");
const cents = (min: number, max: number) =>
  fc.integer({ min: min * 100, max: max * 100 }).map((value) => value / 100);

Deno.test("daily loss fires exactly when equity <= baseline - limit", () => {
  fc.assert(
    fc.property(
      cents(1_000, 1_000_000),
      fc.double({ min: 0.001, max: 1, noNaN: true }),
      cents(-50_000, 50_000),
      fc.constantFrom("money", "percent"),
      (baseline, fraction, floating, kind) => {
        const limitMoney = Math.max(0.01, Math.round(baseline * fraction * 100) / 100);
        const limit = kind === "money" ? { kind: "money" as const, value: limitMoney } : {
          kind: "percent" as const,
          value: Math.max(0.01, Math.round(fraction * 10_000) / 100),
        };
        const resolved = limit.kind === "money" ? limit.value : baseline * limit.value / 100;
        const snapshot = sampleSnapshot({
          utc: NOON,
          balance: baseline,
          positions: [samplePosition({ ticket: 1, profit: floating }, NOON)],
        });
        const evaluation = run(snapshot, {
          settings: { max_daily_loss: limit, warn_at: [] },
          day: day("2026-11-24", baseline),
        });
        const fired = evaluation.actions.some((action) => action.type === "lock");
        const equity = snapshot.account.equity;
        assert.equal(fired, equity <= baseline - resolved, `equity ${equity}`);
        if (equity > baseline - resolved) assert.deepEqual(evaluation.actions, []);
      },
    ),
    { numRuns: 500 },
  );
});

Deno.test("the day window always contains now and lasts 23, 24 or 25 hours", () => {
  const zones = ["server", "Europe/Prague", "America/New_York", "Australia/Sydney", "Asia/Tokyo"];
  fc.assert(
    fc.property(
      fc.integer({
        min: Date.parse("2024-01-01T00:00:00Z"),
        max: Date.parse("2030-01-01T00:00:00Z"),
      }),
      fc.constantFrom(...zones),
      fc.constantFrom("00:00", "02:30", "17:00", "23:59"),
      fc.constantFrom(0, 2, 3).map((hours) => hours * 3_600_000),
      (now, timezone, reset, offset) => {
        const window = dayWindow(now, offset, { reset, timezone, baseline: "balance" });
        assert.ok(window.starts_at <= now && now < window.ends_at, JSON.stringify(window));
        const hours = (window.ends_at - window.starts_at) / 3_600_000;
        assert.ok([23, 24, 25].includes(hours), `${hours} h`);
        const next = dayWindow(window.ends_at, offset, { reset, timezone, baseline: "balance" });
        assert.equal(next.starts_at, window.ends_at);
        assert.ok(next.date > window.date);
      },
    ),
    { numRuns: 1_000 },
  );
});

Deno.test("the trailing floor never falls as highs rise, and never passes the initial balance when stopped", () => {
  fc.assert(
    fc.property(
      cents(1_000, 1_000_000),
      fc.array(cents(0, 200_000), { minLength: 1, maxLength: 20 }),
      fc.double({ min: 0.01, max: 0.5, noNaN: true }),
      fc.boolean(),
      (initial, gains, fraction, stop) => {
        const settings = {
          limit: { kind: "money" as const, value: initial * fraction },
          mode: "trailing_equity" as const,
          stop_at_initial: stop,
        };
        let high = initial;
        let previous = -Infinity;
        for (const gain of gains) {
          high += gain;
          const { floor } = drawdownFloor(peak(initial, initial, high), settings);
          assert.ok(floor >= previous);
          if (stop) assert.ok(floor <= initial);
          previous = floor;
        }
      },
    ),
  );
});

const actionArbitrary: fc.Arbitrary<Action> = fc.oneof(
  fc.record({
    type: fc.constant("lock" as const),
    rule: fc.constantFrom("a", "b"),
    reason: fc.constant("r"),
    scope: fc.constantFrom("day" as const, "permanent" as const),
    until: fc.integer({ min: 1, max: 10 }),
  }).map((lock): Action => lock.scope === "permanent" ? { ...lock, until: 0 } : lock),
  fc.record({
    type: fc.constant("cancel_orders" as const),
    rule: fc.constant("a"),
    reason: fc.constant("r"),
  }),
  fc.record({
    type: fc.constant("close_all" as const),
    rule: fc.constant("a"),
    reason: fc.constant("r"),
  }),
  fc.record({
    type: fc.constant("close_position" as const),
    rule: fc.constant("a"),
    reason: fc.constant("r"),
    ticket: fc.integer({ min: 1, max: 5 }),
  }),
  fc.record({
    type: fc.constant("notify" as const),
    rule: fc.constantFrom("a", "b"),
    reason: fc.constantFrom("x", "y"),
    level: fc.constantFrom("info" as const, "warning" as const),
  }),
);

Deno.test("merged actions: safe order, one lock of the strongest kind, idempotent", () => {
  const rank = { lock: 0, cancel_orders: 1, close_all: 2, close_position: 3, notify: 4 };
  fc.assert(
    fc.property(fc.array(actionArbitrary, { maxLength: 30 }), (actions) => {
      const merged = mergeActions(actions);
      for (let i = 1; i < merged.length; i++) {
        assert.ok(rank[merged[i - 1]!.type] <= rank[merged[i]!.type]);
      }
      const locks = merged.filter((action) => action.type === "lock");
      assert.ok(locks.length <= 1);
      if (actions.some((action) => action.type === "lock" && action.scope === "permanent")) {
        assert.equal(locks[0]?.type === "lock" && locks[0].scope, "permanent");
      }
      if (merged.some((action) => action.type === "close_all")) {
        assert.ok(!merged.some((action) => action.type === "close_position"));
      }
      const tickets = merged.flatMap((action) =>
        action.type === "close_position" ? [action.ticket] : []
      );
      assert.equal(new Set(tickets).size, tickets.length);
      for (const type of ["lock", "cancel_orders", "close_all"] as const) {
        assert.equal(
          merged.some((action) => action.type === type),
          actions.some((action) => action.type === type),
        );
      }
      assert.deepEqual(mergeActions(merged), merged);
    }),
  );
});
