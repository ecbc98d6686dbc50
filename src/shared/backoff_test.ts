import assert from "node:assert/strict";
import { exponentialBackoff } from "./backoff.ts";

Deno.test("exponentialBackoff doubles from the base and stops at the cap", () => {
  const delays = [0, 1, 2, 3, 4, 5, 6, 7].map((n) => exponentialBackoff(n));
  assert.deepEqual(delays, [1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000]);
  assert.deepEqual(exponentialBackoff(2, { baseMs: 100, maxMs: 5_000 }), 400);
  assert.deepEqual(exponentialBackoff(10, { baseMs: 100, maxMs: 5_000 }), 5_000);
  assert.deepEqual(exponentialBackoff(3, { baseMs: 10, factor: 3, maxMs: 1_000 }), 270);
});

Deno.test("exponentialBackoff treats odd attempts safely", () => {
  assert.deepEqual(exponentialBackoff(-3), 1_000);
  assert.deepEqual(exponentialBackoff(1.9), 2_000);
  assert.deepEqual(exponentialBackoff(5_000), 60_000);
});

Deno.test("exponentialBackoff jitter takes off at most its share", () => {
  assert.deepEqual(exponentialBackoff(1, { jitter: 0.5, random: () => 0 }), 2_000);
  assert.deepEqual(exponentialBackoff(1, { jitter: 0.5, random: () => 0.5 }), 1_500);
  assert.deepEqual(exponentialBackoff(1, { jitter: 0.5, random: () => 0.999 }) > 1_000, true);
  assert.deepEqual(exponentialBackoff(1, { jitter: 5, random: () => 0.5 }), 1_000);
});
