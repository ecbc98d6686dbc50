/**
 * The account's lock state, pure: which locks move it, when a day lock ends, and when the EA's
 * own lock must be undone. Inputs in, decisions out; time is an input (`now`, from the injected
 * clock), never `Date.now()`.
 *
 * States: `ALLOWED` (trading allowed), `LOCKED_DAY` (locked until `lockedUntil`, the end of the
 * trading day or a rule's own end) and `LOCKED` (permanent: only a person unlocks it).
 *
 * @module
 */
import type { TradingState } from "../store/mod.ts";

/** The account's enforcement state, as persisted on the element. */
export interface LockState {
  /** `ALLOWED`, `LOCKED_DAY` or `LOCKED`. */
  readonly trading: TradingState;
  /** UTC epoch ms at which a day lock ends; null when allowed or locked for good. */
  readonly lockedUntil: number | null;
  /** Why the account is locked; null when allowed. */
  readonly reason: string | null;
}

/** A lock a rule asks for. */
export interface LockRequest {
  /** `day` ends at `until`; `permanent` holds until a person unlocks. */
  scope: "day" | "permanent";
  /** UTC epoch ms at which a day lock ends (ignored for a permanent lock). */
  until: number;
  /** Why (shown to people, stored as `lock_reason`). */
  reason: string;
}

/** Trading allowed, no lock. */
export const UNLOCKED: LockState = { trading: "ALLOWED", lockedUntil: null, reason: null };

/** The lock state stored on an element (restored after a restart). */
export function lockStateOf(
  element: { trading: TradingState; locked_until: number | null; lock_reason: string | null },
): LockState {
  return {
    trading: element.trading,
    lockedUntil: element.locked_until,
    reason: element.lock_reason,
  };
}

/** True while the account is locked (for the day or for good). */
export function isLocked(state: LockState): boolean {
  return state.trading !== "ALLOWED";
}

/**
 * The end of a requested lock, normalised: 0 for a permanent lock (permanent means permanent,
 * whatever `until` a plugin put beside it); a day lock that would end at or before `now` (a
 * rule's mistake) holds until `dayEndsAt`, the end of the trading day, instead of flapping on
 * every snapshot.
 */
export function lockUntil(
  request: Pick<LockRequest, "scope" | "until">,
  now: number,
  dayEndsAt: number,
): number {
  if (request.scope === "permanent") return 0;
  return request.until <= now ? dayEndsAt : request.until;
}

/**
 * The state after a lock request (its `until` already normalised by {@link lockUntil}), or
 * undefined when the account is already locked at least as strictly: a permanent lock is never
 * replaced, a day lock only by a permanent one or one that ends later.
 */
export function applyLock(state: LockState, request: LockRequest): LockState | undefined {
  const next: TradingState = request.scope === "permanent" ? "LOCKED" : "LOCKED_DAY";
  if (state.trading === "LOCKED") return undefined;
  if (
    state.trading === "LOCKED_DAY" && next === "LOCKED_DAY" &&
    (state.lockedUntil ?? 0) >= request.until
  ) {
    return undefined;
  }
  return {
    trading: next,
    lockedUntil: next === "LOCKED" ? null : request.until,
    reason: request.reason,
  };
}

/**
 * Why a day lock has ended at `now` (the unlock's message), or undefined while it holds. A
 * permanent lock never expires.
 */
export function expireLock(state: LockState, now: number): string | undefined {
  if (state.trading !== "LOCKED_DAY" || state.lockedUntil === null || now < state.lockedUntil) {
    return undefined;
  }
  return `day lock ended at ${new Date(state.lockedUntil).toISOString()}`;
}

/** Input of {@link eaUnlockDue}. */
export interface EaUnlockInput {
  /** The account's state (the element is the truth). */
  state: LockState;
  /** The latest snapshot says the EA holds a lock of its own. */
  eaLocked: boolean;
  /** This process is holding a lock it decided on (never undone here). */
  holding: boolean;
  /** When an unlock was last sent in this EA session; undefined when none was. */
  lastSentAt: number | undefined;
  /** Now, on the same clock as `lastSentAt` (the monotonic one: only their difference counts). */
  now: number;
  /** How long an unlock may take to show in a snapshot before it is sent again. */
  retryMs: number;
  /**
   * Something proves the EA's lock is to be lifted: a person's unlock not yet seen on the EA,
   * an unlock this process made itself, or the EA's own lock end has passed.
   */
  unlockProven: boolean;
}

/**
 * What to do when the account is ALLOWED but the EA still holds a lock of its own. With proof
 * that the lock is to be lifted (a person unlocked the account while no risk process ran, or an
 * unlock of this process did not land yet), `first` asks for the first unlock of this EA session
 * (record it) and `resend` for a resend of one that has not taken yet. Without proof the lock
 * may be one whose store write was lost (decided during a store outage): `adopt` it, never undo
 * it. Undefined when nothing is to be done.
 */
export function eaUnlockDue(input: EaUnlockInput): "first" | "resend" | "adopt" | undefined {
  if (isLocked(input.state) || !input.eaLocked || input.holding) return undefined;
  if (input.lastSentAt !== undefined) {
    return input.now - input.lastSentAt < input.retryMs ? undefined : "resend";
  }
  return input.unlockProven ? "first" : "adopt";
}

/**
 * The lock to adopt from an EA that is locked while the account says ALLOWED and nothing proves
 * an unlock: permanent when the EA reports no end (or 0), else a day lock to the EA's end.
 */
export function adoptedLock(eaLockedUntil: number | undefined, reason: string): LockRequest {
  return eaLockedUntil === undefined || eaLockedUntil === 0
    ? { scope: "permanent", until: 0, reason }
    : { scope: "day", until: eaLockedUntil, reason };
}
