/**
 * What the risk process writes as an element's metrics, through its real writer into a real
 * SQLite store: the counts with the positions and pending orders themselves (profit with swap,
 * capped with a `truncated` flag) and the server's offset from UTC, all accepted by the schema.
 *
 * @module
 */
import assert from "node:assert/strict";
import { LeasedWriter } from "../../src/risk/leased_writer.ts";
import { ManualClock } from "../../src/shared/clock.ts";
import { logger } from "../../src/shared/logging.ts";
import { MAX_LISTED_TRADES, metricsSchema, openStore } from "../../src/store/mod.ts";
import { order, position, snapshot } from "../support/snapshots.ts";

async function withWriter(
  body: (
    writer: LeasedWriter,
    read: () => Promise<Record<string, unknown> | null>,
  ) => Promise<void>,
) {
  const dir = await Deno.makeTempDir({ prefix: "riskguard-writer-" });
  const store = await openStore(`sqlite:${dir}/store.db`);
  const clock = new ManualClock(Date.UTC(2026, 10, 24, 10));
  try {
    const inserted = await store.insertElement({ server: "S", login: 42, password: "pw-x" });
    assert.ok(inserted.ok);
    const id = inserted.element.id;
    await store.addInstance({ path: "sim:calm", host: "h", port: 23_000 });
    const lease = await store.claimFreeInstance(id, "h", clock.now());
    const writer = new LeasedWriter({
      store,
      lease,
      clock,
      dryRun: false,
      metricsIntervalMs: 1_000,
      pingIntervalMs: 1_000,
      onFatal: (error) => assert.fail(`fatal: ${error}`),
      log: logger("test"),
    });
    try {
      await body(writer, async () => {
        assert.equal(await writer.flush(5_000), true, "writes done");
        const parsed = await store.getElement(id);
        assert.ok(parsed?.valid, "the stored element is valid");
        return parsed.element.metrics as Record<string, unknown> | null;
      });
    } finally {
      await writer.close();
    }
  } finally {
    await store.close();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("metrics list the positions and pending orders, and the server offset", async () => {
  await withWriter(async (writer, read) => {
    const buy = position({ ticket: 11, symbol: "EURUSD", profit: -12.5, swap: -0.75 });
    const sell = position({ ticket: 12, symbol: "XAUUSD", side: "sell", sl: 0, tp: 0 });
    const limit = order({ ticket: 21, symbol: "GBPUSD", type: "sell_limit", price: 1.2734 });
    const at = snapshot({ positions: [buy, sell], orders: [limit] });
    const serverTime = at.utc_time + 2 * 3_600_000 + 1_234; // UTC+2, a little skew
    writer.writeMetrics({ ...at, server_time: serverTime }, -13.25, () => ({}));
    const metrics = await read();
    assert.ok(metrics !== null);
    assert.equal(metrics.positions, 2);
    assert.equal(metrics.orders, 1);
    assert.equal(metrics.server_offset, 7_200_000);
    assert.deepEqual(metrics.open_positions, {
      truncated: false,
      items: [
        {
          ticket: 11,
          symbol: "EURUSD",
          side: "buy",
          volume: buy.volume,
          open_price: buy.open_price,
          sl: buy.sl,
          tp: buy.tp,
          profit: -13.25,
        },
        {
          ticket: 12,
          symbol: "XAUUSD",
          side: "sell",
          volume: sell.volume,
          open_price: sell.open_price,
          sl: 0,
          tp: 0,
          profit: sell.profit + sell.swap,
        },
      ],
    });
    assert.deepEqual(metrics.pending_orders, {
      truncated: false,
      items: [{
        ticket: 21,
        symbol: "GBPUSD",
        type: "sell_limit",
        volume: limit.volume,
        price: 1.2734,
        sl: limit.sl,
        tp: limit.tp,
      }],
    });
  });
});

Deno.test("metrics list at most MAX_LISTED_TRADES of each, flagged as truncated", async () => {
  await withWriter(async (writer, read) => {
    const many = MAX_LISTED_TRADES + 25;
    const positions = Array.from({ length: many }, (_, i) => position({ ticket: 1_000 + i }));
    const orders = Array.from({ length: many }, (_, i) => order({ ticket: 5_000 + i }));
    writer.writeMetrics(snapshot({ positions, orders }), 0, () => ({}));
    const metrics = await read();
    assert.ok(metrics !== null);
    assert.equal(metrics.positions, many, "the count stays the real one");
    const listed = metrics.open_positions as { items: { ticket: number }[]; truncated: boolean };
    assert.equal(listed.items.length, MAX_LISTED_TRADES);
    assert.equal(listed.truncated, true);
    assert.equal(listed.items[0]!.ticket, 1_000);
    const pending = metrics.pending_orders as { items: unknown[]; truncated: boolean };
    assert.equal(pending.items.length, MAX_LISTED_TRADES);
    assert.equal(pending.truncated, true);
  });
});

Deno.test("the schema refuses a longer list and a malformed entry, naming the field", () => {
  const base = { balance: 1, equity: 1, daily_pl: 0, positions: 0, orders: 0, updated_at: 1 };
  const entry = {
    ticket: 1,
    symbol: "EURUSD",
    side: "buy",
    volume: 1,
    open_price: 1.1,
    sl: 0,
    tp: 0,
    profit: 0,
  };
  const long = Array.from({ length: MAX_LISTED_TRADES + 1 }, () => entry);
  const tooLong = metricsSchema.parse({
    ...base,
    open_positions: { items: long, truncated: true },
  });
  assert.equal(tooLong.ok, false);
  assert.equal(tooLong.ok || tooLong.issues[0]?.field, "open_positions.items");
  const badSide = metricsSchema.parse({
    ...base,
    open_positions: { items: [{ ...entry, side: "long" }], truncated: false },
  });
  assert.equal(badSide.ok, false);
  assert.equal(badSide.ok || badSide.issues[0]?.field, "open_positions.items.0.side");
  assert.equal(metricsSchema.parse(base).ok, true, "documents without lists stay valid");
});
