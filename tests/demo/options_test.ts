/** The demo's options: defaults, and a clear error naming the flag for every bad value. */
import assert from "node:assert/strict";
import { DEFAULT_DEMO_OPTIONS, parseDemoOptions } from "../../src/demo/options.ts";

Deno.test("options: defaults, and values as given", () => {
  assert.deepEqual(parseDemoOptions({}), { ...DEFAULT_DEMO_OPTIONS });
  assert.deepEqual(
    parseDemoOptions({ accounts: "5", duration: "60", seed: "3", speed: "2.5" }),
    { accounts: 5, durationS: 60, seed: 3, speed: 2.5 },
  );
});

Deno.test("options: a bad value is a configuration error naming the flag and the value", () => {
  const cases: [Record<string, string>, RegExp][] = [
    [{ accounts: "0" }, /--accounts: "0"; expected a whole number from 1 to 6/],
    [{ accounts: "7" }, /--accounts: "7"/],
    [{ accounts: "2.5" }, /--accounts: "2\.5"/],
    [{ duration: "0" }, /--duration: "0"; expected seconds > 0/],
    [{ duration: "soon" }, /--duration: "soon"/],
    [{ seed: "-1" }, /--seed: "-1"; expected a whole number/],
    [{ seed: "x" }, /--seed: "x"/],
    [{ speed: "0" }, /--speed: "0"; expected a number more than 0, at most 100/],
    [{ speed: "101" }, /--speed: "101"/],
    [{ speed: "" }, /--speed: ""/],
  ];
  for (const [raw, message] of cases) {
    assert.throws(() => parseDemoOptions(raw), (error: Error & { code?: string }) => {
      assert.equal(error.code, "CONFIG_INVALID");
      assert.match(error.message, message);
      return true;
    });
  }
});
