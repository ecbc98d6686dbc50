import assert from "node:assert/strict";
import fc from "fast-check";
import {
  applyDelta,
  cloneJson,
  type Delta,
  diffContext,
  type Json,
  type JsonObject,
} from "./_context_delta.ts";

/** What a plugin process parses from the whole context's line. */
function asJson(value: unknown): JsonObject {
  return JSON.parse(JSON.stringify(value)) as JsonObject;
}

/** The delta as a plugin process gets it: through its JSON. */
function sent(delta: Delta): Delta {
  return JSON.parse(JSON.stringify(delta)) as Delta;
}

// Values as a context may hold them, and a few JSON leaves out or changes (undefined, NaN).
const leaf = fc.oneof(
  fc.double(),
  fc.integer(),
  fc.string({ maxLength: 4 }),
  fc.boolean(),
  fc.constant(null),
  fc.constant(undefined),
);
const nested = fc.dictionary(fc.constantFrom("x", "y", "z", "__proto__"), leaf, { maxKeys: 3 });
const field = fc.oneof({ weight: 6, arbitrary: leaf }, {
  weight: 1,
  arbitrary: fc.oneof(nested, fc.array(leaf, { maxLength: 3 })),
});
/** Entries keyed by ticket (from a small range, so that two snapshots share some). */
const entry = fc.record(
  {
    ticket: fc.integer({ min: 1, max: 12 }),
    symbol: fc.constantFrom("EURUSD", "XAUUSD"),
    price: field,
    profit: field,
    sl: field,
    comment: field,
  },
  { requiredKeys: ["ticket", "symbol"] },
);
const entries = fc.uniqueArray(entry, { selector: (item) => item.ticket, maxLength: 8 });
/** A context-like object: keyed arrays, records, nested objects, keys that come and go. */
const context = fc.record(
  {
    snapshot: fc.record(
      {
        seq: fc.integer(),
        account: fc.record({ equity: field, balance: field, currency: field }, {
          requiredKeys: [],
        }),
        positions: entries,
        orders: fc.oneof(entries, fc.array(leaf, { maxLength: 3 })),
        symbols: fc.dictionary(fc.constantFrom("EURUSD", "XAUUSD", "constructor"), nested),
      },
      { requiredKeys: ["seq", "positions"] },
    ),
    settings: fc.oneof(nested, fc.constant(null), fc.array(fc.integer(), { maxLength: 3 })),
    day: fc.record({ date: fc.string({ maxLength: 3 }), notified: fc.array(fc.string()) }, {
      requiredKeys: ["date"],
    }),
    now: field,
  },
  { requiredKeys: ["snapshot", "now"] },
);

Deno.test("applyDelta(base, diffContext(base, next)) is next, for random contexts", () => {
  fc.assert(
    fc.property(context, context, (before, after) => {
      const base = asJson(before);
      const untouched = asJson(before);
      const delta = diffContext(base, after);
      assert.deepStrictEqual(base, untouched, "diffContext leaves the base as it was");
      const expected = asJson(after);
      // The plugin process's side: the delta through its JSON, onto its own copy.
      assert.deepStrictEqual(applyDelta(asJson(before), sent(delta)), expected);
      // The host's side: the delta as made, onto the host's copy; it must own what it gets.
      assert.deepStrictEqual(applyDelta(base, delta), expected);
      mutateAll(after);
      assert.deepStrictEqual(base, expected, "the host's copy shares nothing with `next`");
    }),
    { numRuns: 2_000, endOnFailure: true },
  );
});

Deno.test("a chain of deltas keeps the host's and the process's copies equal to each context", () => {
  fc.assert(
    fc.property(fc.array(context, { minLength: 2, maxLength: 8 }), (chain) => {
      const host = asJson(chain[0]);
      const process = asJson(chain[0]);
      for (const next of chain.slice(1)) {
        const delta = diffContext(host, next);
        applyDelta(host, delta);
        applyDelta(process, sent(delta));
        assert.deepStrictEqual(process, asJson(next));
        assert.deepStrictEqual(host, asJson(next));
      }
    }),
    { numRuns: 500, endOnFailure: true },
  );
});

/** Changes every object and array inside `value` (as a careless caller or plugin might). */
function mutateAll(value: unknown): void {
  if (value === null || typeof value !== "object") return;
  if (Array.isArray(value)) {
    for (const item of value) mutateAll(item);
    value.push("mutated");
    return;
  }
  for (const key of Object.keys(value)) mutateAll((value as Record<string, unknown>)[key]);
  (value as Record<string, unknown>).mutated = true;
}

Deno.test("diffContext: prices that moved, in one group; an unchanged context is {}", () => {
  const position = (ticket: number, price: number, profit: number) => ({
    ticket,
    symbol: "EURUSD",
    price,
    profit,
    sl: 0,
  });
  const base = asJson({
    snapshot: {
      seq: 1,
      positions: [position(1, 1.1, 0), position(2, 1.2, 5), position(3, 1.3, 1)],
    },
    now: 1_000,
  });
  const next = {
    snapshot: {
      seq: 2,
      positions: [position(1, 1.1, 0), position(2, 1.25, 7), position(3, 1.35, 2)],
    },
    now: 1_250,
  };
  assert.deepStrictEqual(diffContext(base, next), {
    snapshot: { seq: 2, positions: { c: [[["price", "profit"], 2, 1.25, 7, 3, 1.35, 2]] } },
    now: 1_250,
  });
  assert.deepStrictEqual(diffContext(base, base), {});
});

Deno.test("diffContext: positions opened, closed and reordered; other arrays whole", () => {
  const base = asJson({
    positions: [{ ticket: 1, v: 1 }, { ticket: 2, v: 2 }, { ticket: 3, v: 3 }],
    notified: ["a"],
  });
  assert.deepStrictEqual(
    diffContext(base, {
      positions: [{ ticket: 1, v: 1 }, { ticket: 3, v: 3 }, { ticket: 4, v: 4 }],
      notified: ["a", "b"],
    }),
    { positions: { a: [{ ticket: 4, v: 4 }], r: [2] }, notified: [["a", "b"]] },
  );
  assert.deepStrictEqual(
    diffContext(base, { positions: [{ ticket: 3, v: 3 }, { ticket: 1, v: 1 }], notified: ["a"] }),
    { positions: { r: [2], o: [3, 1] } },
  );
  // Two entries with one ticket: not keyed, sent whole.
  assert.deepStrictEqual(
    diffContext(base, { positions: [{ ticket: 1, v: 1 }, { ticket: 1, v: 2 }], notified: ["a"] }),
    { positions: [[{ ticket: 1, v: 1 }, { ticket: 1, v: 2 }]] },
  );
});

Deno.test("diffContext follows JSON: undefined leaves a key out, NaN is null, toJSON is used", () => {
  const base = asJson({ a: 1, b: null, c: "2026-01-01T00:00:00.000Z", d: [1] });
  assert.deepStrictEqual(
    diffContext(base, {
      a: undefined,
      b: Number.NaN,
      c: new Date("2026-01-01T00:00:00Z"),
      d: [undefined],
      e: () => 1,
    }),
    { a: [], d: [[null]] },
  );
});

Deno.test("applyDelta refuses a delta that does not fit the context it is applied to", () => {
  const base = () => asJson({ positions: [{ ticket: 1, v: 1 }], account: { equity: 1 }, n: 1 });
  const misfits: Delta[] = [
    { positions: { c: [[["v"], 9, 2]] } },
    { positions: { r: [9] } },
    { positions: { a: [{ ticket: 1, v: 1 }] } },
    { positions: { o: [1, 9] } },
    { positions: { c: [[["v"], 1]] } },
    { positions: { c: [[["ticket"], 1, 2]] } },
    { positions: { a: [{ ticket: 5 }, { ticket: 5 }] } },
    { account: { equity: { x: 1 } } },
    { n: { x: 1 } },
    { gone: [] },
    { gone: { x: 1 } },
  ];
  for (const delta of misfits) {
    assert.throws(
      () => applyDelta(base(), delta),
      /the delta does not fit the context/,
      JSON.stringify(delta),
    );
  }
});

Deno.test("a key named __proto__ is data, never the prototype", () => {
  const base = JSON.parse('{"symbols":{"__proto__":{"tick":1}}}') as JsonObject;
  const next = JSON.parse('{"symbols":{"__proto__":{"tick":2},"EURUSD":{"tick":3}}}') as JsonObject;
  const delta = diffContext(base, next);
  const applied = applyDelta(JSON.parse('{"symbols":{"__proto__":{"tick":1}}}'), sent(delta));
  assert.deepStrictEqual(applied, next);
  assert.equal(Object.getPrototypeOf(applied.symbols), Object.prototype);
  const copy = cloneJson(next);
  assert.deepStrictEqual(copy, next);
  assert.equal(Object.getPrototypeOf(copy.symbols), Object.prototype);
});

Deno.test("cloneJson: an equal copy that shares no object with the original", () => {
  fc.assert(
    fc.property(context, (value) => {
      const original = asJson(value);
      const copy = cloneJson(original as Json) as JsonObject;
      assert.deepStrictEqual(copy, original);
      mutateAll(copy);
      assert.deepStrictEqual(original, asJson(value));
    }),
  );
});
