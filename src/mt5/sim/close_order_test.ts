import assert from "node:assert/strict";
import { closeAllOrder, type CloseCandidate, fifoBlocks } from "./close_order.ts";

const positions: CloseCandidate[] = [
  { ticket: 1, symbol: "EURUSD", openTime: 100, profit: -10 },
  { ticket: 2, symbol: "GBPUSD", openTime: 150, profit: -50 },
  { ticket: 3, symbol: "EURUSD", openTime: 200, profit: -80 },
  { ticket: 4, symbol: "EURUSD", openTime: 50, profit: 5 },
];

Deno.test("close order: largest loss first on an ordinary account", () => {
  assert.deepEqual(closeAllOrder(positions, false), [3, 2, 1, 4]);
});

Deno.test("close order: FIFO keeps a symbol's positions oldest first, worst symbol first", () => {
  // EURUSD loses 85 in all, GBPUSD 50: EURUSD first, oldest (4) to newest (3).
  assert.deepEqual(closeAllOrder(positions, true), [4, 1, 3, 2]);
  const order = closeAllOrder(positions, true);
  const left = [...positions];
  for (const ticket of order) {
    assert.equal(fifoBlocks(left, ticket), false, `ticket ${ticket} is the oldest of its symbol`);
    left.splice(left.findIndex((p) => p.ticket === ticket), 1);
  }
});

Deno.test("close order: a FIFO server blocks any but the oldest position of a symbol", () => {
  assert.equal(fifoBlocks(positions, 4), false);
  assert.equal(fifoBlocks(positions, 1), true);
  assert.equal(fifoBlocks(positions, 3), true);
  assert.equal(fifoBlocks(positions, 2), false);
});
