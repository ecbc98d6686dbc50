/**
 * Hidden hooks of `--mode risk` for fault drills and the soak (`tests/faults/`, `tools/soak.ts`),
 * read from the environment in this one place and nowhere else:
 *
 * - `RISKGUARD_RISK_TIMING`: JSON object of {@link RiskTiming} fields in ms (e.g.
 *   `{"terminalRestartMs": 3000}`), over the timings from the configuration, so that a drill
 *   does not wait a production minute for a silent terminal to be restarted.
 * - `RISKGUARD_CLOCK_OFFSET_FILE`: a file holding a number of ms added to the process's wall
 *   clock (rules, day boundaries, lock ends, pings); re-read at most every 50 ms, so a drill moves
 *   the host clock of this process alone by writing the file. A missing or empty file is offset
 *   0. The monotonic clock (durations) is not moved, as a real host clock change does not.
 *
 * Neither is documented in `--help`: they exist to prove the system, not to run it.
 *
 * @module
 */
import type { Clock } from "../shared/clock.ts";
import { ConfigError } from "../shared/errors.ts";
import { DEFAULT_RISK_TIMING, type RiskTiming } from "../risk/runner.ts";

/** The environment variable with timing overrides (JSON). */
export const RISK_TIMING_ENV = "RISKGUARD_RISK_TIMING";
/** The environment variable naming the clock offset file. */
export const CLOCK_OFFSET_ENV = "RISKGUARD_CLOCK_OFFSET_FILE";

/** What the drill hooks change in a risk process. */
export interface RiskDrillHooks {
  timing: Partial<RiskTiming>;
  clock?: Clock;
}

/** Reads the drill hooks from the environment; nothing set means nothing changed. */
export function riskDrillHooks(env: Record<string, string | undefined>): RiskDrillHooks {
  const hooks: RiskDrillHooks = { timing: parseTiming(env[RISK_TIMING_ENV]) };
  const offsetFile = env[CLOCK_OFFSET_ENV];
  if (offsetFile !== undefined && offsetFile !== "") hooks.clock = offsetClock(offsetFile);
  return hooks;
}

function parseTiming(text: string | undefined): Partial<RiskTiming> {
  if (text === undefined || text.trim() === "") return {};
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(`Invalid ${RISK_TIMING_ENV}: not JSON (${(error as Error).message})`);
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw new ConfigError(`Invalid ${RISK_TIMING_ENV}: expected a JSON object`);
  }
  const timing: Partial<RiskTiming> = {};
  for (const [key, value] of Object.entries(raw)) {
    if (!(key in DEFAULT_RISK_TIMING)) {
      throw new ConfigError(
        `Invalid ${RISK_TIMING_ENV}: unknown field "${key}"; allowed: ${
          Object.keys(DEFAULT_RISK_TIMING).join(", ")
        }`,
      );
    }
    if (typeof value !== "number" || !Number.isInteger(value) || value < 1) {
      throw new ConfigError(`Invalid ${RISK_TIMING_ENV}: ${key} must be a positive integer`);
    }
    timing[key as keyof RiskTiming] = value;
  }
  return timing;
}

/** The system wall clock plus the offset written in `path`; the monotonic clock as is. */
function offsetClock(path: string): Clock {
  let offset = 0;
  let readAt = Number.NEGATIVE_INFINITY;
  return {
    now() {
      const real = Date.now();
      if (real - readAt >= 50) {
        readAt = real;
        try {
          const text = Deno.readTextFileSync(path).trim();
          const value = text === "" ? 0 : Number(text);
          // A half-written file reads as garbage: keep the last good offset.
          if (Number.isFinite(value)) offset = value;
        } catch {
          // Missing file: no offset change.
        }
      }
      return real + offset;
    },
    monotonic: () => performance.now(),
  };
}
