import assert from "node:assert/strict";
import fc from "fast-check";
import { applyPatch, copyJson, DeltaEncoder, type Json, type Patch } from "./_json_delta.ts";
import { samplePosition, sampleSnapshot } from "./samples.ts";

/** What the other side of a pipe receives. */
function wire(patch: Patch): Patch {
  return JSON.parse(JSON.stringify(patch));
}

/** JSON-like values with what JSON.stringify drops or changes: undefined, NaN, Infinity. */
const loose = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: "small" },
    fc.constantFrom(null, true, false, 0, -1.5, 1e300, NaN, Infinity, undefined, "", "a"),
    fc.double(),
    fc.string(),
    fc.array(tie("value"), { maxLength: 5 }),
    fc.dictionary(
      fc.oneof(fc.string({ maxLength: 3 }), fc.constantFrom("__proto__", "constructor")),
      tie("value"),
      { maxKeys: 5 },
    ),
  ),
})).value;

Deno.test("json delta: applying each patch in turn rebuilds what JSON would carry", () => {
  fc.assert(
    fc.property(fc.array(loose, { minLength: 1, maxLength: 6 }), (values) => {
      const encoder = new DeltaEncoder();
      let state: Json | undefined;
      for (const value of values) {
        if (value === undefined) continue;
        state = applyPatch(state, wire(encoder.encode(value)));
        assert.deepEqual(state, JSON.parse(JSON.stringify(value)));
      }
    }),
    { numRuns: 2_000 },
  );
});

Deno.test("json delta: the encoder keeps its own copy; changing the sent value later is seen", () => {
  const encoder = new DeltaEncoder();
  const value = { positions: [{ ticket: 1, price: 1.1 }], at: new Date(0) };
  let state = applyPatch(undefined, wire(encoder.encode(value)));
  value.positions[0]!.price = 1.2;
  value.positions.push({ ticket: 2, price: 2 });
  const patch = encoder.encode(value);
  assert.deepEqual(patch, {
    s: { positions: { n: 2, s: { 0: { s: { price: 1.2 } }, 1: [{ ticket: 2, price: 2 }] } } },
  });
  state = applyPatch(state, wire(patch));
  assert.deepEqual(state, JSON.parse(JSON.stringify(value)));
  assert.deepEqual(encoder.encode(value), {}, "nothing changed: an empty patch");
  encoder.reset();
  assert.ok(Array.isArray(encoder.encode(value)), "after reset the whole value is sent");
});

Deno.test("json delta: a patch that does not fit its base is refused", () => {
  assert.throws(() => applyPatch({ a: 1 }, { n: 1 }), /array patch on a value that is no array/);
  assert.throws(() => applyPatch([1], { s: { a: [1] } }), /object patch on a value that is no/);
  assert.throws(() => applyPatch(undefined, {}), /empty patch on nothing/);
});

Deno.test("json delta: 200 moving positions cost a fraction of the whole context", () => {
  const snapshot = (i: number) =>
    sampleSnapshot({
      utc: 1_000_000 + i * 250,
      seq: i + 1,
      positions: Array.from({ length: 200 }, (_, k) =>
        samplePosition({
          ticket: 10_000 + k,
          price: 1.1 + Math.sin(i + k) / 1_000,
          profit: Math.sin(i + k) * 20,
        })),
    });
  const encoder = new DeltaEncoder();
  const full = JSON.stringify(encoder.encode(snapshot(0))).length;
  const delta = JSON.stringify(encoder.encode(snapshot(1))).length;
  assert.ok(delta < full / 2, `delta ${delta} bytes, full ${full} bytes`);
});

Deno.test("json delta: copyJson is deep and keeps a __proto__ key as data", () => {
  const value = JSON.parse('{"a":[{"b":1}],"__proto__":{"x":1}}') as Json;
  const copy = copyJson(value) as Record<string, Json>;
  assert.deepEqual(copy, value);
  assert.notEqual(copy["a"], (value as Record<string, Json>)["a"]);
  assert.equal(Object.getPrototypeOf(copy), Object.prototype);
  assert.ok(Object.hasOwn(copy, "__proto__"));
});
