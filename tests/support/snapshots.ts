/**
 * Builders of protocol messages for tests: valid by construction (checked against the schema).
 *
 * @module
 */
import {
  type Order,
  type Position,
  type Snapshot,
  snapshotSchema,
} from "../../src/mt5/protocol.ts";

/** A position with sensible defaults. */
export function position(overrides: Partial<Position> = {}): Position {
  return {
    ticket: 1001,
    symbol: "EURUSD",
    side: "buy",
    volume: 1,
    open_price: 1.1,
    price: 1.1,
    sl: 0,
    tp: 0,
    profit: 0,
    swap: 0,
    commission: 0,
    open_time: Date.UTC(2026, 10, 24, 8),
    magic: 0,
    comment: "",
    ...overrides,
  };
}

/** A pending order with sensible defaults. */
export function order(overrides: Partial<Order> = {}): Order {
  return {
    ticket: 2001,
    symbol: "EURUSD",
    type: "buy_limit",
    volume: 1,
    price: 1.09,
    sl: 0,
    tp: 0,
    setup_time: Date.UTC(2026, 10, 24, 8),
    magic: 0,
    comment: "",
    ...overrides,
  };
}

/** A snapshot of a 10,000 USD account with the given overrides, validated. */
export function snapshot(overrides: Partial<Snapshot> = {}): Snapshot {
  const at = Date.UTC(2026, 10, 24, 10);
  const value: Snapshot = {
    type: "snapshot",
    seq: 1,
    server_time: at + 2 * 3_600_000,
    utc_time: at,
    account: {
      login: 5012345,
      currency: "USD",
      balance: 10_000,
      equity: 10_000,
      margin: 0,
      free_margin: 10_000,
      profit: 0,
      credit: 0,
      leverage: 100,
      margin_mode: "hedging",
    },
    positions: [],
    orders: [],
    symbols: {
      EURUSD: {
        tick_value: 1,
        tick_size: 0.00001,
        volume_step: 0.01,
        volume_min: 0.01,
        trade_allowed: true,
      },
    },
    realized_today: { profit: 0, swap: 0, commission: 0, total: 0 },
    trade_allowed: true,
    locked: false,
    ...overrides,
  };
  return snapshotSchema.parse(value);
}
