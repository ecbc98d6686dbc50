/**
 * Money in account currency, as MT5 shows it: two decimals.
 *
 * @module
 */

/** Rounds an amount to cents (`Math.round` of the cents: halves go up). */
export function round2(value: number): number {
  return Math.round(value * 100) / 100;
}
