/**
 * The demo's options, `--accounts N --duration S --seed N --speed X`, validated with messages
 * that name the flag and the value seen.
 *
 * @module
 */
import { ConfigError } from "../shared/errors.ts";

/** The demo's options after validation. */
export interface DemoOptions {
  /** Number of accounts (scenarios cycle: calm, losing_day, big_position, ...). */
  accounts: number;
  /** Stop after this many seconds; `undefined` runs until Ctrl+C. */
  durationS: number | undefined;
  /** Simulator seed: the same seed gives the same trades. */
  seed: number;
  /** Simulated time per real time (2 plays the market twice as fast). */
  speed: number;
}

/** The raw option values as the command line gives them. */
export interface RawDemoOptions {
  accounts?: string | undefined;
  duration?: string | undefined;
  seed?: string | undefined;
  speed?: string | undefined;
}

/** Defaults of the demo. */
export const DEFAULT_DEMO_OPTIONS: Readonly<DemoOptions> = Object.freeze({
  accounts: 3,
  durationS: undefined,
  seed: 7,
  speed: 1,
});

/** Most accounts the demo starts: each is a risk process, and the view must fit a screen. */
export const MAX_DEMO_ACCOUNTS = 6;

/**
 * Validates the raw options.
 *
 * @throws {ConfigError} naming the flag and the value for a bad one.
 */
export function parseDemoOptions(raw: RawDemoOptions): DemoOptions {
  const accounts = raw.accounts === undefined
    ? DEFAULT_DEMO_OPTIONS.accounts
    : integer("--accounts", raw.accounts, 1, MAX_DEMO_ACCOUNTS);
  let durationS: number | undefined;
  if (raw.duration !== undefined) {
    durationS = Number(raw.duration);
    if (raw.duration.trim() === "" || !Number.isFinite(durationS) || durationS <= 0) {
      throw new ConfigError(
        `Invalid value for --duration: "${raw.duration}"; expected seconds > 0`,
      );
    }
  }
  const seed = raw.seed === undefined
    ? DEFAULT_DEMO_OPTIONS.seed
    : integer("--seed", raw.seed, 0, 2 ** 31 - 1);
  let speed = DEFAULT_DEMO_OPTIONS.speed;
  if (raw.speed !== undefined) {
    speed = Number(raw.speed);
    if (raw.speed.trim() === "" || !Number.isFinite(speed) || speed <= 0 || speed > 100) {
      throw new ConfigError(
        `Invalid value for --speed: "${raw.speed}"; expected a number more than 0, at most 100`,
      );
    }
  }
  return { accounts, durationS, seed, speed };
}

function integer(flag: string, text: string, min: number, max: number): number {
  const value = Number(text);
  if (text.trim() === "" || !Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(
      `Invalid value for ${flag}: "${text}"; expected a whole number from ${min} to ${max}`,
    );
  }
  return value;
}
