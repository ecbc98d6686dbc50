/**
 * The risk process against the simulator over real ZMTP: each scenario produces the expected
 * events and end state.
 */
import assert from "node:assert/strict";
import { eventsOf, runScenario } from "../support/risk_harness.ts";

Deno.test("losing_day: locked for the day, orders cancelled, positions closed, none reopened", async () => {
  const result = await runScenario({
    scenario: "losing_day",
    element: { max_daily_loss: "5%" },
    until: (status) => status.trading === "LOCKED_DAY",
    settleMs: 2_500,
  });
  try {
    assert.equal(result.error, undefined);
    const lock = eventsOf(result.events, "lock");
    assert.equal(lock.length, 1, "exactly one lock event");
    assert.equal(lock[0]!.rule, "max_daily_loss");
    const commands = eventsOf(result.events, "command").map((e) => e.detail?.type);
    assert.deepEqual(commands.slice(0, 3), ["lock", "cancel_orders", "close_all"]);
    assert.ok(eventsOf(result.events, "ack").length >= 3);
    // The terminal honoured it: locked, flat, and whatever the trader opened while locked was
    // closed again.
    assert.equal(result.sim.locked, true);
    assert.deepEqual(result.sim.orderTickets, []);
    const stillOpen = result.sim.positionTickets.filter((ticket) =>
      !result.sim.history.openedWhileLocked.includes(ticket)
    );
    assert.deepEqual(stillOpen, [], "every position from before the lock is closed");
    // The loss at the lock crossed the limit: equity <= baseline - 5 %.
    const locked = result.statuses.find((s) => s.trading === "LOCKED_DAY")!;
    assert.ok(locked.daily_pnl <= -500, `daily P/L at lock ${locked.daily_pnl}`);
    // The store has it all.
    const element = await result.store.getElement(result.elementId);
    assert.ok(element?.valid);
    assert.equal(element.element.trading, "LOCKED_DAY");
    assert.ok((element.element.locked_until ?? 0) > Date.now());
    assert.match(element.element.lock_reason ?? "", /daily loss/);
    const stored = await result.store.listEvents(result.elementId, { limit: 1_000 });
    assert.ok(stored.some((e) => e.type === "lock"));
    assert.ok(stored.some((e) => e.type === "breach"));
  } finally {
    await result.cleanup();
  }
});

Deno.test("winning_day: locked for the day once the profit target is reached", async () => {
  const result = await runScenario({
    scenario: "winning_day",
    element: { max_profit: "3%" },
    until: (status) => status.trading === "LOCKED_DAY",
    settleMs: 2_000,
  });
  try {
    assert.equal(result.error, undefined);
    const lock = eventsOf(result.events, "lock");
    assert.equal(lock.length, 1);
    assert.equal(lock[0]!.rule, "max_profit");
    assert.equal(result.sim.locked, true);
    const locked = result.statuses.find((s) => s.trading === "LOCKED_DAY")!;
    assert.ok(locked.daily_pnl >= 300, `daily P/L at lock ${locked.daily_pnl}`);
  } finally {
    await result.cleanup();
  }
});

Deno.test("big_position: only the oversized position is closed, trading stays allowed", async () => {
  const result = await runScenario({
    scenario: "big_position",
    element: { max_position_risk: "5%" },
    until: (_status, events) => events.some((e) => e.type === "ack"),
    settleMs: 2_000,
    maxMs: 15_000,
  });
  try {
    assert.equal(result.error, undefined);
    assert.equal(eventsOf(result.events, "lock").length, 0);
    const closes = eventsOf(result.events, "command").filter((e) =>
      e.detail?.type === "close_position"
    );
    assert.equal(closes.length, 1, "one close_position command");
    const ticket = closes[0]!.detail!.ticket as number;
    assert.ok(result.sim.history.closedTickets.includes(ticket));
    assert.equal(result.sim.locked, false);
    // Other positions are untouched.
    const closedByCommand = result.sim.history.closedTickets;
    assert.deepEqual(closedByCommand.filter((t) => t !== ticket), []);
    assert.ok(result.statuses.every((s) => s.trading === "ALLOWED"));
  } finally {
    await result.cleanup();
  }
});
