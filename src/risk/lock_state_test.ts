import assert from "node:assert/strict";
import { ManualClock } from "../shared/clock.ts";
import {
  adoptedLock,
  applyLock,
  eaUnlockDue,
  expireLock,
  isLocked,
  type LockState,
  lockStateOf,
  lockUntil,
  UNLOCKED,
} from "./lock_state.ts";

const HOUR = 3_600_000;
const START = Date.UTC(2025, 2, 10, 9, 0);

Deno.test("lockUntil: a permanent lock ends never, whatever until a plugin gave it", () => {
  const clock = new ManualClock(START);
  assert.equal(lockUntil({ scope: "permanent", until: START + HOUR }, clock.now(), START), 0);
});

Deno.test("lockUntil: a day lock in the future keeps its end, one in the past holds the day", () => {
  const clock = new ManualClock(START);
  const dayEndsAt = START + 8 * HOUR;
  assert.equal(
    lockUntil({ scope: "day", until: START + HOUR }, clock.now(), dayEndsAt),
    START + HOUR,
  );
  assert.equal(lockUntil({ scope: "day", until: 1 }, clock.now(), dayEndsAt), dayEndsAt);
  // An end equal to now would expire on the same snapshot: it holds the day too.
  assert.equal(lockUntil({ scope: "day", until: START }, clock.now(), dayEndsAt), dayEndsAt);
});

Deno.test("applyLock: ALLOWED moves to LOCKED_DAY or LOCKED with the reason", () => {
  assert.deepEqual(applyLock(UNLOCKED, { scope: "day", until: START + HOUR, reason: "loss" }), {
    trading: "LOCKED_DAY",
    lockedUntil: START + HOUR,
    reason: "loss",
  });
  assert.deepEqual(applyLock(UNLOCKED, { scope: "permanent", until: 0, reason: "drawdown" }), {
    trading: "LOCKED",
    lockedUntil: null,
    reason: "drawdown",
  });
});

Deno.test("applyLock: only a stronger lock replaces the one in force", () => {
  const day: LockState = { trading: "LOCKED_DAY", lockedUntil: START + 2 * HOUR, reason: "a" };
  assert.equal(applyLock(day, { scope: "day", until: START + HOUR, reason: "earlier" }), undefined);
  assert.equal(
    applyLock(day, { scope: "day", until: START + 2 * HOUR, reason: "same" }),
    undefined,
  );
  assert.deepEqual(applyLock(day, { scope: "day", until: START + 3 * HOUR, reason: "later" }), {
    trading: "LOCKED_DAY",
    lockedUntil: START + 3 * HOUR,
    reason: "later",
  });
  assert.equal(applyLock(day, { scope: "permanent", until: 0, reason: "dd" })?.trading, "LOCKED");
  const permanent: LockState = { trading: "LOCKED", lockedUntil: null, reason: "dd" };
  assert.equal(applyLock(permanent, { scope: "permanent", until: 0, reason: "x" }), undefined);
  assert.equal(
    applyLock(permanent, { scope: "day", until: START + 9 * HOUR, reason: "x" }),
    undefined,
  );
});

Deno.test("expireLock: a day lock ends exactly at its time, a permanent one never", () => {
  const clock = new ManualClock(START);
  const day: LockState = { trading: "LOCKED_DAY", lockedUntil: START + HOUR, reason: "loss" };
  assert.equal(expireLock(day, clock.now()), undefined);
  clock.advance(HOUR - 1);
  assert.equal(expireLock(day, clock.now()), undefined, "1 ms before the end it still holds");
  clock.advance(1);
  assert.equal(expireLock(day, clock.now()), "day lock ended at 2025-03-10T10:00:00.000Z");
  const permanent: LockState = { trading: "LOCKED", lockedUntil: null, reason: "dd" };
  clock.advance(365 * 24 * HOUR);
  assert.equal(expireLock(permanent, clock.now()), undefined);
  assert.equal(expireLock(UNLOCKED, clock.now()), undefined);
});

Deno.test("lockStateOf and isLocked read the element's persisted lock", () => {
  const state = lockStateOf({ trading: "LOCKED_DAY", locked_until: START, lock_reason: "r" });
  assert.deepEqual(state, { trading: "LOCKED_DAY", lockedUntil: START, reason: "r" });
  assert.equal(isLocked(state), true);
  assert.equal(isLocked(UNLOCKED), false);
});

Deno.test("eaUnlockDue: an EA locked while the account is ALLOWED is unlocked, then resent", () => {
  const clock = new ManualClock(START);
  const base = {
    state: UNLOCKED,
    eaLocked: true,
    holding: false,
    retryMs: 5_000,
    unlockProven: true,
  };
  assert.equal(eaUnlockDue({ ...base, lastSentAt: undefined, now: clock.now() }), "first");
  const sentAt = clock.now();
  clock.advance(4_999);
  assert.equal(eaUnlockDue({ ...base, lastSentAt: sentAt, now: clock.now() }), undefined);
  clock.advance(1);
  assert.equal(eaUnlockDue({ ...base, lastSentAt: sentAt, now: clock.now() }), "resend");
});

Deno.test("eaUnlockDue: never while the account is locked, the EA is free or a lock is held", () => {
  const now = START;
  const base = {
    eaLocked: true,
    holding: false,
    lastSentAt: undefined,
    now,
    retryMs: 5_000,
    unlockProven: true,
  };
  const locked: LockState = { trading: "LOCKED", lockedUntil: null, reason: "dd" };
  assert.equal(eaUnlockDue({ ...base, state: locked }), undefined);
  assert.equal(eaUnlockDue({ ...base, state: UNLOCKED, eaLocked: false }), undefined);
  assert.equal(eaUnlockDue({ ...base, state: UNLOCKED, holding: true }), undefined);
});

Deno.test("eaUnlockDue: an EA lock nothing proves to be lifted is adopted, not undone", () => {
  const base = { state: UNLOCKED, eaLocked: true, holding: false, now: START, retryMs: 5_000 };
  assert.equal(eaUnlockDue({ ...base, lastSentAt: undefined, unlockProven: false }), "adopt");
  assert.equal(eaUnlockDue({ ...base, lastSentAt: undefined, unlockProven: true }), "first");
  assert.deepEqual(adoptedLock(undefined, "r"), { scope: "permanent", until: 0, reason: "r" });
  assert.deepEqual(adoptedLock(0, "r"), { scope: "permanent", until: 0, reason: "r" });
  assert.deepEqual(adoptedLock(START, "r"), { scope: "day", until: START, reason: "r" });
});
