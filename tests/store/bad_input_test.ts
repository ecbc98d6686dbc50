/**
 * Bad input never throws out of the store: element documents of any shape become a typed
 * invalid result naming a field, through `parseElement` and through `insertElement`.
 *
 * @module
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { parseElement, parseLimit } from "../../src/store/mod.ts";
import { sqliteAdapter } from "./_harness.ts";

const FIELDS = [
  "_id",
  "server",
  "login",
  "password",
  "max_daily_loss",
  "max_position_risk",
  "max_profit",
  "max_drawdown",
  "daily",
  "warn_at",
  "status",
  "trading",
  "rules",
  "lease",
  "metrics",
  "day",
  "peak",
];

const base = { _id: "e1", server: "Demo", login: 42, password: "secret-pw" };

Deno.test("parseElement never throws and names a field for any value of any field", () => {
  fc.assert(
    fc.property(fc.constantFrom(...FIELDS), fc.anything(), (field, value) => {
      const parsed = parseElement({ ...base, [field]: value });
      if (!parsed.valid) {
        assert.ok(parsed.field.length > 0);
        assert.ok(parsed.reason.length > 0);
        assert.ok(!parsed.reason.includes("secret-pw"), "the password never shows in a reason");
      }
    }),
    { numRuns: 500 },
  );
  fc.assert(
    fc.property(fc.anything(), (doc) => {
      const parsed = parseElement(doc);
      assert.equal(typeof parsed.valid, "boolean");
    }),
    { numRuns: 300 },
  );
});

Deno.test("a limit is money > 0 or a percent in (0, 100], nothing else", () => {
  fc.assert(
    fc.property(fc.double({ noNaN: false }), (n) => {
      const limit = parseLimit(n);
      assert.equal(limit !== undefined, Number.isFinite(n) && n > 0);
    }),
  );
  fc.assert(
    fc.property(fc.double({ min: -50, max: 200, noNaN: true }), (n) => {
      const text = `${n}%`;
      const limit = parseLimit(text);
      const expected = /^[0-9]+(\.[0-9]+)?%$/.test(text) && n > 0 && n <= 100;
      assert.equal(limit !== undefined, expected, text);
    }),
  );
  for (const bad of ["abc%", "100", "", "%", "5 %x", "-5%", "0%", "101%"]) {
    assert.equal(parseLimit(bad), undefined, bad);
  }
  assert.deepEqual(parseLimit("2.5%"), { kind: "percent", value: 2.5 });
  assert.deepEqual(parseLimit(1e3), { kind: "money", value: 1000 });
});

Deno.test("the named bad inputs of the issue each name their field", () => {
  const cases: [Record<string, unknown>, string, RegExp][] = [
    [{ ...base, login: undefined }, "login", /required/],
    [{ ...base, max_daily_loss: -10 }, "max_daily_loss", /-10/],
    [{ ...base, max_profit: "abc%" }, "max_profit", /abc%/],
    [{ ...base, login: "42" }, "login", /string "42"/],
    [{ ...base, max_position_risk: "100" }, "max_position_risk", /"100"/],
    [{ ...base, status: "ZOMBIE" }, "status", /ZOMBIE/],
    [{ ...base, trading: "MAYBE" }, "trading", /MAYBE/],
    [{ ...base, max_open_positions: 2.5 }, "max_open_positions", /integer/],
    [{ ...base, close_before_weekend: { day: 9, time: "20:00" } }, "close_before_weekend.day", /9/],
    [{ ...base, rules: [{ options: {} }] }, "rules.0.module", /required/],
    [{ ...base, password: 12 }, "password", /string/],
  ];
  for (const [doc, field, reason] of cases) {
    const parsed = parseElement(doc);
    assert.ok(!parsed.valid, `accepted ${field}`);
    assert.equal(parsed.field, field);
    assert.match(parsed.reason, reason);
  }
  const secret = parseElement({ ...base, password: 12 });
  assert.ok(!secret.valid && !secret.reason.includes("12"), "a secret value is not echoed");
});

Deno.test("insertElement returns a refusal for arbitrary documents and never throws", async () => {
  const fx = await sqliteAdapter().fresh();
  try {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...FIELDS.slice(1)), fc.anything(), async (field, value) => {
        const result = await fx.store.insertElement({ ...base, _id: undefined, [field]: value });
        if (!result.ok) assert.ok(result.field.length > 0 && result.reason.length > 0);
      }),
      { numRuns: 150 },
    );
    // deno-lint-ignore no-explicit-any
    const weird = await fx.store.insertElement(null as any);
    assert.equal(weird.ok, false);
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    const extra = await fx.store.insertElement({ ...base, _id: undefined, note: 10n, x: cyclic });
    assert.ok(
      !extra.ok && extra.field === "note",
      "junk in an unknown field is refused, not thrown",
    );
    for (const parsed of await fx.store.listElements()) assert.ok(parsed.valid);
  } finally {
    await fx.dispose();
  }
});
