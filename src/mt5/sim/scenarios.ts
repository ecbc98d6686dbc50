/**
 * The simulator's scenarios: market drift and gaps, the simulated trader's behaviour and the
 * faults injected. Times are simulated milliseconds since the start; amounts assume the default
 * 10 000 USD account.
 *
 * | scenario | what happens (at speed 1) |
 * |---|---|
 * | `calm` | small random trades with stop losses; P/L stays within a fraction of a percent |
 * | `losing_day` | the trader fights a trend and averages down; the day's loss passes 5 % within about 15 s |
 * | `big_position` | normal 0.1-lot trades, plus one 5-lot EURUSD position whose loss at SL is about 30 % |
 * | `winning_day` | the trader rides a trend; the day's profit passes 3 % within about 15 s |
 * | `gap` | a 1-lot EURUSD buy without SL, then a 150-pip gap down in one tick at 8 s (-1 500 USD) |
 * | `flaky` | requotes (retried), market-closed windows, and the EA disconnecting and reconnecting |
 *
 * The trader behaves like a person: while the account is locked it tries two trades (the EA
 * closes them at once), then gives up until the lock ends (`TRIES_WHILE_LOCKED`). Its far
 * pending orders expire after `pendingExpiryMs`, so a long run holds a few at a time, not dozens.
 *
 * @module
 */
import type { Gap } from "./market.ts";

/** The names of the built-in scenarios. */
export const SCENARIO_NAMES = [
  "calm",
  "losing_day",
  "big_position",
  "winning_day",
  "gap",
  "flaky",
] as const;

/** A built-in scenario name. */
export type ScenarioName = typeof SCENARIO_NAMES[number];

/** A position the trader opens at a given time. */
export interface ScriptedOpen {
  /** Simulated ms since the start. */
  at: number;
  symbol: string;
  side: "buy" | "sell";
  volume: number;
  /** Stop-loss distance in price units, 0 for none. */
  slDistance: number;
  /** Take-profit distance in price units, 0 for none. */
  tpDistance: number;
  comment?: string;
}

/** A pending order the trader places at a given time. */
export interface ScriptedPending {
  at: number;
  symbol: string;
  type: "buy_limit" | "sell_limit" | "buy_stop" | "sell_stop";
  volume: number;
  /** Distance from the current price, in price units (always away from the market). */
  distance: number;
}

/** The random part of the trader's behaviour. */
export interface TraderPolicy {
  /** Simulated ms between decisions. */
  everyMs: number;
  /** Probability to open a position at a decision. */
  openProbability: number;
  /** No new position when this many are open. */
  maxPositions: number;
  symbols: readonly string[];
  volumes: readonly number[];
  /** `random`, or trade along/against the scenario's drift. */
  direction: "random" | "with_trend" | "against_trend";
  /** Stop-loss distance in multiples of the symbol's "pip" (10 ticks), 0 for none. */
  slPips: number;
  /** Take-profit distance in pips, 0 for none. */
  tpPips: number;
  /** Positions older than this are closed by the trader (simulated ms), 0 = never. */
  holdMs: number;
  /** Probability to place a far pending order at a decision. */
  pendingProbability: number;
  /**
   * The trader deletes a far pending order it placed once it is this old (simulated ms), as a
   * person cancels or lets expire an order the market never reached; 0 = never. Without it a
   * long run piles up pending orders no real trader keeps (78 after 28 minutes of `calm`).
   */
  pendingExpiryMs: number;
}

/** Faults injected by the `flaky` scenario. */
export interface FaultPlan {
  /** Probability that one trade request is answered with a requote (10004). */
  requoteProbability: number;
  /** Windows (simulated ms) in which the market is closed (10018). */
  marketClosed: readonly { from: number; to: number }[];
  /** Times (simulated ms) at which the EA drops its sockets, and for how long (real ms). */
  disconnects: readonly { at: number; downMs: number }[];
}

/** Everything that defines a scenario. */
export interface Scenario {
  name: ScenarioName;
  description: string;
  balance: number;
  leverage: number;
  /** Drift per symbol, price units per simulated second. */
  drift: Readonly<Record<string, number>>;
  /** Volatility multiplier. */
  volatility: number;
  gaps: readonly Gap[];
  opens: readonly ScriptedOpen[];
  pendings: readonly ScriptedPending[];
  trader: TraderPolicy | null;
  faults: FaultPlan | null;
}

const PIP = { EURUSD: 0.0001, GBPUSD: 0.0001, USDJPY: 0.01, XAUUSD: 0.1 } as const;

/** Returns the definition of a built-in scenario. */
export function scenario(name: ScenarioName): Scenario {
  const base = {
    name,
    balance: 10_000,
    leverage: 100,
    drift: {},
    volatility: 1,
    gaps: [],
    opens: [],
    pendings: [],
    trader: null,
    faults: null,
  } satisfies Omit<Scenario, "description">;
  switch (name) {
    case "calm":
      return {
        ...base,
        description: "small random trades with stop losses; P/L stays small",
        volatility: 0.5,
        pendings: [{
          at: 1_000,
          symbol: "EURUSD",
          type: "buy_limit",
          volume: 0.1,
          distance: 0.005,
        }],
        trader: {
          everyMs: 2_000,
          openProbability: 0.5,
          maxPositions: 3,
          symbols: ["EURUSD", "GBPUSD", "USDJPY"],
          volumes: [0.01, 0.02, 0.05, 0.1],
          direction: "random",
          slPips: 20,
          tpPips: 30,
          holdMs: 20_000,
          pendingProbability: 0.05,
          pendingExpiryMs: 60_000,
        },
      };
    case "losing_day":
      return {
        ...base,
        description: "the trader fights a trend and averages down: a daily loss over 5 % in ~15 s",
        drift: { EURUSD: -0.00035, GBPUSD: -0.0004, XAUUSD: -0.9 },
        opens: [
          {
            at: 500,
            symbol: "EURUSD",
            side: "buy",
            volume: 0.3,
            slDistance: 30 * PIP.EURUSD,
            tpDistance: 0,
          },
          {
            at: 700,
            symbol: "GBPUSD",
            side: "buy",
            volume: 0.3,
            slDistance: 30 * PIP.GBPUSD,
            tpDistance: 0,
          },
          { at: 900, symbol: "XAUUSD", side: "buy", volume: 0.1, slDistance: 9, tpDistance: 0 },
        ],
        pendings: [{ at: 1_200, symbol: "EURUSD", type: "buy_limit", volume: 0.3, distance: 0.01 }],
        trader: {
          everyMs: 2_500,
          openProbability: 1,
          maxPositions: 8,
          symbols: ["EURUSD", "GBPUSD", "XAUUSD"],
          volumes: [0.2, 0.3],
          direction: "against_trend",
          slPips: 30,
          tpPips: 0,
          holdMs: 0,
          pendingProbability: 0,
          pendingExpiryMs: 0,
        },
      };
    case "big_position":
      return {
        ...base,
        description: "normal small trades plus one 5-lot position risking ~30 % at its SL",
        volatility: 0.5,
        opens: [
          {
            at: 500,
            symbol: "GBPUSD",
            side: "buy",
            volume: 0.1,
            slDistance: 20 * PIP.GBPUSD,
            tpDistance: 40 * PIP.GBPUSD,
          },
          {
            at: 2_000,
            symbol: "EURUSD",
            side: "buy",
            volume: 5,
            slDistance: 60 * PIP.EURUSD,
            tpDistance: 120 * PIP.EURUSD,
            comment: "big",
          },
          {
            at: 2_500,
            symbol: "USDJPY",
            side: "sell",
            volume: 0.1,
            slDistance: 20 * PIP.USDJPY,
            tpDistance: 40 * PIP.USDJPY,
          },
        ],
        trader: null,
      };
    case "winning_day":
      return {
        ...base,
        description: "the trader rides a trend: a daily profit over 3 % in ~15 s",
        drift: { EURUSD: 0.00035, GBPUSD: 0.0004, XAUUSD: 0.9 },
        opens: [
          {
            at: 500,
            symbol: "EURUSD",
            side: "buy",
            volume: 0.3,
            slDistance: 30 * PIP.EURUSD,
            tpDistance: 40 * PIP.EURUSD,
          },
          {
            at: 700,
            symbol: "GBPUSD",
            side: "buy",
            volume: 0.3,
            slDistance: 30 * PIP.GBPUSD,
            tpDistance: 40 * PIP.GBPUSD,
          },
          { at: 900, symbol: "XAUUSD", side: "buy", volume: 0.1, slDistance: 9, tpDistance: 12 },
        ],
        trader: {
          everyMs: 2_500,
          openProbability: 1,
          maxPositions: 6,
          symbols: ["EURUSD", "GBPUSD", "XAUUSD"],
          volumes: [0.2, 0.3],
          direction: "with_trend",
          slPips: 30,
          tpPips: 40,
          holdMs: 0,
          pendingProbability: 0,
          pendingExpiryMs: 0,
        },
      };
    case "gap":
      return {
        ...base,
        description: "a 1-lot EURUSD buy without SL, then a 150-pip gap down in one tick at 8 s",
        volatility: 0.3,
        gaps: [{ at: 8_000, symbol: "EURUSD", jump: -0.015 }],
        opens: [
          { at: 500, symbol: "EURUSD", side: "buy", volume: 1, slDistance: 0, tpDistance: 0 },
          {
            at: 700,
            symbol: "GBPUSD",
            side: "sell",
            volume: 0.1,
            slDistance: 20 * PIP.GBPUSD,
            tpDistance: 0,
          },
        ],
        pendings: [{ at: 900, symbol: "EURUSD", type: "sell_stop", volume: 0.5, distance: 0.03 }],
      };
    case "flaky":
      return {
        ...base,
        description: "requotes, market-closed windows and EA disconnects while trading",
        drift: { EURUSD: -0.0001, GBPUSD: -0.0001 },
        opens: [
          { at: 500, symbol: "EURUSD", side: "buy", volume: 0.5, slDistance: 0, tpDistance: 0 },
          { at: 700, symbol: "GBPUSD", side: "buy", volume: 0.5, slDistance: 0, tpDistance: 0 },
        ],
        pendings: [{ at: 900, symbol: "GBPUSD", type: "buy_limit", volume: 0.2, distance: 0.01 }],
        trader: {
          everyMs: 3_000,
          openProbability: 0.6,
          maxPositions: 5,
          symbols: ["EURUSD", "GBPUSD"],
          volumes: [0.1, 0.2],
          direction: "random",
          slPips: 0,
          tpPips: 0,
          holdMs: 0,
          pendingProbability: 0.1,
          pendingExpiryMs: 60_000,
        },
        faults: {
          requoteProbability: 0.5,
          marketClosed: [{ from: 6_000, to: 9_000 }, { from: 30_000, to: 33_000 }],
          disconnects: [{ at: 5_000, downMs: 300 }, { at: 17_000, downMs: 300 }, {
            at: 40_000,
            downMs: 300,
          }],
        },
      };
  }
}

/** Narrows a string to a built-in scenario name. */
export function isScenarioName(name: string): name is ScenarioName {
  return (SCENARIO_NAMES as readonly string[]).includes(name);
}

/** The "pip" of a simulated symbol: 10 ticks. */
export function pipOf(symbol: string): number {
  return PIP[symbol as keyof typeof PIP] ?? 0.0001;
}
