/**
 * The one restart policy of riskguard (suture's `Serve(ctx)` shape): a service is a function that
 * runs until its `AbortSignal`, then returns an exit code or throws; {@link supervise} decides from
 * that outcome whether to run it again, waits with {@link exponentialBackoff}, and gives up after
 * too many crashes in a window. Used for risk children (admin), terminals and plugin processes.
 *
 * Exit code 2 means "configuration or input error: do not restart" everywhere in riskguard.
 *
 * @module
 */
import { abortableSleep } from "./async.ts";
import { type BackoffOptions, exponentialBackoff } from "./backoff.ts";
import { type Clock, systemClock } from "./clock.ts";
import { ExitCode } from "./errors.ts";

/** How one run of a service ended. */
export type RunOutcome =
  | { kind: "exit"; code: number }
  | { kind: "threw"; error: unknown };

/** What a service gets for one run. */
export interface RunContext {
  /** Aborted when the supervisor is stopped: the service should finish and return. */
  signal: AbortSignal;
  /** 1 for the first run, 2 for the first restart, ... */
  attempt: number;
  /**
   * Says the service is healthy now (e.g. a terminal's EA said hello): the next crash restarts
   * after the shortest delay again.
   */
  markHealthy(): void;
}

/** Events of a supervisor, for logs and the audit trail. */
export type SuperviseEvent =
  | { type: "ended"; attempt: number; outcome: RunOutcome; restartInMs: number | null }
  | { type: "gave_up"; attempt: number; outcome: RunOutcome; crashes: number };

/** Why a supervisor stopped. */
export type SuperviseResult =
  | { reason: "stopped" }
  | { reason: "not_restarted"; outcome: RunOutcome }
  | { reason: "gave_up"; outcome: RunOutcome; crashes: number };

/** Options of {@link supervise}. */
export interface SuperviseOptions {
  /** Runs the service once. */
  run: (context: RunContext) => Promise<number | void>;
  /** Stops the supervisor and the running service. */
  signal: AbortSignal;
  /**
   * Whether an outcome is a crash to restart (default: a throw or an exit code other than 0 and
   * `ExitCode.InvalidInput` (2)). Returning false ends the supervisor with `not_restarted`.
   */
  shouldRestart?: (outcome: RunOutcome) => boolean;
  /** Restart delays (default 1 s doubling to 60 s). */
  backoff?: BackoffOptions;
  /** A run that lasted this long resets the delays (default 10 minutes). */
  healthyAfterMs?: number;
  /** Give up after this many crashes within `crashWindowMs` (default Infinity: never). */
  maxCrashes?: number;
  /** The window of `maxCrashes`, ms (default 10 minutes). */
  crashWindowMs?: number;
  /** Time source (tests). */
  clock?: Clock;
  /** Waits between runs (default {@link abortableSleep}; tests replace it). */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  /** Receives every end of a run and the give-up. */
  onEvent?: (event: SuperviseEvent) => void;
}

/** The default restart decision: crashes are restarted, exit 0 and exit 2 are not. */
export function isCrash(outcome: RunOutcome): boolean {
  return outcome.kind === "threw" || (outcome.code !== 0 && outcome.code !== ExitCode.InvalidInput);
}

/** Runs a service until it ends for good, restarting it after crashes. */
export async function supervise(options: SuperviseOptions): Promise<SuperviseResult> {
  const clock = options.clock ?? systemClock;
  const sleep = options.sleep ?? abortableSleep;
  const shouldRestart = options.shouldRestart ?? isCrash;
  const healthyAfterMs = options.healthyAfterMs ?? 600_000;
  const maxCrashes = options.maxCrashes ?? Infinity;
  const crashWindowMs = options.crashWindowMs ?? 600_000;
  const crashTimes: number[] = [];
  let delayIndex = 0;
  for (let attempt = 1;; attempt++) {
    if (options.signal.aborted) return { reason: "stopped" };
    // Run lengths and the crash window are durations: on the monotonic clock.
    const startedAt = clock.monotonic();
    let healthy = false;
    let outcome: RunOutcome;
    try {
      const code = await options.run({
        signal: options.signal,
        attempt,
        markHealthy: () => healthy = true,
      });
      outcome = { kind: "exit", code: code ?? 0 };
    } catch (error) {
      outcome = { kind: "threw", error };
    }
    if (options.signal.aborted) {
      options.onEvent?.({ type: "ended", attempt, outcome, restartInMs: null });
      return { reason: "stopped" };
    }
    if (!shouldRestart(outcome)) {
      options.onEvent?.({ type: "ended", attempt, outcome, restartInMs: null });
      return { reason: "not_restarted", outcome };
    }
    const now = clock.monotonic();
    if (healthy || now - startedAt >= healthyAfterMs) delayIndex = 0;
    crashTimes.push(now);
    while (crashTimes.length > 0 && now - crashTimes[0]! > crashWindowMs) crashTimes.shift();
    if (crashTimes.length >= maxCrashes) {
      options.onEvent?.({ type: "ended", attempt, outcome, restartInMs: null });
      options.onEvent?.({ type: "gave_up", attempt, outcome, crashes: crashTimes.length });
      return { reason: "gave_up", outcome, crashes: crashTimes.length };
    }
    const delay = exponentialBackoff(delayIndex++, options.backoff);
    options.onEvent?.({ type: "ended", attempt, outcome, restartInMs: delay });
    await sleep(delay, options.signal);
  }
}
