import assert from "node:assert/strict";
import { RiskGuardError } from "../shared/errors.ts";
import { parseLimit, parseRiskSettings } from "./settings.ts";

Deno.test("parseLimit: numbers, strings, percents and objects", () => {
  assert.deepEqual(parseLimit(500), { kind: "money", value: 500 });
  assert.deepEqual(parseLimit("500"), { kind: "money", value: 500 });
  assert.deepEqual(parseLimit(" 4.5 % "), { kind: "percent", value: 4.5 });
  assert.deepEqual(parseLimit({ kind: "percent", value: 10 }), { kind: "percent", value: 10 });
  for (const bad of [0, -5, "0%", "120%", "abc", { kind: "percent", value: 200 }, null]) {
    assert.throws(() => parseLimit(bad), RangeError, JSON.stringify(bad));
  }
});

Deno.test("parseRiskSettings: defaults, nested objects, errors name the field", () => {
  const settings = parseRiskSettings({
    max_daily_loss: "5%",
    max_drawdown: { limit: 10_000, mode: "trailing_equity" },
    daily: { timezone: "Europe/Prague" },
    warn_at: 0.9,
    unknown_field: true,
  });
  assert.deepEqual(settings.max_daily_loss, { kind: "percent", value: 5 });
  assert.deepEqual(settings.max_drawdown, {
    limit: { kind: "money", value: 10_000 },
    mode: "trailing_equity",
    stop_at_initial: false,
  });
  assert.deepEqual(settings.daily, {
    reset: "00:00",
    timezone: "Europe/Prague",
    baseline: "balance",
  });
  assert.deepEqual(settings.warn_at, [0.9]);
  assert.equal(settings.position_risk_action, "close");
  assert.deepEqual(settings.rules, []);
  assert.throws(
    () =>
      parseRiskSettings({
        daily: { timezone: "Mars/Olympus" },
        trading_hours: { start: "25:00", end: "10:00" },
      }),
    (error: unknown) =>
      error instanceof RiskGuardError && error.code === "INPUT_INVALID" &&
      /daily\.timezone/.test(error.message) && /trading_hours\.start/.test(error.message),
  );
});

Deno.test("parseRiskSettings: every problem is reported with its field and the value seen", () => {
  assert.throws(
    () =>
      parseRiskSettings({
        max_daily_loss: "abc",
        max_drawdown: { limit: { kind: "percent", value: 150 } },
        warn_at: [0.5, 2],
        max_open_positions: -1,
        rules: [{ module: "" }],
      }),
    (error: unknown) => {
      assert.ok(error instanceof RiskGuardError);
      assert.equal(
        error.message,
        "Invalid risk settings: " + [
          'max_daily_loss: expected a positive amount of money or "N%" with 0 < N <= 100, ' +
          'got the string "abc"',
          "max_drawdown.limit: a percent limit must be at most 100",
          "warn_at.1: expected a fraction between 0 and 1 (both excluded), got 2",
          "max_open_positions: expected a whole number >= 0, got -1",
          'rules.0.module: expected a non-empty string, got the string ""',
        ].join("; "),
      );
      return true;
    },
  );
});

Deno.test("parseRiskSettings: an undefined field sets no limit, defaults fill in, a non-object is refused", () => {
  const settings = parseRiskSettings({ max_daily_loss: undefined, daily: undefined });
  assert.equal(settings.max_daily_loss, undefined);
  assert.deepEqual(settings.daily, { reset: "00:00", timezone: "server", baseline: "balance" });
  assert.throws(() => parseRiskSettings(null), /\(settings\): expected an object, got null/);
});
