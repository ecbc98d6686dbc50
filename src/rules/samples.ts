/**
 * Sample snapshots: a small builder and a few named account scenarios, used by
 * `riskguard rules check`, tests and benchmarks.
 *
 * @module
 */
import type { Order, Position, Snapshot, SymbolInfo } from "../mt5/protocol.ts";
import { symbolInfoOf } from "./helpers.ts";

/** Contract data of the sample symbols (EURUSD-like: 1 tick = 0.00001 = 1 USD per lot). */
export const SAMPLE_SYMBOLS: Readonly<Record<string, SymbolInfo>> = Object.freeze({
  EURUSD: {
    tick_value: 1,
    tick_size: 0.00001,
    volume_step: 0.01,
    volume_min: 0.01,
    trade_allowed: true,
  },
  XAUUSD: {
    tick_value: 1,
    tick_size: 0.01,
    volume_step: 0.01,
    volume_min: 0.01,
    trade_allowed: true,
  },
  US500: {
    tick_value: 0.1,
    tick_size: 0.1,
    volume_step: 0.1,
    volume_min: 0.1,
    trade_allowed: true,
  },
});

/** Parts of a position; the rest is filled in. */
export type PositionDraft = Partial<Position> & { ticket: number };

/** Builds a position: a 1-lot EURUSD buy at 1.1 with no stop, opened an hour before `at`. */
export function samplePosition(draft: PositionDraft, at = 0): Position {
  return {
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
    open_time: Math.max(0, at - 3_600_000),
    magic: 0,
    comment: "",
    ...draft,
  };
}

/** Options of {@link sampleSnapshot}. */
export interface SampleSnapshotOptions {
  /** UTC epoch ms of the snapshot. */
  utc: number;
  /** Server offset from UTC in ms; default +2 h (a typical EET server). */
  serverOffset?: number;
  /** Balance; default 10,000. */
  balance?: number;
  /**
   * Positions; equity is balance + their profit + swap. Their commission is only reported: as in
   * MT5 it was charged to the balance when the deal was made, so `balance` already holds it.
   */
  positions?: Position[];
  /** Pending orders. */
  orders?: Order[];
  /** Today's realized P/L total; default 0. */
  realized?: number;
  /** Sequence number; default 1. */
  seq?: number;
  /** Account currency; default USD. */
  currency?: string;
}

/** Builds a consistent snapshot (equity and profit derived from the positions). */
export function sampleSnapshot(options: SampleSnapshotOptions): Snapshot {
  const offset = options.serverOffset ?? 7_200_000;
  const balance = options.balance ?? 10_000;
  const positions = options.positions ?? [];
  let floating = 0;
  for (const position of positions) {
    floating += position.profit + position.swap;
  }
  const equity = balance + floating;
  const symbols: Record<string, SymbolInfo> = {};
  for (const item of [...positions, ...(options.orders ?? [])]) {
    const info = symbolInfoOf(SAMPLE_SYMBOLS, item.symbol);
    if (info !== undefined) symbols[item.symbol] = info;
  }
  const realized = options.realized ?? 0;
  return {
    type: "snapshot",
    seq: options.seq ?? 1,
    server_time: options.utc + offset,
    utc_time: options.utc,
    account: {
      login: 1000001,
      currency: options.currency ?? "USD",
      balance,
      equity,
      margin: 0,
      free_margin: equity,
      profit: floating,
      credit: 0,
      leverage: 100,
      margin_mode: "hedging",
    },
    positions,
    orders: options.orders ?? [],
    symbols,
    realized_today: { profit: realized, swap: 0, commission: 0, total: realized },
    trade_allowed: true,
    locked: false,
  };
}

/** A pending EURUSD buy limit. */
export function sampleOrder(ticket: number, at = 0): Order {
  return {
    ticket,
    symbol: "EURUSD",
    type: "buy_limit",
    volume: 1,
    price: 1.09,
    sl: 0,
    tp: 0,
    setup_time: Math.max(0, at - 600_000),
    magic: 0,
    comment: "",
  };
}

/**
 * Named scenarios at UTC instant `utc` (server time +2 h): `flat`, `calm` (two small winners
 * with stops), `losing_day` (-600 floating, a pending order), `winning_day` (+1,200 realized,
 * +300 floating), `no_stop_loss`, `big_position` (risks 2,000 at its stop), `many_positions`
 * (12 positions, 14 lots), `fresh_position` (opened one minute ago).
 */
export function sampleScenarios(utc: number): { name: string; snapshot: Snapshot }[] {
  const offset = 7_200_000;
  const server = utc + offset;
  const pos = (draft: PositionDraft) => samplePosition({ open_time: server - 3_600_000, ...draft });
  return [
    { name: "flat", snapshot: sampleSnapshot({ utc }) },
    {
      name: "calm",
      snapshot: sampleSnapshot({
        utc,
        positions: [
          pos({ ticket: 1001, sl: 1.098, price: 1.1005, profit: 50, commission: -7 }),
          pos({ ticket: 1002, side: "sell", sl: 1.102, price: 1.0995, profit: 50, swap: -1.2 }),
        ],
      }),
    },
    {
      name: "losing_day",
      snapshot: sampleSnapshot({
        utc,
        realized: -150,
        balance: 9_850,
        positions: [
          pos({ ticket: 2001, volume: 2, price: 1.0985, profit: -300, sl: 1.095 }),
          pos({ ticket: 2002, side: "sell", price: 1.103, profit: -300, commission: -7 }),
        ],
        orders: [sampleOrder(2101, server)],
      }),
    },
    {
      name: "winning_day",
      snapshot: sampleSnapshot({
        utc,
        realized: 1_200,
        balance: 11_200,
        positions: [pos({ ticket: 3001, price: 1.103, profit: 300, sl: 1.1 })],
      }),
    },
    {
      name: "no_stop_loss",
      snapshot: sampleSnapshot({ utc, positions: [pos({ ticket: 4001, volume: 0.5 })] }),
    },
    {
      name: "big_position",
      snapshot: sampleSnapshot({
        utc,
        positions: [
          pos({ ticket: 5001, volume: 4, sl: 1.095, price: 1.1, profit: 0, commission: -28 }),
          pos({ ticket: 5002, volume: 0.1, sl: 1.099, profit: 0 }),
        ],
      }),
    },
    {
      name: "many_positions",
      snapshot: sampleSnapshot({
        utc,
        positions: Array.from({ length: 12 }, (_, i) =>
          pos({
            ticket: 6001 + i,
            symbol: i % 3 === 0 ? "XAUUSD" : "EURUSD",
            volume: i < 2 ? 2 : 1,
            open_price: i % 3 === 0 ? 2_000 : 1.1,
            price: i % 3 === 0 ? 2_000 : 1.1,
            sl: i % 3 === 0 ? 1_990 : 1.099,
            open_time: server - (12 - i) * 60_000,
          })),
      }),
    },
    {
      name: "fresh_position",
      snapshot: sampleSnapshot({
        utc,
        positions: [pos({ ticket: 7001, sl: 1.099, open_time: server - 60_000 })],
      }),
    },
  ];
}
