/**
 * The closing summary computed from recorded events and the element alone: breach to flat,
 * the closed position, the overshoot and its parts, and an untouched account.
 */
import assert from "node:assert/strict";
import { summarizeAccount, summaryText } from "../../src/demo/summary.ts";
import { parseElement } from "../../src/store/schemas.ts";
import type { Element, EventRecord } from "../../src/store/mod.ts";
import { ACCOUNTS, T0 } from "./_fixtures.ts";

let nextId = 0;
function event(
  at: number,
  type: string,
  message: string,
  extra: { rule?: string; detail?: Record<string, unknown> } = {},
): EventRecord {
  return {
    _id: `ev${nextId++}`,
    element_id: "el",
    at: T0 + at,
    type,
    server_time: null,
    rule: extra.rule ?? null,
    message,
    detail: extra.detail ?? {},
    host: "vps-demo",
  };
}

function element(account: number, fields: Record<string, unknown>): Element {
  const parsed = parseElement({
    _id: `el${account + 1}`,
    ...ACCOUNTS[account]!.plan.element,
    status: "ACTIVE",
    day: {
      date: "2026-01-06",
      start_balance: 10_000,
      start_equity: 10_000,
      high_equity: 10_000,
      baseline: 10_000,
    },
    ...fields,
  });
  assert.ok(parsed.valid, JSON.stringify(parsed));
  return parsed.element;
}

const metrics = (balance: number, equity: number, positions = 0) => ({
  metrics: {
    balance,
    equity,
    daily_pl: equity - 10_000,
    positions,
    orders: 0,
    updated_at: T0 + 60_000,
  },
});

const DAILY = "max_daily_loss";
const LOCKING_DAY: EventRecord[] = [
  event(0, "lifecycle", "risk process started (lease 1)"),
  event(12_000, "warning", "daily loss 414.00 USD is 82.8% of the limit", {
    rule: "warning_tiers",
  }),
  event(19_400, "breach", "daily loss 508.75 USD reached the limit of 500.00 USD", { rule: DAILY }),
  event(19_401, "lock", "LOCKED_DAY: daily loss 508.75 USD", {
    rule: DAILY,
    detail: { trading: "LOCKED_DAY", equity: 9_491.25, balance: 9_700 },
  }),
  event(19_402, "command", "lock sent (attempt 1)", { rule: DAILY, detail: { type: "lock" } }),
  event(19_403, "command", "cancel_orders sent (attempt 1)", {
    rule: DAILY,
    detail: { type: "cancel_orders" },
  }),
  event(19_404, "command", "close_all sent (attempt 1)", {
    rule: DAILY,
    detail: { type: "close_all" },
  }),
  event(19_500, "lifecycle", "lock confirmed by snapshot after 1 attempt(s)", { rule: DAILY }),
  event(19_700, "lifecycle", "cancel_orders confirmed by snapshot after 1 attempt(s)", {
    rule: DAILY,
  }),
  event(20_017, "lifecycle", "close_all confirmed by snapshot after 1 attempt(s)", {
    rule: DAILY,
  }),
  // The trader's two tries while locked, closed again: not part of the breach's flat time.
  event(21_000, "command", "close_all sent (attempt 1)", {
    rule: DAILY,
    detail: { type: "close_all" },
  }),
  event(24_000, "lifecycle", "close_all confirmed by snapshot after 2 attempt(s)", {
    rule: DAILY,
  }),
];

Deno.test("summary: a locked account, flat 617 ms after the breaching snapshot, overshoot split", () => {
  const summary = summarizeAccount(
    ACCOUNTS[1]!,
    element(1, { trading: "LOCKED_DAY", ...metrics(9_459, 9_459) }),
    LOCKING_DAY,
  );
  assert.equal(summary.trading, "LOCKED_DAY");
  assert.equal(summary.breaches.length, 1);
  const breach = summary.breaches[0]!;
  assert.equal(breach.kind, "lock");
  assert.equal(breach.rule, DAILY);
  assert.equal(breach.doneMs, 617);
  assert.equal(summary.dailyLossLimit, 500);
  assert.ok(summary.overshoot);
  assert.equal(summary.overshoot.total, 41);
  assert.ok(Math.abs(summary.overshoot.atBreach - 8.75) < 1e-9);
  assert.ok(Math.abs(summary.overshoot.afterBreach - 32.25) < 1e-9);
  assert.equal(summary.events, LOCKING_DAY.length);
  const text = summaryText(summary).join("\n");
  assert.match(text, /^5000002 losing_day: 1 breach \(max_daily_loss\); trading LOCKED_DAY/);
  assert.match(text, /locked and flat 617 ms after the breaching snapshot/);
  assert.match(text, /final loss 541\.00 against the limit 500\.00: overshoot 41\.00 \(8\.2 %\)/);
  assert.match(text, /8\.75 already at the breaching snapshot/);
  assert.match(text, /32\.25 after it \(slippage/);
  assert.match(text, /12 events recorded/);
});

Deno.test("summary: a lock whose close was never confirmed says it is not flat", () => {
  const cut = LOCKING_DAY.filter((e) => !e.message.startsWith("close_all confirmed"));
  const summary = summarizeAccount(
    ACCOUNTS[1]!,
    element(1, { trading: "LOCKED_DAY", ...metrics(9_700, 9_480, 3) }),
    cut,
  );
  assert.equal(summary.breaches[0]!.doneMs, null);
  assert.match(summaryText(summary).join("\n"), /locked; NOT flat yet when the demo ended/);
});

Deno.test("summary: the oversized position closed, the account stays tradable", () => {
  const rule = "max_position_risk";
  const events = [
    event(2_000, "warning", "position 1001 EURUSD risks 3017.50 USD", { rule }),
    event(2_001, "command", "close_position sent (attempt 1)", {
      rule,
      detail: { type: "close_position", ticket: 1001 },
    }),
    event(2_002, "breach", "position 1001 EURUSD risks 3017.50 USD at its stop", {
      rule,
      detail: { action: "close_position", ticket: 1001 },
    }),
    event(2_100, "ack", "close_position done (retcode 10009)", { rule }),
    event(2_165, "lifecycle", "close:1001 confirmed by snapshot after 1 attempt(s)", { rule }),
  ];
  const summary = summarizeAccount(ACCOUNTS[2]!, element(2, metrics(9_902, 9_902.44, 2)), events);
  assert.equal(summary.breaches.length, 1);
  assert.deepEqual(
    { kind: summary.breaches[0]!.kind, ticket: summary.breaches[0]!.ticket },
    { kind: "close", ticket: 1001 },
  );
  assert.equal(summary.breaches[0]!.doneMs, 163);
  assert.equal(summary.overshoot, null);
  assert.match(
    summaryText(summary).join("\n"),
    /position #1001 closed 163 ms after the breaching snapshot; the account stays tradable/,
  );
});

Deno.test("summary: an account without a breach is untouched", () => {
  const events = [event(0, "lifecycle", "risk process started (lease 1)")];
  const summary = summarizeAccount(ACCOUNTS[0]!, element(0, metrics(10_000, 9_998.35, 1)), events);
  assert.deepEqual(summary.breaches, []);
  assert.equal(summary.dailyLossLimit, 300);
  const text = summaryText(summary);
  assert.equal(
    text[0],
    "5000001 calm: no breach, untouched; trading ALLOWED; day P/L -1.65 (daily loss limit 300.00)",
  );
  assert.equal(text.at(-1), "  1 event recorded");
});
