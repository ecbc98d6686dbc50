/**
 * Admin timings: defaults for production, every one tunable through an environment variable
 * (tests and benchmarks shorten them). Lease staleness and the ping interval come from the
 * shared configuration (`--stale-after`, `--ping-interval`).
 *
 * @module
 */
import { ConfigError } from "../shared/errors.ts";

/** The intervals admin works with, ms. */
export interface AdminTiming {
  /** Full reconcile of every element (default 30 s). */
  sweepMs: number;
  /** Reaper round (default 60 s). */
  reapMs: number;
  /** The element table in the log (default 60 s). */
  tableMs: number;
  /** Heartbeat in `agent_state` (default 10 s). */
  heartbeatMs: number;
  /** How often waiting elements look for a FREE instance (default 2 s). */
  waitPollMs: number;
  /** How long a child may take to stop when asked before it is killed (default 10 s). */
  stopTimeoutMs: number;
  /** First restart delay of a crashed child (default 1 s, doubling to `restartMaxMs`). */
  restartBaseMs: number;
  /** Longest restart delay (default 60 s). */
  restartMaxMs: number;
  /** Crashes within `crashWindowMs` after which a child is given up (default 5). */
  maxCrashes: number;
  /** Window of `maxCrashes` (default 10 min). */
  crashWindowMs: number;
  /** A child running this long resets the restart delays (default 10 min). */
  healthyAfterMs: number;
}

/** Production defaults. */
export const DEFAULT_ADMIN_TIMING: AdminTiming = {
  sweepMs: 30_000,
  reapMs: 60_000,
  tableMs: 60_000,
  heartbeatMs: 10_000,
  waitPollMs: 2_000,
  stopTimeoutMs: 10_000,
  restartBaseMs: 1_000,
  restartMaxMs: 60_000,
  maxCrashes: 5,
  crashWindowMs: 600_000,
  healthyAfterMs: 600_000,
};

/** The environment variable of each timing (values in milliseconds, or a count). */
export const ADMIN_TIMING_ENV: Readonly<Record<keyof AdminTiming, string>> = {
  sweepMs: "RISKGUARD_ADMIN_SWEEP_MS",
  reapMs: "RISKGUARD_ADMIN_REAP_MS",
  tableMs: "RISKGUARD_ADMIN_TABLE_MS",
  heartbeatMs: "RISKGUARD_ADMIN_HEARTBEAT_MS",
  waitPollMs: "RISKGUARD_ADMIN_WAIT_POLL_MS",
  stopTimeoutMs: "RISKGUARD_ADMIN_STOP_TIMEOUT_MS",
  restartBaseMs: "RISKGUARD_ADMIN_RESTART_BASE_MS",
  restartMaxMs: "RISKGUARD_ADMIN_RESTART_MAX_MS",
  maxCrashes: "RISKGUARD_ADMIN_MAX_CRASHES",
  crashWindowMs: "RISKGUARD_ADMIN_CRASH_WINDOW_MS",
  healthyAfterMs: "RISKGUARD_ADMIN_HEALTHY_AFTER_MS",
};

/**
 * Reads the timings from the environment over the defaults.
 *
 * @throws {ConfigError} naming the variable when a value is not a positive whole number.
 */
export function adminTimingFromEnv(env: Record<string, string | undefined>): AdminTiming {
  const timing = { ...DEFAULT_ADMIN_TIMING };
  for (const key of Object.keys(ADMIN_TIMING_ENV) as (keyof AdminTiming)[]) {
    const name = ADMIN_TIMING_ENV[key];
    const text = env[name];
    if (text === undefined || text === "") continue;
    const value = Number(text);
    if (!Number.isInteger(value) || value < 1 || value > 86_400_000) {
      throw new ConfigError(
        `Invalid value for ${name}: ${JSON.stringify(text)}; expected a whole number from 1 ` +
          `to 86400000`,
      );
    }
    timing[key] = value;
  }
  return timing;
}
