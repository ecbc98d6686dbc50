/**
 * Drill: a plugin that hangs, one that leaks memory (1 MB kept per snapshot) and one that
 * throws on every call, all loaded at once into a real risk process.
 *
 * Must hold: the built-in daily loss limit still locks and flattens the account within the
 * oracle's target, and each broken plugin is reported in the store's events.
 */
import assert from "node:assert/strict";
import { openStore } from "../../src/store/mod.ts";
import {
  addDrillAccount,
  lastAccountState,
  startRiskProcess,
  verdictOf,
  waitFor,
} from "../support/risk_process.ts";

const fixture = (name: string) => new URL(`./fixtures/${name}`, import.meta.url).pathname;

Deno.test("plugins that hang, leak and throw: the built-in rules still enforce in time", async () => {
  const dir = await Deno.makeTempDir({ prefix: "riskguard-drill-" });
  const spec = `sqlite:${dir}/drill.db`;
  const store = await openStore(spec);
  try {
    const account = await addDrillAccount(store, {
      scenario: "losing_day",
      element: { max_daily_loss: "5%" },
      dir,
      speed: 4,
    });
    const risk = startRiskProcess({
      store: { spec, db: "riskguard" },
      account,
      rules: [fixture("hang.ts"), fixture("leak.ts"), fixture("throw.ts")],
    });
    try {
      await waitFor(
        "the account locked and flat",
        async () => {
          const state = await lastAccountState(account.truthPath);
          return state?.locked === true && state.positions === 0 && state.orders === 0;
        },
        40_000,
        risk.output,
      );
      await new Promise((resolve) => setTimeout(resolve, 1_000));
    } finally {
      assert.equal(await risk.stop(), 0, risk.output());
    }
    const { verdict, summary, events } = await verdictOf(store, account);
    assert.ok(verdict.ok, summary);
    assert.ok(verdict.enforced >= 1, summary);
    const errors = events.filter((e) => e.type === "error").map((e) => e.message);
    assert.ok(
      errors.some((m) => /drill_hang.*timeout/.test(m)),
      `the hanging plugin timed out: ${errors.join(" | ")}`,
    );
    assert.ok(
      errors.some((m) => /drill_throw.*threw.*always throws/.test(m)),
      `the throwing plugin was reported: ${errors.join(" | ")}`,
    );
    const element = await store.getElement(account.elementId);
    assert.ok(element?.valid);
    assert.equal(element.element.trading, "LOCKED_DAY");
    console.log(
      `plugins drill: ${summary}; breach to flat ${verdict.breachToFlatMs.join(", ")} ms`,
    );
  } finally {
    await store.close();
    await Deno.remove(dir, { recursive: true });
  }
});
