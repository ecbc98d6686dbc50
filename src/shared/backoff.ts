/**
 * The one backoff function of riskguard: how long to wait before retry number `attempt`.
 * Pure (no timers, no clock), like std's `exponentialBackoff`, so every retry loop (store,
 * notifier, executor, plugins, terminal, sockets, supervisors) computes its delays the same way
 * and tests can check them without waiting.
 *
 * @module
 */

/** Options of {@link exponentialBackoff}. */
export interface BackoffOptions {
  /** Delay of attempt 0, ms (default 1,000). */
  baseMs?: number;
  /** Upper bound of any delay, ms (default 60,000). */
  maxMs?: number;
  /** Growth per attempt (default 2). */
  factor?: number;
  /**
   * Share of the delay that is random, 0 to 1 (default 0: deterministic). With `jitter: 0.2`
   * the delay lies between 80 % and 100 % of the exponential value, so many retrying processes
   * do not hit a recovering server at the same instant.
   */
  jitter?: number;
  /** Source of randomness in [0, 1) (default `Math.random`; tests pass a fixed one). */
  random?: () => number;
}

/**
 * Delay before retry `attempt` (0-based): `baseMs * factor ** attempt`, capped at `maxMs`, minus
 * up to `jitter` of it. Negative or fractional attempts count as the next lower whole attempt,
 * never below 0.
 */
export function exponentialBackoff(attempt: number, options: BackoffOptions = {}): number {
  const baseMs = options.baseMs ?? 1_000;
  const maxMs = options.maxMs ?? 60_000;
  const factor = options.factor ?? 2;
  const jitter = Math.min(1, Math.max(0, options.jitter ?? 0));
  const n = Math.max(0, Math.floor(attempt));
  // Computed in floating point and capped: factor ** n overflows to Infinity, never to NaN.
  const delay = Math.min(maxMs, baseMs * factor ** n);
  if (jitter === 0) return delay;
  const random = options.random ?? Math.random;
  return delay - delay * jitter * random();
}
