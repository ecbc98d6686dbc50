/**
 * Time source injected into everything that needs "now". Rules and the engine never call
 * `Date.now()` themselves, so tests can drive time explicitly.
 *
 * @module
 */

/** A source of the current time. */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
}

/** The real wall clock. */
export const systemClock: Clock = { now: () => Date.now() };

/** A clock that only moves when told to: for tests and simulations. */
export class ManualClock implements Clock {
  #now: number;

  /** Starts the clock at `start` (epoch milliseconds or a Date). */
  constructor(start: number | Date = 0) {
    this.#now = typeof start === "number" ? start : start.getTime();
  }

  /** Returns the current simulated time. */
  now(): number {
    return this.#now;
  }

  /** Moves the clock forward by `ms` milliseconds. */
  advance(ms: number): void {
    this.#now += ms;
  }

  /** Sets the clock to an absolute time. */
  set(time: number | Date): void {
    this.#now = typeof time === "number" ? time : time.getTime();
  }
}
