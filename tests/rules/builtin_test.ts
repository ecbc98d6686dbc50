/**
 * Table-driven tests of every built-in rule with hand-computed expectations.
 */
import assert from "node:assert/strict";
import { samplePosition, sampleSnapshot } from "../../src/rules/samples.ts";
import { sampleOrder } from "../../src/rules/samples.ts";
import type { Limit } from "../../src/rules/settings.ts";
import type { Action } from "../../src/rules/rule.ts";
import { day, kinds, peak, run } from "./_support.ts";

// Tuesday 2026-11-24 12:00 UTC; the sample server is UTC+2 (14:00 server time).
const NOON = Date.parse("2026-11-24T12:00:00Z");
const SERVER = NOON + 7_200_000;
const DATE = "2026-11-24";
// Next server-midnight reset: 2026-11-25 00:00 server = 2026-11-24 22:00 UTC.
const END_OF_DAY = Date.parse("2026-11-24T22:00:00Z");
const money = (value: number): Limit => ({ kind: "money", value });
const percent = (value: number): Limit => ({ kind: "percent", value });

function losing(profit: number, swap = 0, commission = 0, balance = 10_000) {
  return sampleSnapshot({
    utc: NOON,
    balance,
    positions: [samplePosition({ ticket: 1, profit, swap, commission }, SERVER)],
    orders: [sampleOrder(9, SERVER)],
  });
}

Deno.test("max_daily_loss: breach when equity <= baseline - limit, swap and commission count", () => {
  const cases: {
    name: string;
    profit: number;
    swap?: number;
    commission?: number;
    limit: Limit;
    fires: boolean;
  }[] = [
    // baseline 10,000, limit 500: floor 9,500
    { name: "equity 9,501", profit: -499, limit: money(500), fires: false },
    { name: "equity 9,500 exactly", profit: -500, limit: money(500), fires: true },
    { name: "equity 9,400", profit: -600, limit: money(500), fires: true },
    // -480 price loss alone leaves 9,520; with -12 swap and the -8 entry commission (charged to
    // the balance: 9,992) equity is 9,992 - 480 - 12 = 9,500
    { name: "price loss only", profit: -480, limit: money(500), fires: false },
    {
      name: "swap and commission",
      profit: -480,
      swap: -12,
      commission: -8,
      limit: money(500),
      fires: true,
    },
    // 5% of the 10,000 baseline = 500
    { name: "5% at 9,501", profit: -499, limit: percent(5), fires: false },
    { name: "5% at 9,500", profit: -500, limit: percent(5), fires: true },
  ];
  for (const c of cases) {
    const commission = c.commission ?? 0;
    const evaluation = run(losing(c.profit, c.swap, commission, 10_000 + commission), {
      settings: { max_daily_loss: c.limit, warn_at: [] },
      day: day(DATE, 10_000),
    });
    if (!c.fires) {
      assert.deepEqual(evaluation.actions, [], c.name);
      continue;
    }
    assert.deepEqual(
      kinds(evaluation.actions),
      ["lock", "cancel_orders", "close_all", "notify"],
      c.name,
    );
    const lock = evaluation.actions[0]!;
    assert.equal(lock.type === "lock" && lock.scope, "day", c.name);
    assert.equal(lock.type === "lock" && lock.until, END_OF_DAY, c.name);
    assert.equal(lock.rule, "max_daily_loss");
  }
});

Deno.test("max_daily_loss: baseline balance, equity or max with a position held across the reset", () => {
  // At the reset balance was 10,000 and a held position was -200: start equity 9,800.
  // Now the position is at -500: equity 9,500.
  const snapshot = losing(-500);
  const cases: { baseline: "balance" | "equity" | "max"; fires: boolean }[] = [
    { baseline: "balance", fires: true }, // 10,000 - 9,500 = 500 >= 500
    { baseline: "equity", fires: false }, // 9,800 - 9,500 = 300 < 500
    { baseline: "max", fires: true }, // max(10,000, 9,800) = 10,000
  ];
  for (const c of cases) {
    const evaluation = run(snapshot, {
      settings: {
        max_daily_loss: money(500),
        warn_at: [],
        daily: { reset: "00:00", timezone: "server", baseline: c.baseline },
      },
      day: day(DATE, 10_000, 9_800),
    });
    assert.equal(evaluation.actions.some((action) => action.type === "lock"), c.fires, c.baseline);
  }
});

Deno.test("max_daily_loss: no orders and no positions means only lock and notify", () => {
  const snapshot = sampleSnapshot({ utc: NOON, balance: 9_400 });
  const evaluation = run(snapshot, {
    settings: { max_daily_loss: money(500), warn_at: [] },
    day: day(DATE, 10_000),
  });
  assert.deepEqual(kinds(evaluation.actions), ["lock", "notify"]);
});

Deno.test("max_profit: lock the day and close all when equity >= baseline + limit", () => {
  const cases: { profit: number; fires: boolean }[] = [
    { profit: 999.99, fires: false },
    { profit: 1_000, fires: true },
    { profit: 1_500, fires: true },
  ];
  for (const c of cases) {
    const snapshot = sampleSnapshot({
      utc: NOON,
      positions: [samplePosition({ ticket: 1, profit: c.profit }, SERVER)],
    });
    const evaluation = run(snapshot, {
      settings: { max_profit: money(1_000), warn_at: [] },
      day: day(DATE, 10_000),
    });
    assert.deepEqual(
      kinds(evaluation.actions),
      c.fires ? ["lock", "close_all", "notify"] : [],
      `profit ${c.profit}`,
    );
  }
});

Deno.test("max_drawdown: static, trailing balance, trailing equity, stop at initial", () => {
  const cases: {
    name: string;
    mode: "static" | "trailing_balance" | "trailing_equity";
    stop?: boolean;
    limit: Limit;
    peak: [number, number, number];
    equity: number;
    fires: boolean;
  }[] = [
    // static floor: 100,000 - 10,000 = 90,000
    {
      name: "static above",
      mode: "static",
      limit: money(10_000),
      peak: [100_000, 104_000, 106_500],
      equity: 90_000.01,
      fires: false,
    },
    {
      name: "static at floor",
      mode: "static",
      limit: money(10_000),
      peak: [100_000, 104_000, 106_500],
      equity: 90_000,
      fires: true,
    },
    {
      name: "static 10%",
      mode: "static",
      limit: percent(10),
      peak: [100_000, 104_000, 106_500],
      equity: 90_000,
      fires: true,
    },
    // trailing balance floor: 104,000 - 10,000 = 94,000
    {
      name: "trailing balance above",
      mode: "trailing_balance",
      limit: money(10_000),
      peak: [100_000, 104_000, 106_500],
      equity: 94_000.5,
      fires: false,
    },
    {
      name: "trailing balance at",
      mode: "trailing_balance",
      limit: money(10_000),
      peak: [100_000, 104_000, 106_500],
      equity: 94_000,
      fires: true,
    },
    // trailing equity floor: 106,500 - 10,000 = 96,500
    {
      name: "trailing equity above",
      mode: "trailing_equity",
      limit: money(10_000),
      peak: [100_000, 104_000, 106_500],
      equity: 96_501,
      fires: false,
    },
    {
      name: "trailing equity at",
      mode: "trailing_equity",
      limit: money(10_000),
      peak: [100_000, 104_000, 106_500],
      equity: 96_500,
      fires: true,
    },
    // high equity 112,000: floor would be 102,000; stopped at the initial 100,000
    {
      name: "no stop: 101,000 breaches",
      mode: "trailing_equity",
      limit: money(10_000),
      peak: [100_000, 110_000, 112_000],
      equity: 101_000,
      fires: true,
    },
    {
      name: "stop at initial: 101,000 is fine",
      mode: "trailing_equity",
      stop: true,
      limit: money(10_000),
      peak: [100_000, 110_000, 112_000],
      equity: 101_000,
      fires: false,
    },
    {
      name: "stop at initial: 100,000 breaches",
      mode: "trailing_equity",
      stop: true,
      limit: money(10_000),
      peak: [100_000, 110_000, 112_000],
      equity: 100_000,
      fires: true,
    },
    // floor below initial: the stop does not apply yet (104,000 - 10,000 = 94,000)
    {
      name: "stop not reached",
      mode: "trailing_balance",
      stop: true,
      limit: money(10_000),
      peak: [100_000, 104_000, 104_000],
      equity: 94_500,
      fires: false,
    },
  ];
  for (const c of cases) {
    const snapshot = sampleSnapshot({ utc: NOON, balance: c.equity });
    const evaluation = run(snapshot, {
      settings: {
        max_drawdown: { limit: c.limit, mode: c.mode, stop_at_initial: c.stop ?? false },
        warn_at: [],
      },
      day: day(DATE, c.equity),
      peak: peak(...c.peak),
    });
    if (!c.fires) {
      assert.deepEqual(evaluation.actions, [], c.name);
      continue;
    }
    const lock = evaluation.actions[0]!;
    assert.equal(lock.type, "lock", c.name);
    assert.equal(lock.type === "lock" && lock.scope, "permanent", c.name);
    assert.equal(lock.type === "lock" && lock.until, 0, c.name);
  }
});

Deno.test("max_position_risk: loss at stop vs limit, missing stops, policy", () => {
  const eur = (
    ticket: number,
    draft: Parameters<typeof samplePosition>[0] extends infer D ? Omit<D & object, "ticket">
      : never,
  ) => samplePosition({ ticket, ...draft }, SERVER);
  const cases: {
    name: string;
    position: ReturnType<typeof samplePosition>;
    limit?: Limit;
    require?: boolean;
    action?: "close" | "notify";
    expected: string[];
  }[] = [
    // buy 1 lot 1.10000, sl 1.09500: 500 ticks x 1 USD x 1 lot = 500, + 7 commission + 3 swap = 510
    {
      name: "buy risk 510 > 500",
      position: eur(1, { sl: 1.095, commission: -7, swap: -3 }),
      limit: money(500),
      expected: ["close_position:1", "notify"],
    },
    {
      name: "buy risk 510 not > 510",
      position: eur(1, { sl: 1.095, commission: -7, swap: -3 }),
      limit: money(510),
      expected: [],
    },
    // sell 2 lots 1.10000, sl 1.10200: 200 ticks x 1 x 2 = 400, swap +5 earned: 395
    {
      name: "sell risk 395 <= 400",
      position: eur(2, { side: "sell", volume: 2, sl: 1.102, swap: 5 }),
      limit: money(400),
      expected: [],
    },
    {
      name: "sell risk 395 > 2% (200)",
      position: eur(2, { side: "sell", volume: 2, sl: 1.102, swap: 5 }),
      limit: percent(2),
      expected: ["close_position:2", "notify"],
    },
    // XAUUSD buy 0.5 lots 2000, sl 1990: 1,000 ticks of 0.01 x 1 x 0.5 = 500
    {
      name: "gold 500 > 499",
      position: eur(3, {
        symbol: "XAUUSD",
        volume: 0.5,
        open_price: 2_000,
        price: 2_000,
        sl: 1_990,
      }),
      limit: money(499),
      expected: ["close_position:3", "notify"],
    },
    // stop above the entry of a buy locks in profit: risk -100
    { name: "stop in profit", position: eur(4, { sl: 1.101 }), limit: money(1), expected: [] },
    {
      name: "no stop, required",
      position: eur(5, {}),
      require: true,
      expected: ["close_position:5", "notify"],
    },
    {
      name: "no stop, not required, limit set: warn",
      position: eur(6, {}),
      limit: money(500),
      expected: ["notify"],
    },
    // A symbol named like an Object.prototype key is not in `symbols`: no info, a warning
    // (never the prototype's function taken for symbol info).
    ...["constructor", "__proto__", "toString"].map((symbol, index) => ({
      name: `no symbol info for ${symbol}`,
      position: eur(10 + index, { symbol, sl: 1.095 }),
      limit: money(100),
      expected: ["notify"],
    })),
    {
      name: "notify policy",
      position: eur(7, { sl: 1.095 }),
      limit: money(100),
      action: "notify",
      expected: ["notify"],
    },
  ];
  for (const c of cases) {
    const snapshot = sampleSnapshot({ utc: NOON, positions: [c.position] });
    const evaluation = run(snapshot, {
      settings: {
        max_position_risk: c.limit,
        require_stop_loss: c.require ?? false,
        position_risk_action: c.action ?? "close",
      },
      day: day(DATE, 10_000),
    });
    assert.deepEqual(kinds(evaluation.actions), c.expected, c.name);
  }
});

Deno.test("max_open_positions, max_total_lots, max_lots_per_symbol close the newest first", () => {
  // open times: ticket 1 oldest ... ticket 5 newest
  const positions = [
    samplePosition({ ticket: 1, volume: 1, open_time: SERVER - 50_000 }),
    samplePosition({ ticket: 2, volume: 2, open_time: SERVER - 40_000 }),
    samplePosition({ ticket: 3, volume: 0.5, symbol: "XAUUSD", open_time: SERVER - 30_000 }),
    samplePosition({ ticket: 4, volume: 0.25, open_time: SERVER - 20_000 }),
    samplePosition({ ticket: 5, volume: 0.25, symbol: "XAUUSD", open_time: SERVER - 10_000 }),
  ];
  const snapshot = sampleSnapshot({ utc: NOON, positions });
  const cases: { name: string; settings: Record<string, number>; expected: string[] }[] = [
    {
      name: "5 open, 3 allowed",
      settings: { max_open_positions: 3 },
      expected: ["close_position:5", "close_position:4"],
    },
    { name: "5 open, 5 allowed", settings: { max_open_positions: 5 }, expected: [] },
    // total 4.0; max 3.5 -> close 5 (0.25) -> 3.75 -> close 4 (0.25) -> 3.5 fits
    {
      name: "4 lots, 3.5 allowed",
      settings: { max_total_lots: 3.5 },
      expected: ["close_position:5", "close_position:4"],
    },
    // total 4.0; max 1.2 -> 5, 4, 3 (0.5) -> 3.0 -> 2 (2) -> 1.0 fits
    {
      name: "4 lots, 1.2 allowed",
      settings: { max_total_lots: 1.2 },
      expected: ["close_position:5", "close_position:4", "close_position:3", "close_position:2"],
    },
    // EURUSD 3.25 (1, 2, 0.25) max 1.5 -> close 4 -> 3.0 -> close 2 -> 1.0; XAUUSD 0.75 fits
    {
      name: "per symbol 1.5",
      settings: { max_lots_per_symbol: 1.5 },
      expected: ["close_position:4", "close_position:2"],
    },
  ];
  for (const c of cases) {
    const evaluation = run(snapshot, { settings: c.settings, day: day(DATE, 10_000) });
    assert.deepEqual(kinds(evaluation.actions), c.expected, c.name);
  }
});

Deno.test("trading_hours: inside, outside, overnight windows and weekdays", () => {
  const at = (iso: string) => Date.parse(iso) - 7_200_000; // server time (UTC+2) -> UTC
  const cases: {
    name: string;
    server: string;
    window: { start: string; end: string; days?: number[] };
    until?: string;
  }[] = [
    {
      name: "inside 09:00",
      server: "2026-11-24T09:00:00Z",
      window: { start: "08:00", end: "17:00", days: [1, 2, 3, 4, 5] },
    },
    // Tuesday 18:00 server: closed until Wednesday 08:00 server = 06:00 UTC
    {
      name: "after close",
      server: "2026-11-24T18:00:00Z",
      window: { start: "08:00", end: "17:00", days: [1, 2, 3, 4, 5] },
      until: "2026-11-25T06:00:00Z",
    },
    {
      name: "end is exclusive",
      server: "2026-11-24T17:00:00Z",
      window: { start: "08:00", end: "17:00" },
      until: "2026-11-25T06:00:00Z",
    },
    // Saturday 10:00: next window Monday 08:00 server
    {
      name: "weekend",
      server: "2026-11-28T10:00:00Z",
      window: { start: "08:00", end: "17:00", days: [1, 2, 3, 4, 5] },
      until: "2026-11-30T06:00:00Z",
    },
    {
      name: "overnight late",
      server: "2026-11-24T23:00:00Z",
      window: { start: "22:00", end: "06:00" },
    },
    {
      name: "overnight early (Tuesday, Monday listed)",
      server: "2026-11-24T03:00:00Z",
      window: { start: "22:00", end: "06:00", days: [1, 2, 3, 4, 5] },
    },
    // Monday 03:00 belongs to Sunday night's window, and Sunday is not listed
    {
      name: "overnight early (Monday, Sunday not listed)",
      server: "2026-11-23T03:00:00Z",
      window: { start: "22:00", end: "06:00", days: [1, 2, 3, 4, 5] },
      until: "2026-11-23T20:00:00Z",
    },
  ];
  for (const c of cases) {
    const utc = at(c.server);
    const snapshot = sampleSnapshot({ utc, positions: [samplePosition({ ticket: 1 }, utc)] });
    const evaluation = run(snapshot, {
      settings: { trading_hours: { ...c.window, timezone: "server" } },
      day: day(c.server.slice(0, 10), 10_000),
    });
    if (c.until === undefined) {
      assert.deepEqual(evaluation.actions, [], c.name);
      continue;
    }
    assert.deepEqual(kinds(evaluation.actions), ["lock", "close_all", "notify"], c.name);
    const lock = evaluation.actions[0]!;
    assert.equal(lock.type === "lock" && lock.until, Date.parse(c.until), c.name);
  }
});

Deno.test("close_before_weekend: from Friday's time until Monday 00:00", () => {
  const cases: { name: string; utc: string; timezone: string; until?: string }[] = [
    // server UTC+2: Friday 20:59 server is 18:59 UTC
    { name: "Friday before", utc: "2026-11-27T18:59:00Z", timezone: "server" },
    {
      name: "Friday at 21:00 server",
      utc: "2026-11-27T19:00:00Z",
      timezone: "server",
      until: "2026-11-29T22:00:00Z",
    },
    {
      name: "Saturday",
      utc: "2026-11-28T12:00:00Z",
      timezone: "server",
      until: "2026-11-29T22:00:00Z",
    },
    { name: "Monday", utc: "2026-11-30T12:00:00Z", timezone: "server" },
    // New York (EST, UTC-5): Friday 21:00 = Saturday 02:00 UTC; Monday 00:00 = 05:00 UTC
    {
      name: "New York",
      utc: "2026-11-28T02:00:00Z",
      timezone: "America/New_York",
      until: "2026-11-30T05:00:00Z",
    },
  ];
  for (const c of cases) {
    const utc = Date.parse(c.utc);
    const snapshot = sampleSnapshot({
      utc,
      positions: [samplePosition({ ticket: 1 }, utc)],
      orders: [sampleOrder(2, utc)],
    });
    const evaluation = run(snapshot, {
      settings: { close_before_weekend: { day: 5, time: "21:00", timezone: c.timezone } },
      day: day(c.utc.slice(0, 10), 10_000),
    });
    if (c.until === undefined) {
      assert.deepEqual(evaluation.actions, [], c.name);
      continue;
    }
    assert.deepEqual(
      kinds(evaluation.actions),
      ["lock", "cancel_orders", "close_all", "notify"],
      c.name,
    );
    const lock = evaluation.actions[0]!;
    assert.equal(lock.type === "lock" && lock.until, Date.parse(c.until), c.name);
  }
});

Deno.test("warning tiers: once per tier per day, again the next day", () => {
  const used = { max_daily_loss: money(500), warn_at: [0.5, 0.8] };
  const onces = (actions: readonly Action[]) =>
    actions.map((action) => action.type === "notify" ? action.once : action.type);
  // loss 400 = 80% of 500: both tiers
  let evaluation = run(losing(-400), { settings: used, day: day(DATE, 10_000) });
  assert.deepEqual(onces(evaluation.actions), ["max_daily_loss@50", "max_daily_loss@80"]);
  // same day, a bit worse: nothing new
  evaluation = run(losing(-420), { settings: used, state: evaluation.state, now: NOON + 60_000 });
  assert.deepEqual(evaluation.actions, []);
  // next day after the server-midnight reset: the day rolls over to balance 9,600; a loss of
  // 260 is 52%: the 50% tier is sent again
  const tomorrow = Date.parse("2026-11-25T08:00:00Z");
  evaluation = run(sampleSnapshot({ utc: tomorrow, balance: 9_600 }), {
    settings: used,
    state: evaluation.state,
    now: tomorrow,
  });
  assert.equal(evaluation.state.day.baseline, 9_600);
  const later = sampleSnapshot({
    utc: tomorrow + 60_000,
    balance: 9_600,
    positions: [samplePosition({ ticket: 1, profit: -260 }, tomorrow + 7_200_000)],
  });
  evaluation = run(later, { settings: used, state: evaluation.state, now: tomorrow + 60_000 });
  assert.deepEqual(onces(evaluation.actions), ["max_daily_loss@50"]);
});

Deno.test("warning tiers: a limit not yet reached never reads 100% (499.99 of 500)", () => {
  const settings = { max_daily_loss: money(500), warn_at: [0.8] };
  const reasons = (profit: number) =>
    run(losing(profit), { settings, day: day(DATE, 10_000) }).actions.map((action) =>
      action.type === "notify" ? action.reason : action.type
    );
  assert.deepEqual(reasons(-499.99), [
    "daily loss 499.99 USD is 99.9% of the max_daily_loss limit 500.00 USD (warning at 80%)",
  ]);
  assert.deepEqual(reasons(-499.999), [
    "daily loss 499.99 USD is 99.9% of the max_daily_loss limit 500.00 USD (warning at 80%)",
  ]);
  assert.deepEqual(reasons(-400), [
    "daily loss 400.00 USD is 80% of the max_daily_loss limit 500.00 USD (warning at 80%)",
  ]);
  assert.deepEqual(reasons(-285), [], "57% is below the 80% tier");
});

Deno.test("formatPercentDown rounds down, never up to 100%", async () => {
  const { formatPercentDown } = await import("../../src/rules/builtin/warning_tiers.ts");
  assert.deepEqual(
    [0.8, 0.57, 0.805, 0.99998, 0.9999999999999, 0.5, 0.123].map(formatPercentDown),
    ["80%", "57%", "80.5%", "99.9%", "99.9%", "50%", "12.3%"],
  );
});
