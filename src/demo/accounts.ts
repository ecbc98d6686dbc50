/**
 * The demo's accounts: one per scenario, cycling `calm`, `losing_day`, `big_position`, each with
 * its own limits, so within a minute one account is locked and flattened, one loses its
 * oversized trade and stays tradable, and one is never touched.
 *
 * @module
 */
import { formatSimPathway } from "../mt5/sim/pathway.ts";
import type { ScenarioName } from "../mt5/sim/scenarios.ts";

/** The scenarios the demo's accounts play, in order; more accounts cycle through them. */
export const DEMO_SCENARIOS: readonly ScenarioName[] = ["calm", "losing_day", "big_position"];

/** The trade server every demo account is on. */
export const DEMO_SERVER = "RiskGuard-Sim";

/** The first demo account number; the next ones follow. */
export const FIRST_DEMO_LOGIN = 5_000_001;

/** One account the demo adds: its scenario, login and element settings. */
export interface DemoAccountPlan {
  /** 0-based position in the demo. */
  index: number;
  /** The simulator scenario of its terminal. */
  scenario: ScenarioName;
  /** The MT5 account number. */
  login: number;
  /** The simulator seed of its terminal (the demo seed plus the index). */
  seed: number;
  /** The element document inserted into the store. */
  element: Record<string, unknown>;
}

/** The limits of each scenario's account (all in percent of the day's baseline). */
const LIMITS: Readonly<Record<string, Record<string, unknown>>> = {
  // Small trades with stop losses: nothing comes near these.
  calm: { max_daily_loss: "3%", max_position_risk: "1%", max_profit: "5%" },
  // The trader averages down against a trend: the 5 % daily loss is crossed in about 15 s.
  losing_day: { max_daily_loss: "5%", max_position_risk: "2%" },
  // One 5-lot trade risks about 30 % at its stop loss: far over 2 % per position.
  big_position: { max_daily_loss: "4%", max_position_risk: "2%" },
};

/** The plans of `count` demo accounts for a run with `seed`. */
export function planAccounts(count: number, seed: number): DemoAccountPlan[] {
  const plans: DemoAccountPlan[] = [];
  for (let index = 0; index < count; index++) {
    const scenario = DEMO_SCENARIOS[index % DEMO_SCENARIOS.length]!;
    const login = FIRST_DEMO_LOGIN + index;
    plans.push({
      index,
      scenario,
      login,
      seed: seed + index,
      element: {
        name: `demo ${scenario}`,
        server: DEMO_SERVER,
        login,
        // The simulator accepts any password; it shows where a real one goes.
        password: "demo-password",
        ...LIMITS[scenario],
      },
    });
  }
  return plans;
}

/** The instance path of a plan's simulated terminal: scenario, seed and speed. */
export function simInstancePath(plan: DemoAccountPlan, speed: number): string {
  return formatSimPathway(plan.scenario, { seed: plan.seed, speed });
}
