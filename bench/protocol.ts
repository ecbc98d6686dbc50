/**
 * Bridge message decoding benchmark: a snapshot with 200 positions and 200 pending orders on 6
 * symbols (about 100 KiB of JSON, the size the EA sends for a busy account), decoded as the
 * bridge does on every snapshot. Prints p50/p99 per snapshot of
 *
 * - the validation alone (`readEaMessage` on the parsed JSON): what the hand-written validators
 *   cost, target p99 < 0.1 ms;
 * - the whole decode (UTF-8, `JSON.parse`, validation), beside `JSON.parse` alone as the
 *   reference: the part no validator can save.
 *
 * Run: `deno run -A bench/protocol.ts`.
 *
 * @module
 */
import { decodeEaMessage, encodeMessage, readEaMessage } from "../src/mt5/protocol.ts";
import { timeEach } from "./_timing.ts";
import { sampleOrder, samplePosition, sampleSnapshot } from "../src/rules/samples.ts";

const POSITIONS = 200;
const ORDERS = 200;
const VARIANTS = 32;
const WARMUP = 2_000;
const RUNS = 20_000;
const TARGET_VALIDATION_P99_MS = 0.1;
const START = Date.parse("2026-11-24T10:00:00Z");
const SYMBOLS = ["EURUSD", "GBPUSD", "USDJPY", "XAUUSD", "US30", "BTCUSD"];

function frame(variant: number): Uint8Array {
  const positions = Array.from({ length: POSITIONS }, (_, k) =>
    samplePosition({
      ticket: 10_000 + k,
      symbol: SYMBOLS[k % SYMBOLS.length]!,
      side: k % 2 === 0 ? "buy" : "sell",
      volume: 0.1 + (k % 5) * 0.1,
      price: 1.1 + Math.sin(variant + k) / 1_000,
      sl: k % 2 === 0 ? 1.095 : 1.105,
      profit: Math.round(Math.sin(variant + k) * 2_000) / 100,
      swap: -0.5,
      commission: -1,
      comment: `grid ${k}`,
    }, START));
  const orders = Array.from({ length: ORDERS }, (_, k) => ({
    ...sampleOrder(20_000 + k, START),
    symbol: SYMBOLS[k % SYMBOLS.length]!,
  }));
  const snapshot = sampleSnapshot({ utc: START + variant * 250, positions, seq: variant + 1 });
  const symbols = Object.fromEntries(
    SYMBOLS.map((name) => [name, snapshot.symbols.EURUSD ?? Object.values(snapshot.symbols)[0]!]),
  );
  return encodeMessage({ ...snapshot, orders, symbols });
}

const measure = (run: (i: number) => unknown) => timeEach(WARMUP, RUNS, run);

function line(name: string, figures: { p50: number; p99: number }, target?: number): string {
  const judged = target === undefined
    ? ""
    : `  (target p99 < ${target} ms: ${figures.p99 < target ? "ok" : "MISSED"})`;
  return `${name.padEnd(34)} p50 ${figures.p50.toFixed(4)} ms  p99 ${
    figures.p99.toFixed(4)
  } ms${judged}`;
}

const frames = Array.from({ length: VARIANTS }, (_, i) => frame(i));
const texts = frames.map((bytes) => new TextDecoder().decode(bytes));
const parsed = texts.map((text) => JSON.parse(text) as unknown);
for (const value of parsed) {
  const read = readEaMessage(value);
  if (!read.ok) throw new Error(`the benchmark's snapshot is invalid: ${read.error}`);
}

console.log(
  `protocol benchmark: snapshot of ${POSITIONS} positions, ${ORDERS} orders, ` +
    `${SYMBOLS.length} symbols (${(frames[0]!.length / 1024).toFixed(0)} KiB), ` +
    `${RUNS.toLocaleString("en-US")} runs, Deno ${Deno.version.deno}`,
);
let sink = 0;
const validation = measure((i) => {
  const read = readEaMessage(parsed[i % VARIANTS]);
  if (read.ok) sink++;
});
const decode = measure((i) => {
  const read = decodeEaMessage(frames[i % VARIANTS]!);
  if (read.ok) sink++;
});
const jsonOnly = measure((i) => {
  if (JSON.parse(texts[i % VARIANTS]!) !== null) sink++;
});
console.log(line("validation (readEaMessage)", validation, TARGET_VALIDATION_P99_MS));
console.log(line("decode (UTF-8 + JSON + validation)", decode));
console.log(line("reference: JSON.parse alone", jsonOnly));
if (sink !== 3 * (WARMUP + RUNS)) throw new Error("a decode failed during the run");
