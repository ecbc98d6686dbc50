/**
 * Pure evaluation of one snapshot: advance the day and peak state, run the built-in rules (and
 * any other in-process rules), merge, de-duplicate and order their actions, and remember which
 * once-a-day notifications were already delivered. No IO, no clock: `now` is an input.
 *
 * Plugins run elsewhere (a Worker, see `src/rules/plugins.ts`) and must never delay the
 * built-ins: the runner executes {@link evaluateSnapshot}'s actions at once, posts its
 * `context` to the plugin host, and passes the plugin actions through {@link mergeLateActions}
 * when they arrive.
 *
 * @module
 */
import type { Snapshot } from "../mt5/protocol.ts";
import type {
  Action,
  ConfiguredRule,
  DayState,
  PeakState,
  RiskSettings,
  RuleContext,
  RuleError,
} from "../rules/rule.ts";
import { stamp } from "../rules/rule.ts";
import { createHelpers, createRuleInput } from "../rules/helpers.ts";
import { builtinRules } from "../rules/builtin/mod.ts";
import { serverOffsetOf } from "../rules/wall_clock.ts";
import { describeError } from "../shared/errors.ts";
import { advanceDay, advancePeak, type DayChange, dayView } from "./day_state.ts";

/** Once-a-day notification keys already delivered (`rule|key`) for the trading day `date`. */
export interface NotifyMemory {
  /** The trading day the keys belong to. */
  date: string;
  /** Delivered keys. */
  keys: string[];
}

/** What the engine carries from one snapshot to the next. */
export interface EngineState {
  /** Persisted day state (element `day`); absent before the first snapshot. */
  day?: DayState | undefined;
  /** Persisted peak state (element `peak`); absent before the first snapshot. */
  peak?: PeakState | undefined;
  /** Delivered once-a-day notifications (in memory; may be persisted). */
  notified?: NotifyMemory | undefined;
}

/** The state after a snapshot: every part present. */
export interface EngineStateAfter {
  /** Day state to persist. */
  day: DayState;
  /** Peak state to persist. */
  peak: PeakState;
  /** Delivered once-a-day notifications. */
  notified: NotifyMemory;
}

/** Input of {@link evaluateSnapshot}. */
export interface EvaluateInput {
  /** The snapshot. */
  snapshot: Snapshot;
  /** The account's risk settings. */
  settings: RiskSettings;
  /** State from the previous snapshot (or persisted on the element). */
  state: EngineState;
  /** UTC epoch ms from the injected clock. */
  now: number;
  /** First snapshot this process sees (see `advanceDay`). */
  fresh?: boolean;
  /**
   * The in-process rules to run; default: the built-ins the settings switch on
   * (`builtinRules(settings)`).
   */
  rules?: readonly ConfiguredRule[];
}

/** Result of {@link evaluateSnapshot}. */
export interface Evaluation {
  /** The actions to execute, de-duplicated and in safe order. */
  actions: Action[];
  /** Every action every rule asked for, in rule order (for the audit trail). */
  raw: Action[];
  /** Rules that threw. Other rules' actions are unaffected. */
  errors: RuleError[];
  /** The state to carry to the next snapshot (and persist: `day`, `peak`). */
  state: EngineStateAfter;
  /** The evaluation context (plain data): post it to the plugin host. */
  context: RuleContext;
  /** How the day was obtained. */
  day_change: DayChange;
  /** The day was reconstructed with a reset that is not 00:00 server time: an estimate. */
  day_estimated: boolean;
}

/**
 * Advances the day and peak state to `snapshot` and builds the rule context (no rules run).
 */
export function prepareContext(
  input: Omit<EvaluateInput, "rules">,
): {
  context: RuleContext;
  day: DayState;
  peak: PeakState;
  day_change: DayChange;
  day_estimated: boolean;
} {
  const { snapshot, settings, state, now } = input;
  const update = advanceDay(state.day, snapshot, settings.daily, now, {
    fresh: input.fresh === true,
  });
  const peak = advancePeak(
    state.peak,
    snapshot,
    now,
    settings.initial_balance,
    update.balance_ops_delta,
  );
  const context: RuleContext = {
    snapshot,
    settings,
    day: dayView(update.day, update.window, snapshot),
    peak,
    now,
    server_offset: serverOffsetOf(snapshot),
  };
  return {
    context,
    day: update.day,
    peak,
    day_change: update.change,
    day_estimated: update.estimated,
  };
}

/**
 * Runs rules synchronously on one context. A rule that throws is reported in `errors` and
 * the others still run. Actions are stamped with the rule's id.
 */
export function runRules(
  rules: readonly ConfiguredRule[],
  context: RuleContext,
): { raw: Action[]; errors: RuleError[] } {
  const raw: Action[] = [];
  const errors: RuleError[] = [];
  const helpers = createHelpers(context);
  for (const { rule, options } of rules) {
    try {
      const actions = rule.evaluate(createRuleInput(context, options, helpers));
      for (const action of actions) raw.push(stamp(action, rule.id));
    } catch (error) {
      errors.push({
        rule: rule.id,
        kind: "threw",
        message: describeError(error),
      });
    }
  }
  return { raw, errors };
}

/**
 * Evaluates one snapshot: advances state, runs the in-process rules, merges and orders their
 * actions and drops once-a-day notifications already delivered today.
 */
export function evaluateSnapshot(input: EvaluateInput): Evaluation {
  const { context, day, peak, day_change, day_estimated } = prepareContext(input);
  const rules = input.rules ?? builtinRules(input.settings);
  const { raw, errors } = runRules(rules, context);
  const remembered = applyNotifyMemory(mergeActions(raw), input.state.notified, day.date);
  return {
    actions: remembered.actions,
    raw,
    errors,
    state: { day, peak, notified: remembered.memory },
    context,
    day_change,
    day_estimated,
  };
}

/**
 * Merges actions that arrive after the built-ins' (plugin results) into the state: the same
 * de-duplication, ordering and once-a-day memory. Returns the actions to execute and the new
 * memory (apply it to the current state, which may have moved on since).
 */
export function mergeLateActions(
  actions: readonly Action[],
  memory: NotifyMemory | undefined,
  date: string,
): { actions: Action[]; memory: NotifyMemory } {
  return applyNotifyMemory(mergeActions(actions), memory, date);
}

const ORDER: Record<Action["type"], number> = {
  lock: 0,
  cancel_orders: 1,
  close_all: 2,
  close_position: 3,
  notify: 4,
};

/**
 * De-duplicates and orders actions safely: one `lock` (a permanent lock beats a day lock;
 * of day locks the latest `until` wins), one `cancel_orders`, one `close_all` (which makes
 * every `close_position` redundant), one `close_position` per ticket (a whole close beats a
 * partial one, else the largest volume), one `notify` per rule and key (or reason); then
 * sorted lock, cancel_orders, close_all, close_position, notify, keeping rule order within a
 * type. The kept action is the first one asking for the strongest effect.
 */
export function mergeActions(actions: readonly Action[]): Action[] {
  let lock: Action & { type: "lock" } | undefined;
  let cancel: Action | undefined;
  let closeAll: Action | undefined;
  const closes = new Map<number, Action & { type: "close_position" }>();
  const notes = new Map<string, Action>();
  for (const action of actions) {
    switch (action.type) {
      case "lock":
        if (lock === undefined || stronger(action, lock)) lock = action;
        break;
      case "cancel_orders":
        cancel ??= action;
        break;
      case "close_all":
        closeAll ??= action;
        break;
      case "close_position": {
        const seen = closes.get(action.ticket);
        if (seen === undefined || wider(action, seen)) closes.set(action.ticket, action);
        break;
      }
      case "notify": {
        const key = `${action.rule}|${action.once ?? `${action.level}|${action.reason}`}`;
        if (!notes.has(key)) notes.set(key, action);
        break;
      }
    }
  }
  const out: Action[] = [];
  if (lock !== undefined) out.push(lock);
  if (cancel !== undefined) out.push(cancel);
  if (closeAll !== undefined) out.push(closeAll);
  else out.push(...closes.values());
  out.push(...notes.values());
  return out.sort((a, b) => ORDER[a.type] - ORDER[b.type]);
}

function stronger(
  candidate: Action & { type: "lock" },
  current: Action & { type: "lock" },
): boolean {
  if (current.scope === "permanent") return false;
  if (candidate.scope === "permanent") return true;
  return candidate.until > current.until;
}

function wider(
  candidate: Action & { type: "close_position" },
  current: Action & { type: "close_position" },
): boolean {
  const whole = (action: typeof candidate) => action.volume === undefined || action.volume === 0;
  if (whole(current)) return false;
  if (whole(candidate)) return true;
  return (candidate.volume ?? 0) > (current.volume ?? 0);
}

/**
 * Drops `notify` actions with a `once` key already delivered during trading day `date` and
 * records the new ones; memory from an earlier day is forgotten.
 */
export function applyNotifyMemory(
  actions: readonly Action[],
  memory: NotifyMemory | undefined,
  date: string,
): { actions: Action[]; memory: NotifyMemory } {
  const current = memory !== undefined && memory.date === date ? memory : { date, keys: [] };
  const known = keySet(current.keys);
  /** The keys of the new list, made at the first new key (the known set is never changed). */
  let keys: Set<string> | undefined;
  const out: Action[] = [];
  const added: string[] = [];
  for (const action of actions) {
    if (action.type === "notify" && action.once !== undefined) {
      const key = `${action.rule}|${action.once}`;
      if ((keys ?? known).has(key)) continue;
      (keys ??= new Set(known)).add(key);
      added.push(key);
    }
    out.push(action);
  }
  if (keys === undefined) return { actions: out, memory: current };
  const next = [...current.keys, ...added];
  keySets.set(next, keys);
  return { actions: out, memory: { date, keys: next } };
}

/**
 * The set of each day's key list, made once per list: a rule that warns on every snapshot (a
 * position over its risk, until it is closed) looks its key up each time, and a day can hold
 * one key per warned ticket. Lists are never changed in place (a new key makes a new list).
 */
const keySets = new WeakMap<readonly string[], Set<string>>();

function keySet(keys: readonly string[]): Set<string> {
  let set = keySets.get(keys);
  if (set === undefined) {
    set = new Set(keys);
    keySets.set(keys, set);
  }
  return set;
}
