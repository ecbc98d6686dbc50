import assert from "node:assert/strict";
import { checkActions, defineRule, stamp } from "./rule.ts";

Deno.test("checkActions keeps valid actions, stamps the rule and reports the rest", () => {
  const { actions, problems } = checkActions([
    { type: "lock", scope: "day", until: 5, reason: "r", rule: "forged" },
    { type: "lock", scope: "day", until: 0, reason: "r" },
    { type: "close_position", ticket: 7, volume: 0.5, reason: "r", extra: 1 },
    { type: "notify", level: "loud", reason: "r" },
    { type: "close_all", reason: "" },
    "nope",
    { type: "close_position", ticket: 0, reason: "r" },
  ], "mine");
  assert.deepEqual(actions, [
    { type: "lock", rule: "mine", reason: "r", scope: "day", until: 5 },
    { type: "close_position", rule: "mine", reason: "r", ticket: 7, volume: 0.5 },
  ]);
  assert.deepEqual(problems, [
    "action 1: a day lock needs an until time",
    'action 3: notify level must be info, warning or critical, got "loud"',
    "action 4: reason must be a non-empty string",
    "action 5: expected an object, got string",
    "action 6: close_position ticket must be an integer > 0",
  ]);
  assert.deepEqual(checkActions({}, "x").problems, ["evaluate() must return an array, got object"]);
});

Deno.test("defineRule returns the rule; stamp drops a zero close volume", () => {
  const rule = defineRule({ id: "x", evaluate: () => [] });
  assert.equal(rule.id, "x");
  assert.deepEqual(stamp({ type: "close_position", ticket: 1, volume: 0, reason: "r" }, "x"), {
    type: "close_position",
    rule: "x",
    reason: "r",
    ticket: 1,
  });
});
