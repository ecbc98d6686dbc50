import assert from "node:assert/strict";
import type { Action } from "../rules/rule.ts";
import { defineRule } from "../rules/rule.ts";
import { DEFAULT_SETTINGS } from "../rules/settings.ts";
import { sampleSnapshot } from "../rules/samples.ts";
import { applyNotifyMemory, evaluateSnapshot, mergeActions, mergeLateActions } from "./engine.ts";

const base = { rule: "r", reason: "why" };

Deno.test("mergeActions: strongest lock, close_all over close_position, safe order", () => {
  const actions: Action[] = [
    { ...base, type: "notify", level: "info", once: "k" },
    { ...base, type: "close_position", ticket: 1, volume: 0.5 },
    { ...base, type: "lock", scope: "day", until: 10 },
    { ...base, type: "close_position", ticket: 1 },
    { ...base, rule: "s", type: "lock", scope: "day", until: 20 },
    { ...base, type: "cancel_orders" },
    { ...base, type: "notify", level: "info", once: "k" },
    { ...base, type: "cancel_orders" },
  ];
  assert.deepEqual(mergeActions(actions), [
    { ...base, rule: "s", type: "lock", scope: "day", until: 20 },
    { ...base, type: "cancel_orders" },
    { ...base, type: "close_position", ticket: 1 },
    { ...base, type: "notify", level: "info", once: "k" },
  ]);
  const withAll = mergeActions([
    ...actions,
    { ...base, type: "close_all" },
    { ...base, rule: "dd", type: "lock", scope: "permanent", until: 0 },
  ]);
  assert.deepEqual(withAll.map((action) => action.type), [
    "lock",
    "cancel_orders",
    "close_all",
    "notify",
  ]);
  assert.equal(withAll[0]!.rule, "dd");
});

Deno.test("notify memory: once per key per day", () => {
  const note: Action = { ...base, type: "notify", level: "warning", once: "w" };
  const first = applyNotifyMemory([note], undefined, "2026-11-24");
  assert.deepEqual(first.actions, [note]);
  assert.deepEqual(applyNotifyMemory([note], first.memory, "2026-11-24").actions, []);
  assert.deepEqual(applyNotifyMemory([note], first.memory, "2026-11-25").actions, [note]);
  assert.deepEqual(mergeLateActions([note, note], undefined, "d").actions, [note]);
});

Deno.test("notify memory: a memory given twice answers the same both times (never changed)", () => {
  const a: Action = { ...base, type: "notify", level: "warning", once: "a" };
  const b: Action = { ...base, type: "notify", level: "warning", once: "b" };
  const day = "2026-11-24";
  const first = applyNotifyMemory([a], undefined, day).memory;
  const second = applyNotifyMemory([b], first, day).memory;
  assert.equal(second.keys.length, 2);
  // From the first memory again, b is still new; the first memory still holds a only.
  assert.deepEqual(applyNotifyMemory([b], first, day).actions, [b]);
  assert.equal(first.keys.length, 1);
  assert.deepEqual(applyNotifyMemory([a, b], second, day).actions, []);
  assert.deepEqual(applyNotifyMemory([a, b, b], first, day).actions, [b]);
});

Deno.test("a throwing in-process rule is reported and does not stop the others", () => {
  const boom = defineRule({
    id: "boom",
    evaluate: () => {
      throw new Error("bad");
    },
  });
  const ok = defineRule({
    id: "ok",
    evaluate: () => [{ type: "notify" as const, level: "info" as const, reason: "fine" }],
  });
  const evaluation = evaluateSnapshot({
    snapshot: sampleSnapshot({ utc: Date.parse("2026-11-24T12:00:00Z") }),
    settings: DEFAULT_SETTINGS,
    state: {},
    now: Date.parse("2026-11-24T12:00:00Z"),
    rules: [{ rule: boom, options: undefined }, { rule: ok, options: undefined }],
  });
  assert.deepEqual(evaluation.errors, [{ rule: "boom", kind: "threw", message: "bad" }]);
  assert.deepEqual(evaluation.actions, [{
    type: "notify",
    rule: "ok",
    reason: "fine",
    level: "info",
  }]);
  assert.equal(evaluation.day_change, "reconstructed");
  assert.equal(evaluation.state.day.date, "2026-11-24");
  assert.equal(evaluation.state.peak.initial_balance, 10_000);
});
