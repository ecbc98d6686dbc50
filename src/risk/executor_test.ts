import assert from "node:assert/strict";
import type { Ack, Command } from "../mt5/protocol.ts";
import { ManualClock } from "../shared/clock.ts";
import { order, position, snapshot } from "../../tests/support/snapshots.ts";
import {
  Executor,
  type ExecutorEvent,
  type OutgoingCommand,
  type ProtectiveAction,
} from "./executor.ts";

/** A bridge stand-in that records commands and acks them (or fails) when told. */
function fakeSender(options: { fail?: boolean } = {}) {
  const sent: OutgoingCommand[] = [];
  let counter = 0;
  return {
    sent,
    send(command: OutgoingCommand): Promise<Ack> {
      sent.push(command);
      if (options.fail) return Promise.reject(new Error("ack timeout"));
      return Promise.resolve({ type: "ack", id: `c${++counter}`, ok: true, retcode: 10009 });
    },
  };
}

function setup(options: { dryRun?: boolean; fail?: boolean } = {}) {
  const clock = new ManualClock(Date.UTC(2026, 10, 24, 10));
  const sender = fakeSender(options);
  const events: ExecutorEvent[] = [];
  const executor = new Executor({
    sender,
    clock,
    dryRun: options.dryRun ?? false,
    retryBaseMs: 1_000,
    retryMaxMs: 8_000,
    escalateAfter: 3,
    onEvent: (event) => events.push(event),
  });
  return { clock, sender, events, executor };
}

const breach: ProtectiveAction[] = [
  { type: "close_all", rule: "max_daily_loss", reason: "daily loss 510 >= 500" },
  { type: "cancel_orders", rule: "max_daily_loss", reason: "daily loss 510 >= 500" },
  { type: "lock", until: 0, rule: "max_daily_loss", reason: "daily loss 510 >= 500" },
];

Deno.test("executor: a breach sends lock, cancel_orders, close_all in that order", async () => {
  const { sender, executor } = setup();
  executor.apply(snapshot({ positions: [position()], orders: [order()] }), breach);
  await executor.settle();
  assert.deepEqual(sender.sent.map((c) => c.type), ["lock", "cancel_orders", "close_all"]);
});

Deno.test("executor: snapshots during a close in flight do not resend it", async () => {
  const { sender, executor } = setup();
  const open = snapshot({ positions: [position()] });
  executor.apply(open, breach);
  executor.apply(open, breach);
  executor.apply(open, breach);
  await executor.settle();
  assert.deepEqual(sender.sent.map((c) => c.type), ["lock", "close_all"]);
});

Deno.test("executor: an acked close still open is resent after the backoff, then confirmed", async () => {
  const { clock, sender, events, executor } = setup();
  const open = snapshot({ positions: [position()], locked: true });
  executor.apply(open, [{ type: "close_all", rule: "r", reason: "x" }]);
  await executor.settle();
  executor.apply(open, []); // ack came, but the position is still there
  await executor.settle();
  assert.equal(sender.sent.length, 1, "no resend before the backoff");
  clock.advance(1_000);
  executor.apply(open, []);
  await executor.settle();
  assert.equal(sender.sent.length, 2);
  executor.apply(snapshot({ positions: [], locked: true }), []);
  assert.equal(executor.openTargets, 0);
  const confirmed = events.find((e) => e.type === "confirmed");
  assert.deepEqual(confirmed, { type: "confirmed", target: "close_all", attempts: 2, rule: "r" });
});

Deno.test("executor: escalates once after the configured attempts and keeps retrying", async () => {
  const { clock, sender, events, executor } = setup({ fail: true });
  const open = snapshot({ positions: [position()], locked: true });
  for (let i = 0; i < 8; i++) {
    executor.apply(open, i === 0 ? [{ type: "close_all", rule: "r", reason: "x" }] : []);
    await executor.settle();
    clock.advance(10_000);
  }
  assert.equal(sender.sent.length, 8);
  const escalations = events.filter((e) => e.type === "escalation");
  assert.equal(escalations.length, 1);
  assert.equal(events.filter((e) => e.type === "command_failed").length, 8);
});

Deno.test("executor: while held locked, a position opened later is closed again", async () => {
  const { sender, executor } = setup();
  executor.holdLocked(0, "max_drawdown", "drawdown breached");
  executor.apply(snapshot({ locked: true }), []);
  await executor.settle();
  assert.equal(sender.sent.length, 0, "locked and flat: nothing to do");
  executor.apply(snapshot({ locked: true, positions: [position({ ticket: 77 })] }), []);
  await executor.settle();
  // Only the position opened while locked is closed (issue 11.2: a lock is not a close_all).
  assert.deepEqual(sender.sent.map((c) => c.type), ["close_position"]);
  assert.equal(sender.sent[0]!.type === "close_position" && sender.sent[0]!.ticket, 77);
  executor.release();
  executor.apply(snapshot({ positions: [position({ ticket: 78 })] }), []);
  await executor.settle();
  assert.equal(sender.sent.length, 1, "released: new positions are allowed");
});

Deno.test("executor: closing one position sends close_position for that ticket only", async () => {
  const { sender, executor } = setup();
  const positions = [position({ ticket: 1 }), position({ ticket: 2 })];
  executor.apply(snapshot({ positions }), [
    { type: "close_position", ticket: 2, rule: "max_position_risk", reason: "risk 300 > 100" },
  ]);
  await executor.settle();
  assert.deepEqual(sender.sent, [
    { type: "close_position", ticket: 2, volume: 0, reason: "risk 300 > 100" },
  ]);
});

Deno.test("executor: dry run reports each decision once and sends nothing", async () => {
  const { clock, sender, events, executor } = setup({ dryRun: true });
  const open = snapshot({ positions: [position()], orders: [order()] });
  for (let i = 0; i < 3; i++) {
    executor.apply(open, breach);
    clock.advance(60_000);
  }
  await executor.settle();
  assert.equal(sender.sent.length, 0);
  assert.deepEqual(
    events.filter((e) => e.type === "dry_run").map((e) => e.type === "dry_run" && e.command.type),
    ["lock", "cancel_orders", "close_all"],
  );
});

Deno.test("executor: a weaker lock asked for later never shortens the held one", async () => {
  const { sender, executor } = setup();
  const permanent: ProtectiveAction = {
    type: "lock",
    until: 0,
    rule: "max_drawdown",
    reason: "dd",
  };
  const day: ProtectiveAction = {
    type: "lock",
    until: Date.UTC(2026, 10, 25),
    rule: "tz",
    reason: "x",
  };
  assert.deepEqual(executor.apply(snapshot(), [permanent]), [permanent]);
  await executor.settle();
  assert.deepEqual(executor.apply(snapshot(), [day]), [], "the day lock is not adopted");
  // The EA restarted unlocked: the lock sent again is still the permanent one.
  executor.apply(snapshot({ locked: false, seq: 2 }), []);
  await executor.settle();
  assert.deepEqual(sender.sent.map((c) => c.type === "lock" && c.until), [0]);
});

Deno.test("executor: a stronger lock is sent while the EA holds a weaker one", async () => {
  const { sender, executor } = setup();
  const dayEnd = Date.UTC(2026, 10, 25);
  executor.apply(snapshot({ locked: true, locked_until: dayEnd }), [
    { type: "lock", until: dayEnd, rule: "max_daily_loss", reason: "day" },
  ]);
  await executor.settle();
  assert.equal(sender.sent.length, 0, "the EA already holds this day lock");
  // The EA keeps whole seconds: an end 0.5 s earlier is the same lock.
  executor.apply(snapshot({ locked: true, locked_until: dayEnd - 500 }), []);
  await executor.settle();
  assert.equal(sender.sent.length, 0);
  executor.apply(snapshot({ locked: true, locked_until: dayEnd }), [
    { type: "lock", until: 0, rule: "max_drawdown", reason: "dd" },
  ]);
  await executor.settle();
  assert.deepEqual(sender.sent, [{ type: "lock", reason: "dd", until: 0 }]);
  executor.apply(snapshot({ locked: true, locked_until: 0 }), []);
  assert.equal(executor.openTargets, 0, "confirmed once the EA reports the permanent lock");
});

Deno.test("executor: release stops closes that belonged to the lock", async () => {
  const { clock, sender, executor } = setup({ fail: true });
  executor.holdLocked(0, "max_drawdown", "dd");
  const open = snapshot({ locked: true, positions: [position()] });
  // The limit that locked asks for the close itself (a lock alone closes nothing).
  executor.apply(open, [{ type: "close_all", rule: "max_drawdown", reason: "dd" }]);
  await executor.settle();
  assert.deepEqual(sender.sent.map((c) => c.type), ["close_all"]);
  executor.release(); // a person unlocked the account
  clock.advance(60_000);
  executor.apply(snapshot({ positions: [position()] }), []);
  await executor.settle();
  assert.equal(sender.sent.length, 1, "no close after the release");
});

Deno.test("executor: without snapshots, an acked but unconfirmed close is resent on the timer and escalated", async () => {
  const { clock, sender, events, executor } = setup();
  // The EA acks close_all as done, but no snapshot comes to confirm it (a quiet market).
  executor.apply(snapshot({ positions: [position()], locked: true }), [
    { type: "close_all", rule: "r", reason: "x" },
  ]);
  await executor.settle();
  const delays = [1_000, 2_000, 4_000, 8_000];
  for (const delay of delays) {
    const before = sender.sent.length;
    clock.advance(delay - 1);
    executor.resendDue();
    await executor.settle();
    assert.equal(sender.sent.length, before, `nothing before the ${delay} ms backoff is over`);
    clock.advance(1);
    executor.resendDue();
    await executor.settle();
    assert.equal(sender.sent.length, before + 1, `resent once the ${delay} ms backoff is over`);
  }
  const sent = events.filter((e) => e.type === "command_sent");
  assert.deepEqual(sent.map((e) => e.type === "command_sent" && e.attempt), [1, 2, 3, 4, 5]);
  const escalations = events.filter((e) => e.type === "escalation");
  assert.equal(escalations.length, 1, "escalated once, after 3 attempts");
  assert.equal(escalations[0]!.type === "escalation" && escalations[0]!.attempts, 3);
});

Deno.test("executor: a same-id resend by the bridge is reported with its attempt", async () => {
  const clock = new ManualClock(Date.UTC(2026, 10, 24, 10));
  const events: ExecutorEvent[] = [];
  const executor = new Executor({
    sender: {
      send(command, options) {
        // The bridge got no ack in time and sent the same command again.
        options?.onResend?.({ ...command, id: "c1" } as Command, 2);
        return Promise.resolve({ type: "ack", id: "c1", ok: true, retcode: 10009 });
      },
    },
    clock,
    onEvent: (event) => events.push(event),
  });
  executor.apply(snapshot({ locked: true, positions: [position()] }), [
    { type: "close_all", rule: "r", reason: "x" },
  ]);
  await executor.settle();
  const resent = events.find((e) => e.type === "command_resent");
  assert.deepEqual(resent, {
    type: "command_resent",
    command: { type: "close_all", reason: "x", id: "c1" },
    attempt: 1,
    delivery: 2,
    rule: "r",
  });
});

Deno.test("executor: a lock alone leaves existing positions and orders alone", async () => {
  const { sender, executor } = setup();
  const before = snapshot({
    positions: [position({ ticket: 1 }), position({ ticket: 2 })],
    orders: [order({ ticket: 5 })],
  });
  executor.apply(before, [{ type: "lock", until: 0, rule: "max_trades", reason: "5 trades" }]);
  await executor.settle();
  assert.deepEqual(sender.sent.map((c) => c.type), ["lock"]);
  // Locked now; the same positions and order, then one opened and one placed while locked.
  const locked = { ...before, locked: true };
  executor.apply(locked, []);
  await executor.settle();
  assert.deepEqual(sender.sent.map((c) => c.type), ["lock"], "nothing closed or cancelled");
  executor.apply({
    ...locked,
    positions: [...before.positions, position({ ticket: 3 })],
    orders: [...before.orders, order({ ticket: 6 })],
  }, []);
  await executor.settle();
  assert.deepEqual(sender.sent.map((c) => c.type), ["lock", "close_position"]);
  assert.equal(sender.sent[1]!.type === "close_position" && sender.sent[1]!.ticket, 3);
  // The order placed while locked is left to the EA: cancel_orders would delete order 5 too.
});

Deno.test("executor: orders placed while locked are cancelled when no older order remains", async () => {
  const { sender, executor } = setup();
  executor.holdLocked(0, "r", "locked");
  executor.apply(snapshot({ locked: true }), []);
  executor.apply(snapshot({ locked: true, orders: [order({ ticket: 9 })] }), []);
  await executor.settle();
  assert.deepEqual(sender.sent.map((c) => c.type), ["cancel_orders"]);
});

Deno.test("executor: the resend backoff is a duration: wall clock jumps neither hold it nor skip it", async () => {
  const { clock, sender, executor } = setup();
  const open = snapshot({ positions: [position()], locked: true });
  executor.apply(open, [{ type: "close_all", rule: "r", reason: "x" }]);
  await executor.settle();
  // The host clock is set forward an hour: no time passed, so the 1 s backoff is not over.
  clock.jump(3_600_000);
  executor.resendDue();
  await executor.settle();
  assert.equal(sender.sent.length, 1, "a forward jump does not end the backoff");
  // Set back two hours, then the backoff's second really passes: the close is resent.
  clock.jump(-7_200_000);
  clock.advance(1_000);
  executor.resendDue();
  await executor.settle();
  assert.equal(sender.sent.length, 2, "a backward jump does not hold the resend back");
});

Deno.test("executor: every command of a breach leaves before any of them is reported", () => {
  const trace: string[] = [];
  const clock = new ManualClock(Date.UTC(2026, 10, 24, 10));
  const executor = new Executor({
    sender: {
      send(command) {
        trace.push(`send ${command.type}`);
        return new Promise<Ack>(() => {});
      },
    },
    clock,
    onEvent: (event) => trace.push(`event ${event.type}`),
  });
  executor.apply(snapshot({ positions: [position()], orders: [order()] }), breach);
  assert.deepEqual(trace, [
    "send lock",
    "send cancel_orders",
    "send close_all",
    "event command_sent",
    "event command_sent",
    "event command_sent",
  ]);
});

Deno.test("executor: an ack that arrives after the ack timeout is still recorded", async () => {
  const lateAcks: Array<(ack: Ack) => void> = [];
  const events: ExecutorEvent[] = [];
  const executor = new Executor({
    sender: {
      send(_command, options) {
        lateAcks.push(options!.onLateAck!);
        return Promise.reject(new Error("No ack for cancel_orders c1 after 3 attempts"));
      },
    },
    clock: new ManualClock(Date.UTC(2026, 10, 24, 10)),
    onEvent: (event) => events.push(event),
  });
  executor.apply(snapshot({ orders: [order()], locked: true }), [
    { type: "cancel_orders", rule: "max_daily_loss", reason: "daily loss" },
  ]);
  await executor.settle();
  assert.equal(events.filter((e) => e.type === "command_failed").length, 1);
  // The EA was working through a long queue: it answers after the bridge stopped waiting.
  const ack: Ack = { type: "ack", id: "c1", ok: true, retcode: 10009 };
  lateAcks[0]!(ack);
  assert.deepEqual(events.filter((e) => e.type === "command_acked"), [{
    type: "command_acked",
    command: { type: "cancel_orders" },
    ack,
    rule: "max_daily_loss",
    late: true,
  }]);
});
