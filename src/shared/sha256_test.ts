import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import fc from "fast-check";
import { sha256Hex } from "./sha256.ts";

Deno.test("sha256Hex: the FIPS 180-4 examples", () => {
  assert.equal(
    sha256Hex("abc"),
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
  );
  assert.equal(
    sha256Hex(""),
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
  );
  assert.equal(
    sha256Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
    "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
  );
});

Deno.test("sha256Hex: the same digest as node:crypto for any text, at every padding length", () => {
  const reference = (text: string) => createHash("sha256").update(text).digest("hex");
  for (let length = 0; length <= 200; length++) {
    const text = "x".repeat(length);
    assert.equal(sha256Hex(text), reference(text), `length ${length}`);
  }
  fc.assert(
    fc.property(fc.string({ unit: "binary", maxLength: 300 }), (text) => {
      assert.equal(sha256Hex(text), reference(text));
    }),
    { numRuns: 500 },
  );
});
