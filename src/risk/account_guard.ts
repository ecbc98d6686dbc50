/**
 * Enforcement for one account: every snapshot goes through the engine (built-in rules at once,
 * plugins when they answer), the lock state moves, and the executor sends the protective
 * commands. What happens is recorded by the {@link AuditTrail}; what must last is written by
 * the {@link LeasedWriter}.
 *
 * @module
 */
import type { Logger } from "../shared/logging.ts";
import type { Ack, Snapshot } from "../mt5/protocol.ts";
import { resolveLimit } from "../rules/helpers.ts";
import type { Action, DayState, RiskSettings, RuleContext } from "../rules/rule.ts";
import { abortableSleep } from "../shared/async.ts";
import type { Clock } from "../shared/clock.ts";
import { describeError } from "../shared/errors.ts";
import type { Element, TradingState } from "../store/mod.ts";
import { round2 } from "../shared/money.ts";
import type { AuditTrail } from "./audit_trail.ts";
import { type EngineState, evaluateSnapshot, mergeLateActions } from "./engine.ts";
import { type CommandSender, Executor, type ProtectiveAction } from "./executor.ts";
import type { LeasedWriter } from "./leased_writer.ts";
import {
  adoptedLock,
  applyLock,
  eaUnlockDue,
  expireLock,
  isLocked,
  type LockRequest,
  type LockState,
  lockStateOf,
  lockUntil,
  UNLOCKED,
} from "./lock_state.ts";
import type { RulePlugins } from "./rule_plugins.ts";
import type { DurableState } from "./state_journal.ts";

/** A line of live status, after every snapshot (the demo prints it). */
export interface RiskStatus {
  element_id: string;
  seq: number;
  balance: number;
  equity: number;
  currency: string;
  /** `equity - baseline`. */
  daily_pnl: number;
  /** The daily loss limit in money, when configured. */
  daily_loss_limit: number | undefined;
  trading: TradingState;
  positions: number;
  orders: number;
  /** True while the EA is silent past the alarm threshold. */
  stale: boolean;
}

/** Options of {@link AccountGuard}. */
export interface AccountGuardOptions {
  /** The element as loaded at start: its settings, persisted day/peak and lock. */
  element: Element;
  /** Its risk settings. */
  settings: RiskSettings;
  /** Sends commands to the EA. */
  sender: CommandSender;
  /** Time source of rules, locks and retries. */
  clock: Clock;
  /** Evaluate and record actions without sending them. */
  dryRun: boolean;
  /** First resend delay of an unconfirmed protective command. */
  retryBaseMs: number;
  /** Attempts after which an unconfirmed command is escalated. */
  escalateAfter: number;
  /** The rule plugins. */
  plugins: RulePlugins;
  /** Records what happens. */
  audit: AuditTrail;
  /** Writes what must last. */
  writer: LeasedWriter;
  /** True while the EA is silent past the alarm threshold (for the status line). */
  stale: () => boolean;
  /** Receives a status line after every snapshot. */
  onStatus?: ((status: RiskStatus) => void) | undefined;
  /** Aborted when the process stops: late plugin answers are then ignored. */
  signal: AbortSignal;
  /** The account's logger. */
  log: Logger;
}

/** See the module documentation. */
export class AccountGuard {
  readonly #options: AccountGuardOptions;
  readonly #executor: Executor;
  #settings: RiskSettings;
  #engine: EngineState;
  #lock: LockState;
  /**
   * The next snapshot rebuilds the day from the terminal's own figures instead of rolling it
   * over from the live ones: nobody watched the account (start, EA reconnect, long silence,
   * new day boundaries), so a reset may have passed unseen.
   */
  #rebuildDayOnNextSnapshot = true;
  /** When the day's notify memory was last written for a new warning ({@link #writeNotified}). */
  #notifiedWrittenAt = Number.NEGATIVE_INFINITY;
  /** A warning's once-key is in memory but not yet written. */
  #notifiedUnwritten = false;
  #lastSnapshot: Snapshot | undefined;
  /**
   * When (monotonic ms) an unlock was last sent to the EA in this EA session (resent until it
   * holds).
   */
  #eaUnlockSentAt: number | undefined;
  /**
   * A person's unlock (the element's `unlocked_at`) not yet seen to take effect on the EA: the
   * proof that an EA lock is to be lifted.
   */
  #owedUnlockAt: number | undefined;
  /** This process lifted the lock itself and has not seen the EA unlocked since. */
  #unlockedHere = false;
  /** The person's unlock last seen to take effect on the EA (the element's field). */
  #unlockAppliedAt: number | null;
  /** The rule whose lock is held (a day lock it extends is the same lock). */
  #lockRule: string | undefined;
  /** The `flatten_pending` last handed to the writer. */
  #flattenStored: string[] = [];
  /**
   * Bookkeeping (events, store writes, notifications, logs) of the decision being made, run once
   * its protective commands have left (see {@link #decide}); undefined outside a decision.
   */
  #after: Array<() => void> | undefined;

  /** Restores the element's persisted day, peak and lock; the lock is held at once. */
  constructor(options: AccountGuardOptions) {
    this.#options = options;
    const { element, audit } = options;
    this.#settings = options.settings;
    const day = element.day ?? undefined;
    this.#engine = {
      day,
      peak: element.peak ?? undefined,
      // What was warned today survives a restart: warnings fire once per trading day.
      notified: day?.notified === undefined ? undefined : { date: day.date, keys: day.notified },
    };
    this.#lock = lockStateOf(element);
    this.#unlockAppliedAt = element.unlock_applied_at;
    if (
      !isLocked(this.#lock) && element.unlocked_at !== null &&
      element.unlocked_at !== element.unlock_applied_at
    ) {
      this.#owedUnlockAt = element.unlocked_at;
    }
    this.#executor = new Executor({
      sender: options.sender,
      clock: options.clock,
      dryRun: options.dryRun,
      retryBaseMs: options.retryBaseMs,
      escalateAfter: options.escalateAfter,
      onEvent: (event) => this.#bookkeep(() => audit.recordExecutorEvent(event)),
    });
    if (isLocked(this.#lock)) {
      const reason = this.#lock.reason ?? "locked";
      this.#executor.holdLocked(this.#lock.lockedUntil ?? 0, "lock", reason);
      // Closes the previous process had not seen done: taken up again, not forgotten.
      this.#executor.resume(element.flatten_pending, "lock", reason);
    }
    this.#flattenStored = isLocked(this.#lock) ? [...element.flatten_pending] : [];
  }

  /** The settings in force. */
  get settings(): RiskSettings {
    return this.#settings;
  }

  /** The lock state in force. */
  get lock(): LockState {
    return this.#lock;
  }

  /** The EA said hello: rebuild the day on its first snapshot; its lock is checked anew. */
  eaConnected(): void {
    this.#rebuildDayOnNextSnapshot = true;
    this.#eaUnlockSentAt = undefined;
  }

  /** EA data flows again after a silence that may have spanned a reset: rebuild the day. */
  dataFlowingAgain(): void {
    this.#rebuildDayOnNextSnapshot = true;
  }

  /**
   * New settings apply from the next snapshot. Another reset time or zone means other day
   * boundaries: the day is rebuilt from the terminal's figures rather than keep a date label
   * that no longer fits.
   */
  changeSettings(settings: RiskSettings): void {
    if (JSON.stringify(settings.daily) !== JSON.stringify(this.#settings.daily)) {
      this.#engine = { ...this.#engine, day: undefined };
      this.#rebuildDayOnNextSnapshot = true;
    }
    this.#settings = settings;
  }

  /**
   * Lifts the lock: a person's unlock (`unlockedAt`: the element's `unlocked_at`, the proof the
   * EA may be unlocked), or a day lock that ended.
   */
  unlock(why: string, unlockedAt?: number): void {
    const { audit, writer } = this.#options;
    this.#lock = UNLOCKED;
    this.#unlockedHere = true;
    if (unlockedAt !== undefined) this.#owedUnlockAt = unlockedAt;
    this.#executor.release();
    this.#storeFlatten();
    const lock = this.#lock;
    this.#bookkeep(() => {
      audit.record("unlock", why);
      writer.writeTrading(lock);
      audit.notify("unlock", "info", `account unlocked: ${why}`);
    });
    // Snapshots may show the EA locked until this unlock lands; reconciliation resends it
    // only if it still has not taken a few seconds later.
    if (!this.#options.dryRun) this.#sendUnlock();
  }

  /**
   * Resends unconfirmed commands when their backoff is over, and escalates them, on a timer of
   * its own until `signal` aborts: a quiet market sends no snapshots to do it.
   */
  async resendUntil(signal: AbortSignal): Promise<void> {
    const tick = Math.max(10, Math.min(250, this.#options.retryBaseMs / 4));
    while (!signal.aborted) {
      await abortableSleep(tick, signal);
      if (signal.aborted) break;
      this.#executor.resendDue();
      // A warning kept back by the once-a-second write (a plugin's, arriving after its snapshot
      // was written) goes out without waiting for a snapshot a quiet market may not send.
      this.flushNotified();
    }
  }

  /**
   * Writes the day's warnings kept back by {@link #writeNotified} once its second is over, or at
   * once with `force` (the stop).
   */
  flushNotified(force = false): void {
    const day = this.#engine.day;
    if (this.#notifiedUnwritten && day !== undefined) this.#writeNotified(day, force);
  }

  /** Waits until every command sent so far has been answered or has failed. */
  settle(): Promise<void> {
    return this.#executor.settle();
  }

  /**
   * Evaluates one snapshot and enforces what the rules decide: the protective commands leave
   * first, everything recorded about them follows.
   */
  onSnapshot(snapshot: Snapshot): void {
    const evaluation = this.#decide(() => this.#evaluate(snapshot));
    this.#askPlugins(evaluation.context, evaluation.state.day.date);
    // Day and peak as they are when the write runs (a plugin's warning may land meanwhile).
    this.#options.writer.writeMetrics(snapshot, evaluation.context.day.pnl, () => {
      const day = this.#engine.day;
      return {
        day: day === undefined ? undefined : this.#persistedDay(day),
        peak: this.#engine.peak,
      };
    });
    this.#options.audit.observe(() =>
      this.#options.onStatus?.(this.#status(snapshot, evaluation.context.day.pnl))
    );
  }

  /**
   * Runs `decide`, which sends protective commands, and then the bookkeeping it asked for with
   * {@link #bookkeep}: a store write, an event, a notification or a log line never runs ahead of
   * a command in the turn that decides (the bridge writes a command to its socket at once).
   */
  #decide<T>(decide: () => T): T {
    if (this.#after !== undefined) return decide();
    const after: Array<() => void> = [];
    this.#after = after;
    try {
      return decide();
    } finally {
      this.#after = undefined;
      for (const task of after) this.#options.audit.observe(task);
    }
  }

  /** Runs `task` after the decision being made, or now outside one. */
  #bookkeep(task: () => void): void {
    if (this.#after !== undefined) this.#after.push(task);
    else task();
  }

  /** Evaluates one snapshot and sends what the built-in rules decide. */
  #evaluate(snapshot: Snapshot): ReturnType<typeof evaluateSnapshot> {
    const { clock } = this.#options;
    this.#lastSnapshot = snapshot;
    const now = clock.now();
    const evaluation = evaluateSnapshot({
      snapshot,
      settings: this.#settings,
      state: this.#engine,
      now,
      fresh: this.#rebuildDayOnNextSnapshot,
    });
    this.#rebuildDayOnNextSnapshot = false;
    const dayChanged = evaluation.day_change !== "same" ||
      evaluation.state.day.date !== this.#engine.day?.date;
    const warned = evaluation.state.notified.keys.length !==
      (this.#engine.notified?.date === evaluation.state.day.date
        ? this.#engine.notified.keys.length
        : 0);
    this.#engine = evaluation.state;
    this.#bookkeep(() => this.#recordEvaluation(snapshot, evaluation, dayChanged, warned));
    const ended = expireLock(this.#lock, now);
    if (ended !== undefined) this.unlock(ended);
    this.#reconcileEaLock(snapshot);
    this.#enforce(snapshot, evaluation.actions, evaluation.context.day.ends_at);
    return evaluation;
  }

  /** Records what an evaluation changed: the trading day, warnings, rule errors. */
  #recordEvaluation(
    snapshot: Snapshot,
    evaluation: ReturnType<typeof evaluateSnapshot>,
    dayChanged: boolean,
    warned: boolean,
  ): void {
    const { audit, writer, log } = this.#options;
    if (dayChanged && evaluation.day_estimated) {
      audit.record(
        "warning",
        "trading day rebuilt mid-day with a reset that is not 00:00 server time: the start " +
          "balance is an estimate that counts all of the terminal's realized losses of today",
        { server_time: snapshot.server_time, detail: { ...evaluation.state.day } },
      );
    }
    if (dayChanged) {
      audit.record(
        "lifecycle",
        `trading day ${evaluation.state.day.date} (${evaluation.day_change})`,
        { server_time: snapshot.server_time, detail: { ...evaluation.state.day } },
      );
      writer.patch({ day: this.#persistedDay(evaluation.state.day), peak: evaluation.state.peak });
      this.#notifiedUnwritten = false;
    } else if (warned || this.#notifiedUnwritten) {
      this.#writeNotified(evaluation.state.day);
    }
    for (const error of evaluation.errors) {
      audit.record("error", `rule ${error.rule} failed: ${error.message}`, { rule: error.rule });
    }
    log.debug("snapshot {seq}: equity {equity}, day P/L {pnl}, {count} action(s)", {
      seq: snapshot.seq,
      equity: snapshot.account.equity,
      pnl: round2(evaluation.context.day.pnl),
      count: evaluation.actions.length,
    });
  }

  /**
   * Writes the day with its notify memory after a new once-a-day warning, at most once per
   * {@link NOTIFIED_WRITE_MS}: each write carries every key of the day (one per warned ticket), so
   * a burst of warnings would rewrite a growing list on every snapshot (measured: 2,000 tickets
   * warned back to back took the tick-to-command p99 from 0.7-1.0 ms to 2.2-2.8 ms). Keys not yet
   * written go with the next write: a later warning or snapshot, a day change, the resend timer
   * once the second is over ({@link flushNotified}), or the stop. A crash in between can only
   * repeat a warning.
   */
  #writeNotified(day: DayState, force = false): void {
    const now = this.#options.clock.monotonic();
    if (!force && now - this.#notifiedWrittenAt < NOTIFIED_WRITE_MS) {
      this.#notifiedUnwritten = true;
      return;
    }
    this.#notifiedWrittenAt = now;
    this.#notifiedUnwritten = false;
    this.#options.writer.patch({ day: this.#persistedDay(day) });
  }

  /** The day state to store: with the once-a-day notifications already delivered on it. */
  #persistedDay(day: DayState): DayState {
    const notified = this.#engine.notified;
    return notified?.date === day.date && notified.keys.length > 0
      ? { ...day, notified: notified.keys }
      : day;
  }

  #askPlugins(context: RuleContext, date: string): void {
    const plugins = this.#options.plugins.host;
    if (plugins === undefined) return;
    const { audit, signal, log } = this.#options;
    void plugins.evaluate(context).then((outcome) => {
      if (signal.aborted) return;
      for (const error of outcome.errors) {
        // Where in the plugin and on which snapshot: what its author needs to fix it.
        const at = error.file === undefined
          ? ""
          : ` at ${error.file}${error.line === undefined ? "" : `:${error.line}`}`;
        const message = `rule plugin ${error.rule} ${error.kind}${at}: ${error.message}`;
        audit.record("error", message, {
          rule: error.rule,
          server_time: context.snapshot.server_time,
          detail: { ...error },
        });
        // A plugin that no longer loads is not guarding: a person must hear of it.
        if (error.kind === "load") audit.notify("error", "critical", message, error.rule);
      }
      if (outcome.actions.length === 0) return;
      // An answer about a previous trading day is stale: its locks would end at that day's
      // reset and its once-a-day memory belongs to that day.
      if (date !== this.#engine.day?.date) return;
      const merged = mergeLateActions(outcome.actions, this.#engine.notified, date);
      const warned = merged.memory.keys.length !== (this.#engine.notified?.keys.length ?? 0);
      this.#engine = { ...this.#engine, notified: merged.memory };
      this.#decide(() => {
        const day = this.#engine.day;
        if (warned && day !== undefined) this.#bookkeep(() => this.#writeNotified(day));
        const snapshot = this.#lastSnapshot;
        if (snapshot !== undefined) this.#enforce(snapshot, merged.actions, context.day.ends_at);
      });
    }, (error) => {
      log.error("plugin evaluation failed: {error}", { error: describeError(error) });
    });
  }

  #enforce(snapshot: Snapshot, actions: readonly Action[], dayEndsAt: number): void {
    const { audit, clock } = this.#options;
    const protective: ProtectiveAction[] = [];
    let locked = false;
    for (const action of actions) {
      switch (action.type) {
        case "notify":
          this.#bookkeep(() => {
            audit.record("warning", action.reason, {
              rule: action.rule,
              server_time: snapshot.server_time,
              detail: { level: action.level },
            });
            audit.notify("warning", action.level, action.reason, action.rule);
          });
          break;
        case "lock": {
          const lock = { ...action, until: lockUntil(action, clock.now(), dayEndsAt) };
          locked = this.#lockAccount(lock, lock.rule, snapshot) || locked;
          protective.push(lock);
          break;
        }
        default:
          protective.push(action);
      }
    }
    const started = this.#executor.apply(snapshot, protective);
    this.#storeFlatten();
    // A lock records its own breach, and while locked every close belongs to that lock. Other
    // new targets (one position over its risk, a close before the weekend) are breaches of
    // their own; targets already in progress are not recorded again, so a breach that lasts
    // many snapshots is one event.
    if (locked || isLocked(this.#lock)) return;
    for (const action of started) {
      if (action.type === "lock") continue;
      this.#bookkeep(() =>
        audit.record("breach", action.reason, {
          rule: action.rule,
          server_time: snapshot.server_time,
          detail: {
            action: action.type,
            ...("ticket" in action ? { ticket: action.ticket } : {}),
          },
        })
      );
    }
  }

  /** Moves to a locked state; returns false when the account is already locked as strictly. */
  #lockAccount(request: LockRequest, rule: string, snapshot: Snapshot): boolean {
    const next = applyLock(this.#lock, request);
    if (next === undefined) return false;
    const { audit, writer, log } = this.#options;
    if (
      this.#lock.trading === "LOCKED_DAY" && next.trading === "LOCKED_DAY" &&
      this.#lockRule === rule
    ) {
      // The same rule sliding its day lock's end forward (a cool-down "until now + 15 min"):
      // the lock is extended silently, not recorded (and notified) again on every snapshot.
      const extended = { ...next, reason: this.#lock.reason ?? next.reason };
      this.#lock = extended;
      this.#bookkeep(() => writer.writeTrading(extended));
      return false;
    }
    this.#lock = next;
    this.#lockRule = rule;
    this.#settleOwedUnlock();
    const reason = request.reason;
    const dry = this.#options.dryRun ? "dry run: would be " : "";
    this.#bookkeep(() => {
      audit.record("breach", reason, { rule, server_time: snapshot.server_time });
      audit.record("lock", `${dry}${next.trading}: ${reason}`, {
        rule,
        server_time: snapshot.server_time,
        detail: {
          trading: next.trading,
          until: next.lockedUntil,
          equity: snapshot.account.equity,
          balance: snapshot.account.balance,
        },
      });
      writer.writeTrading(next);
      audit.notify("lock", "critical", `account locked (${next.trading}): ${reason}`, rule);
      log.warn("account locked ({trading}) by {rule}: {reason}", {
        trading: next.trading,
        rule,
        reason,
      });
    });
    return true;
  }

  /**
   * The EA's lock against the account's: when the account is ALLOWED but the EA still holds a
   * lock, the EA is unlocked only for a proven unlock (a person's unlock not yet seen on the EA,
   * an unlock of this process, or the EA's own lock end passed), and the unlock is resent every
   * few seconds until a snapshot shows it took. Without proof the lock may be one decided while
   * the store was unreachable whose write was lost: it is adopted, never undone. A lock this
   * process decides on is held by the executor and never undone here.
   */
  #reconcileEaLock(snapshot: Snapshot): void {
    if (this.#options.dryRun) return;
    const { clock } = this.#options;
    if (!snapshot.locked) {
      if (!isLocked(this.#lock)) {
        this.#settleOwedUnlock();
        this.#unlockedHere = false;
      }
      return;
    }
    const eaUntil = snapshot.locked_until;
    const due = eaUnlockDue({
      state: this.#lock,
      eaLocked: snapshot.locked,
      holding: this.#executor.holding,
      lastSentAt: this.#eaUnlockSentAt,
      now: clock.monotonic(),
      retryMs: EA_UNLOCK_RETRY_MS,
      unlockProven: this.#owedUnlockAt !== undefined || this.#unlockedHere ||
        (eaUntil !== undefined && eaUntil > 0 && eaUntil <= clock.now()),
    });
    if (due === undefined) return;
    if (due === "adopt") return this.#adoptEaLock(snapshot);
    if (due === "first") {
      this.#bookkeep(() =>
        this.#options.audit.record(
          "unlock",
          "the EA is locked but the account is ALLOWED and was unlocked: unlocking the EA",
          { server_time: snapshot.server_time },
        )
      );
    }
    this.#sendUnlock();
  }

  /**
   * Takes over a lock the EA holds that the account does not know of and nothing proves lifted
   * (e.g. decided during a store outage whose write was lost before a stop): recorded as a lock
   * event, stored, and held from now on.
   */
  #adoptEaLock(snapshot: Snapshot): void {
    const reason = "lock found on the EA with no unlock by a person recorded: kept";
    const request = adoptedLock(snapshot.locked_until, reason);
    const next = applyLock(this.#lock, request);
    if (next === undefined) return;
    const { audit, writer, log } = this.#options;
    this.#lock = next;
    this.#executor.holdLocked(request.until, "ea_lock", reason);
    this.#bookkeep(() => {
      audit.record("lock", `${next.trading}: ${reason}`, {
        rule: "ea_lock",
        server_time: snapshot.server_time,
        detail: {
          trading: next.trading,
          until: next.lockedUntil,
          adopted: true,
          equity: snapshot.account.equity,
          balance: snapshot.account.balance,
        },
      });
      writer.writeTrading(next);
      audit.notify("lock", "critical", `account locked (${next.trading}): ${reason}`, "ea_lock");
      log.warn("the EA holds a lock the account did not know of: adopted ({trading})", {
        trading: next.trading,
      });
    });
  }

  /**
   * Keeps the element's `flatten_pending` equal to the account-wide closes being enforced while
   * locked, so that a restart takes them up again.
   */
  #storeFlatten(): void {
    if (this.#options.dryRun) return;
    const now = isLocked(this.#lock) ? this.#executor.flattening() : [];
    if (now.join() === this.#flattenStored.join()) return;
    this.#flattenStored = now;
    this.#bookkeep(() => this.#options.writer.patch({ flatten_pending: now }));
  }

  /** A person's unlock took effect on the EA (or a newer lock replaced it): record it as used. */
  #settleOwedUnlock(): void {
    const unlockedAt = this.#owedUnlockAt;
    if (unlockedAt === undefined) return;
    this.#owedUnlockAt = undefined;
    this.#unlockAppliedAt = unlockedAt;
    this.#bookkeep(() => this.#options.writer.patch({ unlock_applied_at: unlockedAt }));
  }

  /**
   * The state that must outlive this process (the lock, day, peak, the unlock seen applied, and
   * what is being flattened): kept in the local journal when the store cannot take it at a stop.
   */
  durableState(): DurableState {
    const day = this.#engine.day;
    return {
      lock: this.#lock,
      day: day === undefined ? null : this.#persistedDay(day),
      peak: this.#engine.peak ?? null,
      unlockAppliedAt: this.#unlockAppliedAt,
      flatten: isLocked(this.#lock) ? this.#executor.flattening() : [],
    };
  }

  /** Sends `unlock` to the EA; a failure is recorded, and reconciliation retries it. */
  #sendUnlock(): void {
    const { audit, clock, sender } = this.#options;
    this.#eaUnlockSentAt = clock.monotonic();
    // Sent at once, not on a later tick: a lock decided on the same snapshot must follow it.
    // Every acknowledgement is an event, as the executor's commands' are; one that arrives
    // after the send gave up too (the EA did unlock), marked late.
    const recordAck = (ack: Ack, late: boolean) => {
      audit.recordAck("unlock", ack, { late });
      if (!ack.ok) audit.record("error", `unlock refused by the EA (retcode ${ack.retcode})`);
    };
    void sender.send({ type: "unlock" }, { onLateAck: (ack) => recordAck(ack, true) }).then(
      (ack) => recordAck(ack, false),
      (error) => audit.record("error", `unlock command failed: ${describeError(error)}`),
    );
  }

  #status(snapshot: Snapshot, dailyPnl: number): RiskStatus {
    const baseline = this.#engine.day?.baseline ?? snapshot.account.balance;
    const limit = this.#settings.max_daily_loss;
    return {
      element_id: this.#options.element._id,
      seq: snapshot.seq,
      balance: snapshot.account.balance,
      equity: snapshot.account.equity,
      currency: snapshot.account.currency,
      daily_pnl: round2(dailyPnl),
      daily_loss_limit: limit === undefined ? undefined : resolveLimit(limit, baseline),
      trading: this.#lock.trading,
      positions: snapshot.positions.length,
      orders: snapshot.orders.length,
      stale: this.#options.stale(),
    };
  }
}

/** How often an unlock that has not taken yet is resent to the EA. */
const EA_UNLOCK_RETRY_MS = 5_000;
/** Least time between two writes of the day's notify memory for new warnings, ms. */
const NOTIFIED_WRITE_MS = 1_000;
