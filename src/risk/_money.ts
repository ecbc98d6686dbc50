/**
 * Money formatting shared by the risk folder's parts.
 *
 * @module
 */

/** Rounds an amount of money to cents, for display and storage. */
export function round2(value: number): number {
  return Math.round(value * 100) / 100;
}
