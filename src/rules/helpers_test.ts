import assert from "node:assert/strict";
import { formatMoney, positionRiskAtStop, resolveLimit } from "./helpers.ts";
import { SAMPLE_SYMBOLS, samplePosition } from "./samples.ts";

const EURUSD = SAMPLE_SYMBOLS.EURUSD!;

Deno.test("positionRiskAtStop: buy and sell, swap and commission, no stop", () => {
  // 300 ticks x 1 USD x 0.5 lots = 150, commission -3.5 adds to the loss
  assert.equal(
    positionRiskAtStop(
      samplePosition({ ticket: 1, volume: 0.5, sl: 1.097, commission: -3.5 }),
      EURUSD,
    ),
    153.5,
  );
  // sell 1.1 with sl 1.1025: 250 ticks = 250, positive swap 2 reduces the loss
  assert.equal(
    positionRiskAtStop(samplePosition({ ticket: 2, side: "sell", sl: 1.1025, swap: 2 }), EURUSD),
    248,
  );
  // a stop beyond entry locks in profit: negative risk
  assert.equal(positionRiskAtStop(samplePosition({ ticket: 3, sl: 1.1005 }), EURUSD), -50);
  assert.equal(positionRiskAtStop(samplePosition({ ticket: 4 }), EURUSD), Infinity);
});

Deno.test("resolveLimit and formatMoney", () => {
  assert.equal(resolveLimit({ kind: "money", value: 250 }, 1e6), 250);
  assert.equal(resolveLimit({ kind: "percent", value: 5 }, 20_000), 1_000);
  assert.equal(formatMoney(512.3, "EUR"), "512.30 EUR");
});
