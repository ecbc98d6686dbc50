/**
 * Filling modes of a closing deal, as MT5 defines them for market orders, on both sides: which
 * modes the EA tries (in order) and which ones the simulated trade server accepts. The EA
 * (`mql5/RiskGuardBridge.mq5`, `FillingModes`) and the libzmq stand-in EA follow the same rule:
 *
 * - Instant and Request execution: FOK only;
 * - Market execution: FOK and/or IOC as `SYMBOL_FILLING_MODE` flags them; both (FOK first) when
 *   the symbol reports neither;
 * - Exchange execution: FOK and/or IOC as flagged, then RETURN (always allowed there).
 *
 * RETURN is never sent for Instant, Request or Market execution: servers refuse it with 10030.
 *
 * @module
 */

/** `SYMBOL_TRADE_EXEMODE`. */
export type ExecutionMode = "instant" | "request" | "market" | "exchange";

/** `ORDER_TYPE_FILLING` of a request. */
export type FillingMode = "fok" | "ioc" | "return";

/** `SYMBOL_FILLING_MODE` flag: fill or kill allowed. */
export const SYMBOL_FILLING_FOK = 1;
/** `SYMBOL_FILLING_MODE` flag: immediate or cancel allowed. */
export const SYMBOL_FILLING_IOC = 2;

/** How the trade server executes one symbol. */
export interface SymbolExecution {
  /** `SYMBOL_TRADE_EXEMODE`. */
  mode: ExecutionMode;
  /** `SYMBOL_FILLING_MODE` flags (FOK = 1, IOC = 2). */
  flags: number;
  /**
   * Filling modes the server really accepts for market orders. Default: what {@link mode} and
   * {@link flags} allow; set it to model a server whose flags say less than it does (e.g. a
   * Market-execution symbol with no flag that takes IOC only).
   */
  accepts?: readonly FillingMode[];
}

/** What a symbol uses when nothing else is configured: Market execution, FOK and IOC. */
export const DEFAULT_EXECUTION: SymbolExecution = {
  mode: "market",
  flags: SYMBOL_FILLING_FOK | SYMBOL_FILLING_IOC,
};

/** The filling modes the EA tries for a closing deal, preferred first. */
export function eaFillingModes(execution: SymbolExecution): FillingMode[] {
  const fok = (execution.flags & SYMBOL_FILLING_FOK) !== 0;
  const ioc = (execution.flags & SYMBOL_FILLING_IOC) !== 0;
  const flagged: FillingMode[] = [
    ...(fok ? ["fok" as const] : []),
    ...(ioc ? ["ioc" as const] : []),
  ];
  switch (execution.mode) {
    case "instant":
    case "request":
      return ["fok"];
    case "exchange":
      return [...flagged, "return"];
    case "market":
      return flagged.length > 0 ? flagged : ["fok", "ioc"];
  }
}

/** Whether the trade server takes a market order with `filling` (otherwise 10030). */
export function serverAcceptsFilling(execution: SymbolExecution, filling: FillingMode): boolean {
  if (execution.accepts !== undefined) return execution.accepts.includes(filling);
  const fok = (execution.flags & SYMBOL_FILLING_FOK) !== 0;
  const ioc = (execution.flags & SYMBOL_FILLING_IOC) !== 0;
  switch (execution.mode) {
    case "instant":
    case "request":
      return filling === "fok";
    case "market":
      return (filling === "fok" && (fok || !ioc)) || (filling === "ioc" && ioc);
    case "exchange":
      return filling === "return" || (filling === "fok" && fok) || (filling === "ioc" && ioc);
  }
}
