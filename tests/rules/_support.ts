/**
 * Helpers for rule tests: run one rule on a snapshot with a given day and peak state.
 *
 * @module
 */
import type {
  Action,
  ConfiguredRule,
  DayState,
  PeakState,
  RiskSettings,
} from "../../src/rules/rule.ts";
import { DEFAULT_SETTINGS } from "../../src/rules/settings.ts";
import type { Snapshot } from "../../src/mt5/protocol.ts";
import { type EngineState, evaluateSnapshot, type Evaluation } from "../../src/risk/engine.ts";

/** A day state with the given start figures and baseline mode "balance". */
export function day(date: string, startBalance: number, startEquity = startBalance): DayState {
  return {
    date,
    start_balance: startBalance,
    start_equity: startEquity,
    high_equity: startEquity,
    baseline: startBalance,
  };
}

/** A peak state. */
export function peak(initial: number, highBalance = initial, highEquity = highBalance): PeakState {
  return { initial_balance: initial, high_balance: highBalance, high_equity: highEquity, since: 0 };
}

/** Settings = defaults + overrides. */
export function settings(overrides: Partial<RiskSettings> = {}): RiskSettings {
  return { ...DEFAULT_SETTINGS, ...overrides };
}

/** Runs the engine on one snapshot (built-ins from settings, or the given rules). */
export function run(
  snapshot: Snapshot,
  options: {
    settings?: Partial<RiskSettings>;
    day?: DayState;
    peak?: PeakState;
    now?: number;
    rules?: ConfiguredRule[];
    state?: EngineState;
  } = {},
): Evaluation {
  const input = {
    snapshot,
    settings: settings(options.settings),
    state: options.state ?? { day: options.day, peak: options.peak },
    now: options.now ?? snapshot.utc_time,
  };
  return evaluateSnapshot(options.rules === undefined ? input : { ...input, rules: options.rules });
}

/** The `type` (and ticket for closes) of each action, for compact assertions. */
export function kinds(actions: readonly Action[]): string[] {
  return actions.map((action) =>
    action.type === "close_position" ? `close_position:${action.ticket}` : action.type
  );
}
