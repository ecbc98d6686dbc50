/**
 * A fixed fleet state for the golden frame and the plain table: three accounts a few seconds
 * after `losing_day` was locked and `big_position` lost its oversized trade.
 *
 * @module
 */
import { planAccounts } from "../../src/demo/accounts.ts";
import type { DemoAccount } from "../../src/demo/setup.ts";
import type { FleetState } from "../../src/demo/state.ts";

/** 2026-01-06 08:00:00 UTC. */
export const T0 = Date.UTC(2026, 0, 6, 8, 0, 0);

/** The three demo accounts with fixed ids. */
export const ACCOUNTS: DemoAccount[] = planAccounts(3, 7).map((plan, i) => ({
  plan,
  id: `el${i + 1}`,
  instanceId: `in${i + 1}`,
  instancePath: `sim:${plan.scenario}?seed=${plan.seed}&speed=1`,
}));

/** The state shown 23 s into a 60 s demo. */
export const STATE: FleetState = {
  now: T0 + 23_400,
  startedAt: T0,
  durationS: 60,
  host: "vps-demo",
  phase: "running",
  storePath: "/tmp/riskguard-demo-abc123/demo.db",
  logPath: "/tmp/riskguard-demo-abc123/riskguard.log",
  accounts: [
    {
      login: 5_000_001,
      scenario: "calm",
      status: "ACTIVE",
      trading: "ALLOWED",
      balance: 9_999.2,
      equity: 10_003.12,
      dailyPl: 3.12,
      positions: 2,
      orders: 1,
      dailyLossLimit: 300,
      lastEvent: {
        at: T0 + 4_100,
        login: 5_000_001,
        scenario: "calm",
        type: "lifecycle",
        rule: null,
        message: "trading day 2026-01-06 (new)",
      },
    },
    {
      login: 5_000_002,
      scenario: "losing_day",
      status: "ACTIVE",
      trading: "LOCKED_DAY",
      balance: 9_473.1,
      equity: 9_473.1,
      dailyPl: -526.9,
      positions: 0,
      orders: 0,
      dailyLossLimit: 500,
      lastEvent: {
        at: T0 + 19_850,
        login: 5_000_002,
        scenario: "losing_day",
        type: "lifecycle",
        rule: "max_daily_loss",
        message: "close_all confirmed by snapshot after 1 attempt(s)",
      },
    },
    {
      login: 5_000_003,
      scenario: "big_position",
      status: "ACTIVE",
      trading: "ALLOWED",
      balance: 9_912.4,
      equity: 9_905.05,
      dailyPl: -94.95,
      positions: 2,
      orders: 0,
      dailyLossLimit: 400,
      lastEvent: null,
    },
  ],
  recent: [
    {
      at: T0 + 7_020,
      login: 5_000_003,
      scenario: "big_position",
      type: "breach",
      rule: "max_position_risk",
      message: "position #1001 EURUSD 5 lots risks 3000.00 USD at its stop loss, over 200.00 USD",
    },
    {
      at: T0 + 7_021,
      login: 5_000_003,
      scenario: "big_position",
      type: "command",
      rule: "max_position_risk",
      message: "close_position sent (attempt 1)",
    },
    {
      at: T0 + 19_400,
      login: 5_000_002,
      scenario: "losing_day",
      type: "lock",
      rule: "max_daily_loss",
      message:
        "LOCKED_DAY: daily loss 512.30 USD reached the limit of 500.00 USD (equity 9487.70 USD <= 9500.00 USD)",
    },
  ],
};
