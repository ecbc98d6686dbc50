import assert from "node:assert/strict";
import { readEaMessage } from "../protocol.ts";
import { Market } from "./market.ts";
import { type Scenario, scenario, SCENARIO_NAMES } from "./scenarios.ts";
import { Retcode, SimTerminal, TRIES_WHILE_LOCKED } from "./simulator.ts";

function ticks(seed: number, count: number): string[] {
  const market = new Market({ seed });
  return market.advanceTo(count * market.tickMs).map((t) => `${t.symbol}:${t.bid}/${t.ask}`);
}

/** Day P/L of the default 10 000 account: equity against the start balance. */
function dayPnl(terminal: SimTerminal): number {
  return terminal.equity - terminal.scenario.balance;
}

/** Largest money at risk at the stop loss among open positions (Infinity without SL). */
function maxRiskAtSl(terminal: SimTerminal): number {
  const snap = terminal.snapshot(1);
  let worst = 0;
  for (const p of snap.positions) {
    const info = snap.symbols[p.symbol]!;
    const risk = p.sl === 0
      ? Infinity
      : (Math.abs(p.open_price - p.sl) / info.tick_size) * info.tick_value * p.volume;
    worst = Math.max(worst, risk);
  }
  return worst;
}

Deno.test("market: the same seed gives the same ticks", () => {
  assert.deepEqual(ticks(42, 400), ticks(42, 400));
  assert.equal(ticks(42, 400).length, 400 * 4);
});

Deno.test("market: different seeds give different ticks", () => {
  assert.notDeepEqual(ticks(1, 50), ticks(2, 50));
});

Deno.test("market: ticks do not depend on how time is advanced", () => {
  const a = new Market({ seed: 7 });
  const b = new Market({ seed: 7 });
  const stepped: string[] = [];
  for (let t = 0; t <= 10_000; t += 333) {
    stepped.push(...b.advanceTo(t).map((x) => `${x.symbol}:${x.bid}`));
  }
  stepped.push(...b.advanceTo(10_000).map((x) => `${x.symbol}:${x.bid}`));
  const once = a.advanceTo(10_000).map((x) => `${x.symbol}:${x.bid}`);
  assert.deepEqual(stepped, once);
});

Deno.test("simulator: the same seed replays the same account, whatever the commands", async () => {
  const run = async (commands: boolean) => {
    const t = new SimTerminal({ scenario: "calm", seed: 9 });
    t.advanceTo(5_000);
    if (commands) await t.execute({ type: "ping", id: "p" });
    t.advanceTo(30_000);
    return t.market.quote("EURUSD");
  };
  assert.deepEqual(await run(false), await run(true));
});

Deno.test("simulator: every snapshot of every scenario passes the protocol schema", () => {
  for (const name of SCENARIO_NAMES) {
    const t = new SimTerminal({ scenario: name, seed: 3 });
    for (let s = 1; s <= 40; s += 3) {
      t.advanceTo(s * 1000);
      const result = readEaMessage(t.snapshot(s));
      assert.ok(result.ok, `${name} at ${s}s: ${!result.ok && result.error}`);
    }
  }
});

Deno.test("simulator: times stay whole milliseconds at a fractional speed (hello, snapshot)", () => {
  // The EA advances to (real ms elapsed) * speed: 562.5 at speed 0.5. The agent refuses a
  // message whose server_time is not an integer, so the simulator must never report one.
  const t = new SimTerminal({ scenario: "losing_day", seed: 7 });
  for (const time of [0.5, 562.5, 1_811.25, 3_009.999]) {
    t.advanceTo(time);
    const hello = readEaMessage(t.hello({ heartbeatMs: 1000, timerMs: 100 }));
    assert.ok(hello.ok, `hello at ${time}: ${!hello.ok && hello.error}`);
    const snapshot = readEaMessage(t.snapshot(1));
    assert.ok(snapshot.ok, `snapshot at ${time}: ${!snapshot.ok && snapshot.error}`);
    assert.equal(t.time, Math.floor(time));
  }
});

Deno.test("scenario calm: P/L stays within 1 % for a minute", () => {
  for (const seed of [1, 2, 3]) {
    const t = new SimTerminal({ scenario: "calm", seed });
    for (let s = 1; s <= 60; s++) {
      t.advanceTo(s * 1000);
      assert.ok(Math.abs(dayPnl(t)) < 100, `seed ${seed} at ${s}s: ${dayPnl(t)}`);
    }
  }
});

Deno.test("scenario calm: the trader's far pending orders expire, so a long run holds few", () => {
  // The 30-minute soak's seed: without expiry this account held 78 pending orders at minute 28.
  const t = new SimTerminal({ scenario: "calm", seed: 1401894586 });
  const policy = t.scenario.trader!;
  // One scripted order plus at most one trader order per decision within the expiry.
  const bound = 1 + policy.pendingExpiryMs / policy.everyMs;
  let most = 0;
  for (let minute = 1; minute <= 30; minute++) {
    t.advanceTo(minute * 60_000);
    most = Math.max(most, t.orderTickets.length);
    assert.ok(t.orderTickets.length <= bound, `minute ${minute}: ${t.orderTickets.length} orders`);
  }
  const expired = t.history.trades.filter((e) => e.action === "cancel" && e.cause === "trader");
  assert.ok(expired.length > 0, "the trader deleted some of its orders");
  assert.ok(most < 20, `at most ${most} orders at a time`);
  // Deleted by the trader, not by a command or the lock: nothing the agent must answer for.
  assert.deepEqual(t.history.cancelledOrders, []);
});

Deno.test("scenario losing_day: the day's loss passes 5 % within 30 s, positions stay under 1 % risk", () => {
  for (const seed of [1, 2, 3, 4]) {
    const t = new SimTerminal({ scenario: "losing_day", seed });
    let breachedAt: number | undefined;
    for (let s = 1; s <= 30 && breachedAt === undefined; s++) {
      t.advanceTo(s * 1000);
      assert.ok(maxRiskAtSl(t) <= 100, `seed ${seed}: risk ${maxRiskAtSl(t)}`);
      if (dayPnl(t) <= -500) breachedAt = s;
    }
    assert.ok(breachedAt !== undefined, `seed ${seed}: P/L ${dayPnl(t)} after 30 s`);
    assert.ok(breachedAt >= 5, `seed ${seed}: breach too early (${breachedAt}s)`);
  }
});

Deno.test("scenario winning_day: the day's profit passes 3 % within 30 s", () => {
  for (const seed of [1, 2, 3, 4]) {
    const t = new SimTerminal({ scenario: "winning_day", seed });
    t.advanceTo(30_000);
    const snap = t.snapshot(1);
    assert.ok(dayPnl(t) >= 300, `seed ${seed}: ${dayPnl(t)}`);
    assert.ok(snap.realized_today.total > 0, "take profits were realized");
  }
});

Deno.test("scenario big_position: one position risks over 10 % at its SL, the others under 1 %", () => {
  const t = new SimTerminal({ scenario: "big_position", seed: 1 });
  t.advanceTo(3_000);
  const snap = t.snapshot(1);
  const risks = snap.positions.map((p) => {
    const info = snap.symbols[p.symbol]!;
    return (Math.abs(p.open_price - p.sl) / info.tick_size) * info.tick_value * p.volume;
  }).sort((a, b) => b - a);
  assert.equal(risks.length, 3);
  assert.ok(risks[0]! > 1_000, `big risk ${risks[0]}`);
  assert.ok(risks[1]! < 100 && risks[2]! < 100, `normal risks ${risks.slice(1)}`);
});

Deno.test("scenario gap: EURUSD jumps 150 pips in one tick and the equity drops past 10 %", () => {
  const t = new SimTerminal({ scenario: "gap", seed: 1 });
  t.advanceTo(7_750);
  const before = t.market.quote("EURUSD").bid;
  const equityBefore = t.equity;
  t.advanceTo(8_000);
  const after = t.market.quote("EURUSD").bid;
  assert.ok(before - after > 0.0140, `jump ${before - after}`);
  assert.ok(equityBefore - t.equity > 1_000, `equity ${equityBefore} -> ${t.equity}`);
  assert.ok(dayPnl(t) < -1_000);
});

Deno.test("scenario flaky: requotes are retried, market closed fails fast", async () => {
  const t = new SimTerminal({ scenario: "flaky", seed: 5, maxAttempts: 10 });
  t.advanceTo(2_000);
  const ack = await t.execute({ type: "close_all", id: "c1", reason: "test" });
  assert.ok(ack.ok, JSON.stringify(ack));
  assert.ok(t.history.requotes > 0, "some requotes happened");
  assert.ok(ack.results!.some((r) => (r.attempts ?? 0) > 1), "a ticket needed several attempts");
  t.open("EURUSD", "buy", 0.1);
  t.advanceTo(7_000);
  const closed = await t.execute({ type: "close_all", id: "c2", reason: "test" });
  assert.equal(closed.ok, false);
  assert.equal(closed.retcode, Retcode.MARKET_CLOSED);
  assert.equal(closed.results![0]!.attempts, 1);
  assert.equal(t.positionTickets.length > 0, true);
});

Deno.test("scenario flaky: the plan has disconnects and market-closed windows", () => {
  const faults = scenario("flaky").faults!;
  assert.ok(faults.disconnects.length >= 2);
  assert.ok(faults.marketClosed.length >= 1);
  assert.ok(faults.requoteProbability > 0);
});

Deno.test("commands: close_all deletes pending orders before closing positions", async () => {
  const t = new SimTerminal({ scenario: "gap", seed: 1 });
  t.advanceTo(1_000);
  assert.ok(t.positionTickets.length > 0 && t.orderTickets.length > 0);
  const orders = t.orderTickets;
  const ack = await t.execute({ type: "close_all", id: "x", reason: "breach" });
  assert.equal(ack.ok, true);
  assert.equal(ack.retcode, Retcode.DONE);
  const kinds = t.history.trades.filter((e) => e.commandId === "x").map((e) => e.action);
  assert.deepEqual(kinds, [
    ...orders.map(() => "cancel"),
    ...ack.results!.slice(orders.length).map(() => "close"),
  ]);
  assert.deepEqual(t.positionTickets, []);
  assert.deepEqual(t.orderTickets, []);
  assert.deepEqual(ack.results!.map((r) => r.ticket).slice(0, orders.length), orders);
});

Deno.test("commands: a repeated id is answered again, not executed again", async () => {
  const t = new SimTerminal({ scenario: "big_position", seed: 1 });
  t.advanceTo(3_000);
  const ticket = t.positionTickets[0]!;
  const first = await t.execute({
    type: "close_position",
    id: "same",
    ticket,
    volume: 0,
    reason: "",
  });
  t.open("EURUSD", "buy", 0.1);
  const again = await t.execute({
    type: "close_position",
    id: "same",
    ticket,
    volume: 0,
    reason: "",
  });
  assert.equal(first.ok, true);
  assert.equal(again.duplicate, true);
  assert.deepEqual({ ...again, duplicate: undefined }, { ...first, duplicate: undefined });
  assert.equal(t.history.commands.length, 1);
  assert.equal(t.history.duplicates, 1);
});

Deno.test("commands: partial close and unknown ticket", async () => {
  const t = new SimTerminal({ scenario: "big_position", seed: 1 });
  t.advanceTo(3_000);
  const big = t.snapshot(1).positions.find((p) => p.volume === 5)!;
  const partial = await t.execute({
    type: "close_position",
    id: "a",
    ticket: big.ticket,
    volume: 2,
    reason: "",
  });
  assert.equal(partial.results![0]!.volume, 2);
  assert.equal(t.snapshot(2).positions.find((p) => p.ticket === big.ticket)!.volume, 3);
  const unknown = await t.execute({
    type: "close_position",
    id: "b",
    ticket: 999_999,
    volume: 0,
    reason: "",
  });
  assert.equal(unknown.ok, true);
  assert.equal(unknown.results![0]!.retcode, Retcode.POSITION_CLOSED);
});

Deno.test("lock: positions opened while locked are closed by the EA, earlier ones are not", async () => {
  const t = new SimTerminal({ scenario: "losing_day", seed: 2 });
  t.advanceTo(1_000);
  const before = t.positionTickets;
  const ack = await t.execute({ type: "lock", id: "l", reason: "daily loss", until: 0 });
  assert.equal(ack.locked, true);
  t.advanceTo(6_000);
  const opened = [...t.history.openedWhileLocked];
  assert.ok(opened.length > 0, "the trader opened something while locked");
  await t.enforceLock();
  for (const ticket of opened) {
    assert.ok(!t.positionTickets.includes(ticket), `${ticket} still open`);
  }
  for (const ticket of before) {
    if (t.history.trades.some((e) => e.ticket === ticket && e.cause === "lock")) {
      assert.fail(`pre-lock ticket ${ticket} closed by lock enforcement`);
    }
  }
  assert.equal(t.snapshot(1).locked, true);
  await t.execute({ type: "unlock", id: "u" });
  assert.equal(t.locked, false);
});

Deno.test("trader: gives up after two tries while locked, and trades again once unlocked", async () => {
  const t = new SimTerminal({ scenario: "losing_day", seed: 3 });
  t.advanceTo(3_000);
  await t.execute({ type: "lock", id: "l", reason: "daily loss", until: 0 });
  // Two tries at 5 s and 7.5 s; the EA closes each at once (its lock is unchanged), and the
  // trader stops trying for the rest of the lock.
  for (let time = 3_100; time <= 60_000; time += 100) {
    t.advanceTo(time);
    await t.enforceLock();
  }
  // A pending order placed before the lock may fill meanwhile: that is the market, not a try.
  const fills = new Set(t.history.trades.filter((e) => e.action === "fill").map((e) => e.ticket));
  const tries = t.history.trades.filter((e) =>
    e.at > 3_000 && (e.action === "open" || e.action === "place") && !fills.has(e.ticket)
  );
  assert.equal(tries.length, TRIES_WHILE_LOCKED, JSON.stringify(tries));
  for (const ticket of t.history.openedWhileLocked) {
    assert.ok(!t.positionTickets.includes(ticket), `${ticket} opened while locked is still open`);
    assert.ok(t.history.trades.some((e) => e.ticket === ticket && e.cause === "lock"));
  }
  await t.execute({ type: "unlock", id: "u" });
  t.advanceTo(66_000);
  const after = t.history.trades.filter((e) => e.at > 60_000 && e.action === "open");
  assert.ok(after.length >= 2, "the trader trades again after the unlock");
});

Deno.test("lock: ends by itself at `until`", async () => {
  const t = new SimTerminal({ scenario: "calm", seed: 1 });
  await t.execute({ type: "lock", id: "l", reason: "", until: t.utcTime + 5_000 });
  t.advanceTo(4_000);
  assert.equal(t.locked, true);
  t.advanceTo(6_000);
  assert.equal(t.locked, false);
});

Deno.test("account: balance moves by realized P/L, equity by floating P/L and swap", async () => {
  const t = new SimTerminal({ scenario: "big_position", seed: 4 });
  t.advanceTo(10_000);
  const snap = t.snapshot(1);
  const floating = snap.positions.reduce((sum, p) => sum + p.profit + p.swap, 0);
  assert.ok(Math.abs(snap.account.equity - (snap.account.balance + floating)) < 0.05);
  assert.ok(Math.abs(snap.account.balance - 10_000 - snap.realized_today.total) < 0.05);
  await t.execute({ type: "close_all", id: "c", reason: "" });
  const after = t.snapshot(2);
  assert.equal(after.positions.length, 0);
  assert.ok(Math.abs(after.account.balance - after.account.equity) < 0.01);
  assert.ok(Math.abs(after.account.balance - 10_000 - after.realized_today.total) < 0.05);
});

Deno.test("netting: opening on a symbol with a position adds to it", () => {
  const s: Scenario = { ...scenario("calm"), trader: null, pendings: [] };
  const t = new SimTerminal({ scenario: s, marginMode: "netting" });
  const a = t.open("EURUSD", "buy", 0.5);
  const b = t.open("EURUSD", "buy", 0.3);
  assert.equal(a, b);
  assert.equal(t.snapshot(1).positions[0]!.volume, 0.8);
  t.open("EURUSD", "sell", 0.8);
  assert.deepEqual(t.positionTickets, []);
});

/** A quiet hedging account with the given opens and per-symbol execution. */
function closeRulesTerminal(
  options: Partial<ConstructorParameters<typeof SimTerminal>[0]> = {},
): SimTerminal {
  return new SimTerminal({
    scenario: {
      ...scenario("calm"),
      trader: null,
      opens: [
        { at: 0, symbol: "EURUSD", side: "buy", volume: 0.1, slDistance: 0, tpDistance: 0 },
        { at: 10, symbol: "GBPUSD", side: "sell", volume: 0.2, slDistance: 0, tpDistance: 0 },
        { at: 20, symbol: "EURUSD", side: "buy", volume: 0.3, slDistance: 0, tpDistance: 0 },
      ],
      pendings: [],
    },
    ...options,
  });
}

Deno.test("commands: close_position without a ticket (0) is refused with 10013, never ok", async () => {
  const t = closeRulesTerminal();
  t.advanceTo(1_000);
  const before = t.positionTickets;
  const ack = await t.execute({
    type: "close_position",
    id: "z",
    ticket: 0,
    volume: 0,
    reason: "",
  });
  assert.equal(ack.ok, false);
  assert.equal(ack.retcode, Retcode.INVALID);
  assert.deepEqual(ack.results?.map((r) => [r.ticket, r.ok, r.retcode]), [[0, false, 10013]]);
  assert.deepEqual(t.positionTickets, before);
});

Deno.test("commands: a filling-mode switch after 10030 is not an attempt", async () => {
  const t = closeRulesTerminal({
    execution: {
      EURUSD: { mode: "market", flags: 0, accepts: ["ioc"] },
      GBPUSD: { mode: "instant", flags: 3 },
    },
  });
  t.advanceTo(1_000);
  const [eur] = t.positionTickets;
  const ack = await t.execute({ type: "close_all", id: "c", reason: "" });
  assert.equal(ack.ok, true, JSON.stringify(ack));
  const byTicket = new Map(ack.results!.map((r) => [r.ticket, r]));
  assert.equal(byTicket.get(eur!)?.filling, "ioc");
  assert.equal(byTicket.get(eur!)?.attempts, 1);
  for (const r of ack.results!) assert.equal(r.attempts, 1);
  const gbp = ack.results!.find((r) => r.ticket !== eur && r.filling === "fok");
  assert.ok(gbp !== undefined, "instant execution closes with FOK");
  const refusals = t.history.trades.filter((e) => e.action === "invalid_fill");
  assert.equal(refusals.length, 2, "FOK refused once per EURUSD position, then IOC taken");
});

Deno.test("commands: RETURN only with Exchange execution; a symbol no mode fits fails with 10030", async () => {
  const t = closeRulesTerminal({
    execution: {
      EURUSD: { mode: "exchange", flags: 0 },
      GBPUSD: { mode: "market", flags: 0, accepts: ["return"] },
    },
  });
  t.advanceTo(1_000);
  const ack = await t.execute({ type: "close_all", id: "c", reason: "" });
  const gbp = ack.results!.find((r) => r.filling !== "return")!;
  assert.equal(gbp.ok, false);
  assert.equal(gbp.retcode, Retcode.INVALID_FILL);
  assert.equal(gbp.attempts, 1);
  assert.equal(gbp.filling, "ioc", "FOK, then IOC, never RETURN on Market execution");
  const eur = ack.results!.filter((r) => r.filling === "return");
  assert.equal(eur.length, 2);
  assert.ok(eur.every((r) => r.ok));
});

Deno.test("commands: close_all on a FIFO account closes a symbol's positions oldest first", async () => {
  const t = closeRulesTerminal({ fifoClose: true });
  t.advanceTo(1_000);
  const [eurOld, gbp, eurNew] = t.positionTickets;
  const refused = await t.execute({
    type: "close_position",
    id: "n",
    ticket: eurNew!,
    volume: 0,
    reason: "",
  });
  assert.equal(refused.ok, false);
  assert.equal(refused.retcode, Retcode.FIFO_CLOSE);
  const ack = await t.execute({ type: "close_all", id: "c", reason: "" });
  assert.equal(ack.ok, true, JSON.stringify(ack));
  const order = ack.results!.map((r) => r.ticket);
  assert.ok(order.indexOf(eurOld!) < order.indexOf(eurNew!), `order ${order}`);
  assert.ok(order.includes(gbp!));
  assert.deepEqual(t.positionTickets, []);
});

Deno.test("commands: close_all on an ordinary account closes the largest loss first", async () => {
  const t = closeRulesTerminal();
  t.advanceTo(60_000);
  const profits = new Map(t.snapshot(1).positions.map((p) => [p.ticket, p.profit + p.swap]));
  const ack = await t.execute({ type: "close_all", id: "c", reason: "" });
  const seen = ack.results!.map((r) => profits.get(r.ticket)!);
  assert.deepEqual(seen, [...seen].sort((a, b) => a - b));
});
