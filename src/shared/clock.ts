/**
 * Time source injected into everything that needs "now". Rules and the engine never call
 * `Date.now()` themselves, so tests can drive time explicitly.
 *
 * A clock has two readings. Wall time (`now`) is for what belongs to the calendar: day
 * boundaries, lock ends, timestamps in the store. It jumps when the host clock is set (by a
 * person, NTP, a VM resumed). Durations (EA silence, alarms, restart thresholds, retry and
 * metrics timers) are measured on `monotonic`, which never jumps: an hour added to the wall
 * clock is not an hour of silence.
 *
 * @module
 */

/** A source of the current time. */
export interface Clock {
  /** Wall time: milliseconds since the Unix epoch. May jump when the host clock is set. */
  now(): number;
  /**
   * Milliseconds on a monotonic clock with an arbitrary origin: only the difference of two
   * readings means something. For durations; never moved by a change of the host clock.
   */
  monotonic(): number;
}

/** The real clocks: `Date.now()` and `performance.now()`. */
export const systemClock: Clock = {
  now: () => Date.now(),
  monotonic: () => performance.now(),
};

/** A clock that only moves when told to: for tests and simulations. */
export class ManualClock implements Clock {
  #now: number;
  #monotonic = 0;

  /** Starts the clock at `start` (epoch milliseconds or a Date); the monotonic reading at 0. */
  constructor(start: number | Date = 0) {
    this.#now = typeof start === "number" ? start : start.getTime();
  }

  /** Returns the current simulated wall time. */
  now(): number {
    return this.#now;
  }

  /** Returns the current simulated monotonic reading. */
  monotonic(): number {
    return this.#monotonic;
  }

  /** Lets `ms` milliseconds pass: both readings move forward by `ms`. */
  advance(ms: number): void {
    this.#now += ms;
    this.#monotonic += ms;
  }

  /** Sets the wall clock to an absolute time (a host clock being set): no time passes. */
  set(time: number | Date): void {
    this.#now = typeof time === "number" ? time : time.getTime();
  }

  /** Moves the wall clock by `ms` (negative: back) without time passing, as a host clock jump. */
  jump(ms: number): void {
    this.#now += ms;
  }
}
