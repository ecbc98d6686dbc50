import assert from "node:assert/strict";
import { HEX_ID, IdSequence, newId } from "./_ids.ts";

Deno.test("newId: ObjectId-shaped, seconds first, strictly increasing within a process", () => {
  const now = Date.UTC(2026, 0, 6, 8, 0, 0, 123);
  const ids = Array.from({ length: 10_000 }, () => newId(now));
  for (const id of ids) assert.match(id, HEX_ID);
  assert.equal(ids[0]!.slice(0, 8), Math.floor(now / 1000).toString(16));
  for (let i = 1; i < ids.length; i++) {
    assert.ok(ids[i - 1]! < ids[i]!, `${ids[i - 1]} < ${ids[i]}`);
  }
  // One process value for the whole process.
  assert.equal(new Set(ids.map((id) => id.slice(8, 18))).size, 1);
  assert.ok(newId(now + 1_000) > newId(now), "a later second sorts after");
});

Deno.test("IdSequence: the counter wraps into the process value, never backwards", () => {
  const sequence = new IdSequence(0x12_3456_789a, 0xff_fffe);
  const now = 1_700_000_000_000;
  const ids = [sequence.next(now), sequence.next(now), sequence.next(now)];
  assert.deepEqual(ids.map((id) => id.slice(8)), [
    "123456789affffff",
    "123456789b000000",
    "123456789b000001",
  ]);
  assert.ok(ids[0]! < ids[1]! && ids[1]! < ids[2]!);
  const last = new IdSequence(2 ** 40 - 1, 0xff_ffff).next(now);
  assert.equal(last.slice(8), "0000000000000000", "the 5 bytes wrap too, after 2^64 ids");
});
