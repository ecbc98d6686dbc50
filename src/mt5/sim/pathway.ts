/**
 * The `sim:` pathway of an instance: `sim:<scenario>` with optional launch options as a query,
 * `sim:losing_day?seed=3&speed=4&truth=%2Ftmp%2Fa.jsonl`, so that a risk process started by
 * admin (which only passes `--pathway`) runs the simulator as a test or a soak needs it.
 *
 * | key | meaning |
 * |---|---|
 * | `seed` | random seed (integer) |
 * | `speed` | simulated ms per real ms |
 * | `exec_delay` | real ms per trade request |
 * | `timer`, `heartbeat` | EA timer and heartbeat, real ms |
 * | `truth` | truth log file (see `truth_log.ts`), URI-encoded |
 * | `process` | `child` runs the simulator as its own process (`riskguard sim`), so the account outlives a killed risk process; `in_process` (default) |
 * | `faults` | fault trigger file the simulated EA polls (see `SimEaOptions.faultFile` in `ea.ts`), URI-encoded |
 *
 * @module
 */
import { isScenarioName, type ScenarioName } from "./scenarios.ts";

/** The simulator launch options a pathway can carry. */
export interface SimPathwayOptions {
  seed?: number;
  speed?: number;
  execDelayMs?: number;
  timerMs?: number;
  heartbeatMs?: number;
  /** Truth log file. */
  truthLog?: string;
  /** Where the simulator runs (default in the risk process). */
  process?: "in_process" | "child";
  /** Fault trigger file the simulated EA polls (drills). */
  faultFile?: string;
}

/** A parsed `sim:` pathway. */
export interface SimPathway {
  scenario: ScenarioName;
  options: SimPathwayOptions;
}

/** Thrown for a `sim:` pathway that cannot be used; the message names the part. */
export class SimPathwayError extends Error {}

const NUMBERS = {
  seed: "seed",
  speed: "speed",
  exec_delay: "execDelayMs",
  timer: "timerMs",
  heartbeat: "heartbeatMs",
} as const;

/** Parses `sim:<scenario>[?options]`; undefined for a terminal folder. */
export function parseSimPathway(path: string): SimPathway | undefined {
  if (!path.startsWith("sim:")) return undefined;
  const [name = "", query] = path.slice(4).split(/\?(.*)/s, 2);
  if (!isScenarioName(name)) {
    throw new SimPathwayError(`Unknown simulator scenario in instance path: ${path}`);
  }
  const options: SimPathwayOptions = {};
  for (const [key, value] of new URLSearchParams(query ?? "")) {
    if (key === "truth") {
      if (value === "") throw new SimPathwayError(`Empty truth log file in ${path}`);
      options.truthLog = value;
      continue;
    }
    if (key === "faults") {
      if (value === "") throw new SimPathwayError(`Empty fault file in ${path}`);
      options.faultFile = value;
      continue;
    }
    if (key === "process") {
      if (value !== "child" && value !== "in_process") {
        throw new SimPathwayError(
          `Invalid simulator option process=${value} in ${path}; allowed: child, in_process`,
        );
      }
      options.process = value;
      continue;
    }
    if (!(key in NUMBERS)) {
      throw new SimPathwayError(
        `Unknown simulator option "${key}" in ${path}; allowed: ${
          [...Object.keys(NUMBERS), "truth", "faults", "process"].join(", ")
        }`,
      );
    }
    const n = Number(value);
    const integer = key !== "speed";
    if (
      !(n >= 0) || !Number.isFinite(n) || (integer && !Number.isInteger(n)) || (!integer && n === 0)
    ) {
      throw new SimPathwayError(`Invalid simulator option ${key}=${value} in ${path}`);
    }
    options[NUMBERS[key as keyof typeof NUMBERS]] = n;
  }
  return { scenario: name, options };
}

/** Builds a `sim:` pathway from a scenario and options (the inverse of {@link parseSimPathway}). */
export function formatSimPathway(scenario: ScenarioName, options: SimPathwayOptions = {}): string {
  const query = new URLSearchParams();
  for (const [key, field] of Object.entries(NUMBERS)) {
    const value = options[field];
    if (value !== undefined) query.set(key, String(value));
  }
  if (options.truthLog !== undefined) query.set("truth", options.truthLog);
  if (options.faultFile !== undefined) query.set("faults", options.faultFile);
  if (options.process !== undefined) query.set("process", options.process);
  const text = query.toString();
  return text === "" ? `sim:${scenario}` : `sim:${scenario}?${text}`;
}
