/**
 * A small seeded pseudo-random generator (mulberry32) so that a simulation with the same seed
 * produces the same ticks. Not for cryptography.
 *
 * @module
 */

/** A deterministic source of random numbers. */
export class Prng {
  #state: number;
  #spare: number | undefined;

  /** Seeds the generator with a number or a string (hashed with FNV-1a). */
  constructor(seed: number | string) {
    this.#state = typeof seed === "number" ? seed >>> 0 : hashString(seed);
  }

  /** Returns a float in [0, 1). */
  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Returns an integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  /** Returns true with probability `p`. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  /** Picks one element of a non-empty array. */
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)]!;
  }

  /** Returns a standard normal variate (Box-Muller, the second value is kept for next call). */
  normal(): number {
    if (this.#spare !== undefined) {
      const value = this.#spare;
      this.#spare = undefined;
      return value;
    }
    let u = 0;
    while (u === 0) u = this.next();
    const v = this.next();
    const r = Math.sqrt(-2 * Math.log(u));
    this.#spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  /** Derives an independent generator for another purpose (same seed, different stream). */
  fork(label: string): Prng {
    return new Prng((this.#state ^ hashString(label)) >>> 0);
  }
}

/** FNV-1a hash of a string, as an unsigned 32-bit integer. */
function hashString(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}
