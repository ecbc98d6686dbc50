/**
 * Turns the engine's protective decisions into bridge commands, safely and without storms.
 *
 * - Safe order: within one snapshot, lock is sent before cancel_orders, and cancel_orders
 *   before any close. The EA handles commands one at a time in arrival order, so the order
 *   holds without waiting for each ack (waiting would delay protection by a round trip).
 * - De-duplication: one command per target (lock, cancel, close-all, close of one ticket) is in
 *   flight at a time; snapshots arriving meanwhile do not resend it.
 * - Confirmation: a close or cancel counts as done only when a later snapshot no longer shows
 *   the positions or orders, not when the ack says ok.
 * - Retries: while a target is not confirmed, it is resent with exponential backoff, on the
 *   caller's timer ({@link Executor.resendDue}) as well as on snapshots: a quiet market (heartbeats
 *   only) does not stop retries. A resend of the same command with the same id by the bridge
 *   (no ack in time, or the EA said hello again) is reported too (`command_resent`).
 * - Escalation: once `escalateAfter` attempts went unconfirmed, or as long as their backoff
 *   would take (1 + 2 + 4 = 7 s by default) has passed since the first attempt, the executor
 *   reports an escalation once (event and critical notification) and keeps retrying. Time
 *   counts too because an attempt the EA never acks stays in flight for the bridge's whole ack
 *   timeout and resends: counting attempts alone escalated 15 s per attempt late.
 * - Late acks: an ack the bridge receives after it stopped waiting (the EA was busy with a long
 *   queue) is still reported (`command_acked` with `late: true`), after that command's failure.
 * - Dry run: decisions are reported as `dry_run` events and nothing is sent.
 *
 * @module
 */
import { type Ack, type Command, fitReason, type Snapshot } from "../mt5/protocol.ts";
import type { Clock } from "../shared/clock.ts";
import { describeError } from "../shared/errors.ts";
import { exponentialBackoff } from "../shared/backoff.ts";

type WithoutId<T> = T extends unknown ? Omit<T, "id"> : never;

/** A command as handed to the bridge, which assigns the id. */
export type OutgoingCommand = WithoutId<Command>;

/** What the executor needs from the bridge. */
export interface CommandSender {
  /**
   * Sends a command and resolves with the EA's ack (rejects on timeout or lost bridge);
   * `onResend` hears of every resend of it with the same id, with its delivery number;
   * `onLateAck` hears of an ack that arrives after `send` rejected on timeout.
   */
  send(
    command: OutgoingCommand,
    options?: {
      onResend?: (command: Command, delivery: number) => void;
      onLateAck?: (ack: Ack) => void;
    },
  ): Promise<Ack>;
}

/** A protective decision of the engine, as far as the executor is concerned. */
export type ProtectiveAction =
  | { type: "lock"; until: number; rule: string; reason: string }
  | { type: "cancel_orders"; rule: string; reason: string }
  | { type: "close_all"; rule: string; reason: string }
  | { type: "close_position"; ticket: number; rule: string; reason: string };

/** Something the executor did or saw, for the audit trail. */
export type ExecutorEvent =
  | { type: "command_sent"; command: OutgoingCommand; attempt: number; rule: string }
  | {
    type: "command_resent";
    command: Command;
    attempt: number;
    delivery: number;
    rule: string;
  }
  | {
    type: "command_acked";
    command: OutgoingCommand;
    ack: Ack;
    rule: string;
    /** The ack came after the bridge had stopped waiting (the command had failed). */
    late?: boolean;
  }
  | { type: "command_failed"; command: OutgoingCommand; error: string; rule: string }
  | { type: "confirmed"; target: string; attempts: number; rule: string }
  | {
    type: "escalation";
    target: string;
    attempts: number;
    /** Ms since the first attempt. */
    elapsedMs: number;
    rule: string;
    reason: string;
  }
  | { type: "dry_run"; command: OutgoingCommand; rule: string };

/** Options of {@link Executor}. */
export interface ExecutorOptions {
  /** The bridge. */
  sender: CommandSender;
  /** Time source for backoff. */
  clock: Clock;
  /** Report decisions without sending them. */
  dryRun?: boolean;
  /** Delay before the first resend of an unconfirmed target; doubles per attempt. */
  retryBaseMs?: number;
  /** Longest delay between resends. */
  retryMaxMs?: number;
  /** Attempts after which an escalation is reported. */
  escalateAfter?: number;
  /** Receives every event (record it in `events`, log it, notify). */
  onEvent: (event: ExecutorEvent) => void;
}

interface Target {
  key: string;
  rule: string;
  reason: string;
  attempts: number;
  inFlight: boolean;
  nextAttemptAt: number;
  /** Monotonic ms of the first attempt. */
  firstAttemptAt: number;
  escalated: boolean;
}

/** See the module documentation. */
export class Executor {
  readonly #options: Required<Omit<ExecutorOptions, "dryRun">> & { dryRun: boolean };
  readonly #targets = new Map<string, Target>();
  #lock: { until: number; rule: string; reason: string } | undefined;
  /**
   * Positions and orders that existed when the lock began (taken from the first snapshot
   * applied while locked): a lock leaves them alone; only an action closes them.
   */
  #beforeLock: { positions: Set<number>; orders: Set<number> } | undefined;
  /** Targets the lock itself started (closes of positions opened while locked). */
  readonly #lockTargets = new Set<string>();
  readonly #pending = new Set<Promise<unknown>>();
  /** The latest snapshot applied: what timer-driven resends decide from. */
  #lastSnapshot: Snapshot | undefined;

  /** Creates an executor with no targets. */
  constructor(options: ExecutorOptions) {
    this.#options = {
      retryBaseMs: 1_000,
      retryMaxMs: 15_000,
      escalateAfter: 3,
      dryRun: false,
      ...options,
    };
  }

  /**
   * Keeps the account locked until {@link release}: used while the account is LOCKED_DAY or
   * LOCKED. A lock refuses new trades and nothing more: positions and orders that existed when
   * it began stay unless an action closes them (a limit that wants the account flat emits
   * `cancel_orders` and `close_all` beside its `lock`). A position opened while locked is
   * closed again (`close_position`), and orders placed while locked are cancelled when no older
   * order would go with them (the EA deletes them itself too).
   */
  holdLocked(until: number, rule: string, reason: string): void {
    // A stronger lock replacing a weaker one keeps what existed before the first.
    if (this.#lock === undefined) this.#beforeLock = undefined;
    this.#lock = { until, rule, reason };
  }

  /**
   * Ends {@link holdLocked}: closes or cancels still being retried stop (a rule that still
   * wants one asks again on the next snapshot).
   */
  release(): void {
    this.#lock = undefined;
    this.#beforeLock = undefined;
    for (const key of ["lock", "close_all", "cancel_orders", ...this.#lockTargets]) {
      this.#targets.delete(key);
    }
    this.#lockTargets.clear();
  }

  /** True while a lock is being held. */
  get holding(): boolean {
    return this.#lock !== undefined;
  }

  /**
   * Takes up account-wide targets a previous process left unconfirmed with its lock (after a
   * restart): they are enforced like new ones.
   */
  resume(keys: readonly ("cancel_orders" | "close_all")[], rule: string, reason: string): void {
    for (const key of keys) this.#target(key, rule, reason);
  }

  /** The account-wide targets (`cancel_orders`, `close_all`) not yet confirmed. */
  flattening(): Array<"cancel_orders" | "close_all"> {
    return (["cancel_orders", "close_all"] as const).filter((key) => this.#targets.has(key));
  }

  /** Number of targets not yet confirmed. */
  get openTargets(): number {
    return this.#targets.size;
  }

  /**
   * Handles one snapshot and the engine's actions for it: confirms finished targets, adds new
   * ones, and sends what is due, in the safe order. Returns the actions that started a new
   * target (not already being enforced): the caller records those as breaches.
   */
  apply(snapshot: Snapshot, actions: readonly ProtectiveAction[]): ProtectiveAction[] {
    const adopted = actions.filter((action) => this.#adopt(action));
    this.#confirm(snapshot);
    if (this.#lock !== undefined) {
      this.#beforeLock ??= {
        positions: new Set(snapshot.positions.map((p) => p.ticket)),
        orders: new Set(snapshot.orders.map((o) => o.ticket)),
      };
    }
    this.#lastSnapshot = snapshot;
    this.#sendDue(snapshot);
    return adopted;
  }

  /**
   * Resends what is due by its backoff although no snapshot arrived: call it on a timer. A
   * target the latest snapshot did not show done is resent, acked or not.
   */
  resendDue(): void {
    if (this.#lastSnapshot !== undefined) this.#sendDue(this.#lastSnapshot);
  }

  /** Sends what is due, in the safe order. */
  #sendDue(snapshot: Snapshot): void {
    const due: Array<[Target, OutgoingCommand]> = [];
    const lockTarget = this.#targets.get("lock");
    if (this.#lock !== undefined && !eaHolds(snapshot, this.#lock.until)) {
      const target = lockTarget ?? this.#target("lock", this.#lock.rule, this.#lock.reason);
      due.push([target, { type: "lock", reason: this.#lock.reason, until: this.#lock.until }]);
    }
    if (this.#lock !== undefined) this.#undoTradesWhileLocked(snapshot, this.#lock);
    const cancel = this.#targets.get("cancel_orders");
    if (cancel !== undefined) due.push([cancel, { type: "cancel_orders" }]);
    const closeAll = this.#targets.get("close_all");
    if (closeAll !== undefined) {
      due.push([closeAll, { type: "close_all", reason: closeAll.reason }]);
    } else {
      for (const target of this.#targets.values()) {
        if (!target.key.startsWith("close:")) continue;
        const ticket = Number(target.key.slice("close:".length));
        due.push([target, { type: "close_position", ticket, volume: 0, reason: target.reason }]);
      }
    }
    // Every due command leaves before any of them is reported: the events (store writes, logs,
    // notifications) of the lock must not hold back the close behind it.
    const events: ExecutorEvent[] = [];
    for (const [target, command] of due) this.#maybeSend(target, command, events);
    for (const event of events) this.#options.onEvent(event);
  }

  /** Targets closing what was opened, and cancelling what was placed, while locked. */
  #undoTradesWhileLocked(snapshot: Snapshot, lock: { rule: string; reason: string }): void {
    const before = this.#beforeLock;
    if (before === undefined) return;
    for (const position of snapshot.positions) {
      if (before.positions.has(position.ticket)) continue;
      const key = `close:${position.ticket}`;
      if (!this.#targets.has(key)) this.#lockTargets.add(key);
      this.#target(key, lock.rule, lock.reason);
    }
    const placed = snapshot.orders.filter((order) => !before.orders.has(order.ticket));
    if (placed.length > 0 && placed.length === snapshot.orders.length) {
      if (!this.#targets.has("cancel_orders")) this.#lockTargets.add("cancel_orders");
      this.#target("cancel_orders", lock.rule, lock.reason);
    }
  }

  /** Waits until every command sent so far has been answered or has failed. */
  async settle(): Promise<void> {
    while (this.#pending.size > 0) await Promise.allSettled([...this.#pending]);
  }

  /** Starts enforcing an action; returns false when it was already being enforced. */
  #adopt(action: ProtectiveAction): boolean {
    if (action.type === "lock") {
      // Keep the stronger lock: permanent (until 0) beats any day lock, a later end beats an
      // earlier one. A weaker lock asked for later must not shorten the EA's own lock.
      const current = this.#lock;
      if (current !== undefined && !isStronger(action.until, current.until)) return false;
      this.holdLocked(action.until, action.rule, action.reason);
      return true;
    }
    const key = action.type === "close_position" ? `close:${action.ticket}` : action.type;
    if (this.#targets.has(key)) return false;
    this.#target(key, action.rule, action.reason);
    return true;
  }

  #target(key: string, rule: string, reason: string): Target {
    let target = this.#targets.get(key);
    if (target === undefined) {
      target = {
        key,
        rule,
        reason,
        attempts: 0,
        inFlight: false,
        nextAttemptAt: 0,
        firstAttemptAt: 0,
        escalated: false,
      };
      this.#targets.set(key, target);
    }
    return target;
  }

  /** Drops targets whose goal the snapshot shows reached. */
  #confirm(snapshot: Snapshot): void {
    const tickets = new Set(snapshot.positions.map((p) => p.ticket));
    for (const target of [...this.#targets.values()]) {
      let done: boolean;
      if (target.key === "lock") done = eaHolds(snapshot, this.#lock?.until ?? 0);
      else if (target.key === "cancel_orders") done = snapshot.orders.length === 0;
      else if (target.key === "close_all") done = snapshot.positions.length === 0;
      else done = !tickets.has(Number(target.key.slice("close:".length)));
      if (done && !target.inFlight) {
        this.#targets.delete(target.key);
        this.#lockTargets.delete(target.key);
        if (target.attempts > 0) {
          this.#options.onEvent({
            type: "confirmed",
            target: target.key,
            attempts: target.attempts,
            rule: target.rule,
          });
        }
      }
    }
  }

  /**
   * Escalates once when `escalateAfter` attempts are spent and the next is due, or when the
   * time those attempts take has passed since the first, whether an attempt is still waiting
   * for its ack or not.
   */
  #escalateIfDue(target: Target, now: number, events: ExecutorEvent[]): void {
    if (target.escalated || target.attempts === 0 || this.#options.dryRun) return;
    const { escalateAfter } = this.#options;
    const elapsed = now - target.firstAttemptAt;
    const spent = target.attempts >= escalateAfter && now >= target.nextAttemptAt;
    if (!spent && elapsed < this.#escalationDelay()) return;
    target.escalated = true;
    events.push({
      type: "escalation",
      target: target.key,
      attempts: target.attempts,
      elapsedMs: Math.round(elapsed),
      rule: target.rule,
      reason: target.reason,
    });
  }

  /** The time `escalateAfter` attempts take by their backoff (1 + 2 + 4 s by default). */
  #escalationDelay(): number {
    let total = 0;
    for (let attempt = 0; attempt < this.#options.escalateAfter; attempt++) {
      total += exponentialBackoff(attempt, {
        baseMs: this.#options.retryBaseMs,
        maxMs: this.#options.retryMaxMs,
      });
    }
    return total;
  }

  #maybeSend(target: Target, given: OutgoingCommand, events: ExecutorEvent[]): void {
    // The one place where a reason is fitted to the protocol: a rule's (or a stored
    // lock_reason's) long text must never keep a protective command from the EA.
    const command = "reason" in given ? { ...given, reason: fitReason(given.reason) } : given;
    // Backoff is a duration: measured on the monotonic clock, so a wall clock set back an hour
    // does not hold a protective command back for an hour.
    const now = this.#options.clock.monotonic();
    this.#escalateIfDue(target, now, events);
    // An ack alone does not count: until a snapshot shows the goal reached, the target is
    // resent when its backoff is over, whether snapshots arrive meanwhile or not.
    if (target.inFlight || now < target.nextAttemptAt) return;
    if (target.attempts === 0) target.firstAttemptAt = now;
    target.attempts++;
    const delay = exponentialBackoff(target.attempts - 1, {
      baseMs: this.#options.retryBaseMs,
      maxMs: this.#options.retryMaxMs,
    });
    target.nextAttemptAt = now + delay;
    if (this.#options.dryRun) {
      // Nothing will change: report once per target and wait for the next backoff period.
      if (target.attempts === 1) {
        events.push({ type: "dry_run", command, rule: target.rule });
      }
      target.nextAttemptAt = Number.POSITIVE_INFINITY;
      return;
    }
    target.inFlight = true;
    const attempt = target.attempts;
    const onResend = (full: Command, delivery: number) =>
      this.#options.onEvent({
        type: "command_resent",
        command: full,
        attempt,
        delivery,
        rule: target.rule,
      });
    // An EA working through a long queue may answer after the bridge gave up: that answer is
    // still an action taken on the account, so it is recorded like any other ack.
    const onLateAck = (ack: Ack) =>
      this.#options.onEvent({ type: "command_acked", command, ack, rule: target.rule, late: true });
    const sent = this.#options.sender.send(command, { onResend, onLateAck }).then(
      (ack) => {
        this.#options.onEvent({ type: "command_acked", command, ack, rule: target.rule });
      },
      (error) => {
        this.#options.onEvent({
          type: "command_failed",
          command,
          error: describeError(error),
          rule: target.rule,
        });
      },
    ).finally(() => {
      target.inFlight = false;
      this.#pending.delete(sent);
    });
    this.#pending.add(sent);
    // Recorded once the command has left: bookkeeping never runs ahead of protection.
    events.push({ type: "command_sent", command, attempt, rule: target.rule });
  }
}

/**
 * True when the EA's own lock is at least as strong as a lock ending at `until` (0 = never):
 * a weaker one (a day lock where a permanent one is held) must be replaced. An EA that does not
 * report when its lock ends is taken at its word.
 */
function eaHolds(snapshot: Snapshot, until: number): boolean {
  if (!snapshot.locked) return false;
  const eaUntil = snapshot.locked_until;
  if (eaUntil === undefined || eaUntil === 0) return true;
  // The EA keeps whole seconds: an end up to a second earlier than ours is the same lock.
  return until !== 0 && until <= eaUntil + 1_000;
}

/** True when a lock ending at `until` is stronger than one ending at `current` (0 = never). */
function isStronger(until: number, current: number): boolean {
  if (current === 0) return false;
  return until === 0 || until > current;
}
