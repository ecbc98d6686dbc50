/**
 * The pure helpers every rule receives in its input, also exported for direct use (tests, the
 * engine, tools). Imported by the plugin worker: keep it free of runtime dependencies other
 * than `wall_clock.ts`.
 *
 * @module
 */
import type { Position, SymbolInfo } from "../mt5/protocol.ts";
import type { LocalTime, RuleContext, RuleHelpers, RuleInput } from "./rule.ts";
import type { Limit } from "./settings.ts";
import { parseClockTime, toUtc, toWall, wallDate, wallMinutes, wallWeekday } from "./wall_clock.ts";

/**
 * Money a position loses (positive) if its stop loss is hit, in account currency:
 * `distance / tick_size * tick_value_loss * volume - swap - commission` (`tick_value` when the EA
 * does not report `tick_value_loss`), where `distance` is
 * `open_price - sl` for a buy and `sl - open_price` for a sell. Swap and commission already
 * charged are part of the position's result, so a charged commission (negative) adds to the
 * loss. Negative when the stop locks in a profit; `Infinity` when there is no stop (`sl` 0).
 */
export function positionRiskAtStop(position: Position, symbol: SymbolInfo): number {
  if (position.sl === 0) return Infinity;
  const distance = position.side === "buy"
    ? position.open_price - position.sl
    : position.sl - position.open_price;
  // Prices are multiples of the tick size: round away binary noise (0.005 / 0.00001 is
  // 499.99999999999 in floating point) to a millionth of a tick.
  const ticks = Math.round(distance / symbol.tick_size * 1e6) / 1e6;
  // MT5's SYMBOL_TRADE_TICK_VALUE is the value for a winning move; a loss is valued with
  // SYMBOL_TRADE_TICK_VALUE_LOSS when the EA reports it (they differ for cross rates).
  const tickValue = symbol.tick_value_loss ?? symbol.tick_value;
  const atStop = ticks * tickValue * position.volume;
  return atStop - position.swap - position.commission;
}

/**
 * The info in `symbols` on `symbol`, or undefined when it has none. By own key only: a symbol
 * named like an `Object.prototype` key (`constructor`, `__proto__`, `toString`) must not be
 * answered with the prototype's function.
 */
export function symbolInfoOf(
  symbols: Readonly<Record<string, SymbolInfo>>,
  symbol: string,
): SymbolInfo | undefined {
  return Object.hasOwn(symbols, symbol) ? symbols[symbol] : undefined;
}

/**
 * Floating P/L of a position as MT5 counts it in equity: `profit + swap`. Its commission is not
 * added: MT5 charges a deal's commission to the balance when the deal is made, so it is already
 * in the balance (equity = balance + credit + Σ (profit + swap) of the open positions).
 */
export function floatingPnl(position: Position): number {
  return position.profit + position.swap;
}

/** A limit in money: a `money` limit as is, a `percent` limit as `base * value / 100`. */
export function resolveLimit(limit: Limit, base: number): number {
  return limit.kind === "money" ? limit.value : base * limit.value / 100;
}

/** Formats money with two decimals and a currency: `"512.30 USD"`. */
export function formatMoney(value: number, currency: string): string {
  return `${value.toFixed(2)} ${currency}`;
}

/** Builds the helpers for one evaluation context. */
export function createHelpers(context: RuleContext): RuleHelpers {
  const { now, server_offset: offset, snapshot } = context;
  return {
    positionRiskAtStop(position, symbol) {
      const info = symbol ?? symbolInfoOf(snapshot.symbols, position.symbol);
      if (info === undefined) {
        throw new RangeError(
          `No symbol info for ${position.symbol} (position ${position.ticket}): cannot compute ` +
            "its risk",
        );
      }
      return positionRiskAtStop(position, info);
    },
    floatingPnl,
    resolveLimit,
    localTime(timeZone = "server"): LocalTime {
      const wall = toWall(now, timeZone, offset);
      return {
        date: wallDate(wall),
        weekday: wallWeekday(wall),
        minutes: wallMinutes(wall),
        wall,
      };
    },
    wallToUtc: (wall, timeZone = "server") => toUtc(wall, timeZone, offset),
    utcToWall: (utc, timeZone = "server") => toWall(utc, timeZone, offset),
    parseClockTime,
    money: (value) => formatMoney(value, snapshot.account.currency),
  };
}

/** Builds a rule's input from the shared context and the rule's options. */
export function createRuleInput<O>(
  context: RuleContext,
  options: O,
  helpers: RuleHelpers = createHelpers(context),
): RuleInput<O> {
  return {
    ...context,
    server_time: context.now + context.server_offset,
    options,
    helpers,
  };
}
