/**
 * The order in which `close_all` closes positions, as the EA does it (`CloseAllPositions` in
 * `mql5/RiskGuardBridge.mq5`): largest loss first, so that what hurts most is gone first. On a
 * FIFO account (`ACCOUNT_FIFO_CLOSE`) the server closes only the oldest position of a symbol, so
 * there the symbols go largest total loss first and, within a symbol, positions oldest first.
 *
 * @module
 */

/** What the order depends on, per open position. */
export interface CloseCandidate {
  ticket: number;
  symbol: string;
  /** Open time (any time base, ms); ties fall back to the ticket. */
  openTime: number;
  /** Floating profit plus swap (negative = a loss). */
  profit: number;
}

/** The tickets in the order `close_all` closes them. */
export function closeAllOrder(positions: readonly CloseCandidate[], fifo: boolean): number[] {
  const symbolProfit = new Map<string, number>();
  for (const p of positions) {
    symbolProfit.set(p.symbol, (symbolProfit.get(p.symbol) ?? 0) + p.profit);
  }
  const key = (p: CloseCandidate) => fifo ? symbolProfit.get(p.symbol)! : p.profit;
  return [...positions].sort((a, b) => {
    if (key(a) !== key(b)) return key(a) - key(b);
    if (!fifo) return 0;
    if (a.symbol !== b.symbol) return a.symbol < b.symbol ? -1 : 1;
    if (a.openTime !== b.openTime) return a.openTime - b.openTime;
    return a.ticket - b.ticket;
  }).map((p) => p.ticket);
}

/** Whether a FIFO server refuses to close `ticket` because an older position of its symbol is open. */
export function fifoBlocks(positions: readonly CloseCandidate[], ticket: number): boolean {
  const target = positions.find((p) => p.ticket === ticket);
  if (target === undefined) return false;
  return positions.some((p) =>
    p.symbol === target.symbol &&
    (p.openTime < target.openTime || (p.openTime === target.openTime && p.ticket < target.ticket))
  );
}
