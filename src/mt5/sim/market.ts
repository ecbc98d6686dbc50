/**
 * The simulator's price engine: a random walk per symbol with optional drift and gaps,
 * deterministic for a given seed. Prices move on a fixed grid of simulated time (one tick every
 * `tickMs`), so the same seed gives the same ticks whatever the speed or the commands received.
 *
 * @module
 */
import { Prng } from "./_prng.ts";

/** Contract data of one simulated symbol (an account in USD is assumed). */
export interface SymbolSpec {
  /** Symbol name as MT5 shows it. */
  name: string;
  /** Decimal places of the price. */
  digits: number;
  /** Smallest price change. */
  tickSize: number;
  /** Units of the base asset per lot. */
  contractSize: number;
  /** `usd_quote`: profit in USD (EURUSD, XAUUSD); `usd_base`: profit in the quote currency (USDJPY). */
  kind: "usd_quote" | "usd_base";
  /** Spread in price units. */
  spread: number;
  /** Standard deviation of the mid price per square root of a second, in price units. */
  volatility: number;
  /** First mid price. */
  start: number;
  /** Margin per lot in USD (at the account's leverage, simplified to a constant). */
  marginPerLot: number;
  /** Commission per lot per side in USD (charged as a negative amount). */
  commissionPerLot: number;
  /** Swap per lot per simulated hour in USD (negative = charged). */
  swapPerLotHour: number;
}

/** The symbols every simulation quotes. */
export const SIM_SYMBOLS: readonly SymbolSpec[] = [
  {
    name: "EURUSD",
    digits: 5,
    tickSize: 0.00001,
    contractSize: 100_000,
    kind: "usd_quote",
    spread: 0.00012,
    volatility: 0.00004,
    start: 1.085,
    marginPerLot: 1085,
    commissionPerLot: 3.5,
    swapPerLotHour: -0.3,
  },
  {
    name: "GBPUSD",
    digits: 5,
    tickSize: 0.00001,
    contractSize: 100_000,
    kind: "usd_quote",
    spread: 0.00015,
    volatility: 0.00005,
    start: 1.27,
    marginPerLot: 1270,
    commissionPerLot: 3.5,
    swapPerLotHour: -0.4,
  },
  {
    name: "USDJPY",
    digits: 3,
    tickSize: 0.001,
    contractSize: 100_000,
    kind: "usd_base",
    spread: 0.012,
    volatility: 0.006,
    start: 151.2,
    marginPerLot: 1000,
    commissionPerLot: 3.5,
    swapPerLotHour: 0.5,
  },
  {
    name: "XAUUSD",
    digits: 2,
    tickSize: 0.01,
    contractSize: 100,
    kind: "usd_quote",
    spread: 0.25,
    volatility: 0.2,
    start: 2350,
    marginPerLot: 4700,
    commissionPerLot: 5,
    swapPerLotHour: -1.2,
  },
];

/** Volume limits shared by every simulated symbol. */
export const SIM_VOLUME = { min: 0.01, step: 0.01, max: 100 } as const;

/** A quote. */
export interface Quote {
  bid: number;
  ask: number;
}

/** A scheduled jump of the mid price (a gap). */
export interface Gap {
  /** Simulated ms since the start. */
  at: number;
  symbol: string;
  /** Price units added to the mid in one tick (negative = down). */
  jump: number;
}

/** Options of {@link Market}. */
export interface MarketOptions {
  /** Seed of the random walk. */
  seed: number | string;
  /** Simulated ms between ticks (default 250). */
  tickMs?: number;
  /** Drift per symbol in price units per simulated second. */
  drift?: Readonly<Record<string, number>>;
  /** Multiplies every symbol's volatility (default 1). */
  volatility?: number;
  /** Scheduled gaps. */
  gaps?: readonly Gap[];
}

/** A tick of one symbol, as produced by {@link Market.advanceTo}. */
export interface Tick extends Quote {
  symbol: string;
  /** Simulated ms since the start. */
  at: number;
}

/** Random-walk prices for {@link SIM_SYMBOLS}. */
export class Market {
  #prng: Prng;
  #tickMs: number;
  #drift: Readonly<Record<string, number>>;
  #volatility: number;
  #gaps: Gap[];
  #mid = new Map<string, number>();
  #quotes = new Map<string, Quote>();
  #time = 0;
  #ticks = 0;

  /** Creates the market at simulated time 0 with every symbol at its start price. */
  constructor(options: MarketOptions) {
    this.#prng = new Prng(options.seed).fork("market");
    this.#tickMs = options.tickMs ?? 250;
    this.#drift = options.drift ?? {};
    this.#volatility = options.volatility ?? 1;
    this.#gaps = [...(options.gaps ?? [])].sort((a, b) => a.at - b.at);
    for (const spec of SIM_SYMBOLS) {
      this.#mid.set(spec.name, spec.start);
      this.#quotes.set(spec.name, quoteOf(spec, spec.start));
    }
  }

  /** Simulated ms of the last tick. */
  get time(): number {
    return this.#time;
  }

  /** Number of ticks generated so far. */
  get tickCount(): number {
    return this.#ticks;
  }

  /** Simulated ms between ticks. */
  get tickMs(): number {
    return this.#tickMs;
  }

  /** The current quote of a symbol. */
  quote(symbol: string): Quote {
    const quote = this.#quotes.get(symbol);
    if (quote === undefined) throw new RangeError(`Unknown simulated symbol: ${symbol}`);
    return quote;
  }

  /** Generates every tick due up to simulated time `time` and returns them in order. */
  advanceTo(time: number): Tick[] {
    const ticks: Tick[] = [];
    while (this.#time + this.#tickMs <= time) {
      this.#time += this.#tickMs;
      this.#ticks++;
      const dt = this.#tickMs / 1000;
      const jumps = new Map<string, number>();
      while (this.#gaps.length > 0 && this.#gaps[0]!.at <= this.#time) {
        const gap = this.#gaps.shift()!;
        jumps.set(gap.symbol, (jumps.get(gap.symbol) ?? 0) + gap.jump);
      }
      for (const spec of SIM_SYMBOLS) {
        let mid = this.#mid.get(spec.name)!;
        const sigma = spec.volatility * this.#volatility * Math.sqrt(dt);
        mid += (this.#drift[spec.name] ?? 0) * dt + sigma * this.#prng.normal();
        mid += jumps.get(spec.name) ?? 0;
        mid = Math.max(mid, spec.tickSize * 100);
        this.#mid.set(spec.name, mid);
        const quote = quoteOf(spec, mid);
        this.#quotes.set(spec.name, quote);
        ticks.push({ symbol: spec.name, at: this.#time, ...quote });
      }
    }
    return ticks;
  }
}

/** Looks a simulated symbol up by name. */
export function symbolSpec(symbol: string): SymbolSpec | undefined {
  return SIM_SYMBOLS.find((spec) => spec.name === symbol);
}

/** Value in USD of one tick for one lot at the given price (SYMBOL_TRADE_TICK_VALUE). */
export function tickValue(spec: SymbolSpec, price: number): number {
  const value = spec.contractSize * spec.tickSize;
  return spec.kind === "usd_quote" ? value : value / price;
}

/** Rounds a price to the symbol's digits. */
export function roundPrice(spec: SymbolSpec, price: number): number {
  return Number(price.toFixed(spec.digits));
}

function quoteOf(spec: SymbolSpec, mid: number): Quote {
  const bid = roundPrice(spec, mid - spec.spread / 2);
  return { bid, ask: roundPrice(spec, bid + spec.spread) };
}
