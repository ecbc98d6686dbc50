/**
 * A person's change through `Store.configureElement` (what `elements set` / `elements unlock`
 * do) reaches a running risk process: new limits apply at once, and `trading: "ALLOWED"` lifts
 * its lock (a breach still in force locks the account again).
 */
import assert from "node:assert/strict";
import type { Store } from "../../src/store/mod.ts";
import { eventsOf, runScenario } from "../support/risk_harness.ts";

/** Resolves once the stored element's `trading` is `state` (the risk process wrote it). */
async function storedTrading(store: Store, state: string): Promise<string> {
  for (let n = 0; n < 200; n++) {
    const [element] = await store.listElements();
    if (element?.valid && element.element.trading === state) return element.id;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`the stored element never became ${state}`);
}

Deno.test("live: a tightened max_daily_loss applies to the running risk process at once", async () => {
  let store: Store | undefined;
  let changed: Promise<unknown> | undefined;
  const result = await runScenario({
    scenario: "losing_day",
    element: { max_daily_loss: "90%" },
    wrapStore: (inner) => (store = inner),
    until: (status) => {
      if (changed === undefined) {
        changed = store!.configureElement(status.element_id, { max_daily_loss: "1%" });
      }
      return status.trading === "LOCKED_DAY";
    },
    settleMs: 500,
  });
  try {
    assert.equal(result.error, undefined);
    const outcome = await changed;
    assert.ok((outcome as { ok?: boolean } | undefined)?.ok, JSON.stringify(outcome));
    const messages = result.events.map((e) => e.message);
    assert.ok(
      messages.includes("configuration changed: new limits apply now"),
      messages.join(" | "),
    );
    const lock = eventsOf(result.events, "lock");
    assert.equal(lock[0]?.rule, "max_daily_loss");
  } finally {
    await result.cleanup();
  }
});

Deno.test("live: unlock by a person lifts the day lock; the breach still in force locks again", async () => {
  let store: Store | undefined;
  let unlocked: Promise<unknown> | undefined;
  const result = await runScenario({
    scenario: "losing_day",
    element: { max_daily_loss: "5%" },
    wrapStore: (inner) => (store = inner),
    until: (status, events) => {
      if (unlocked === undefined && status.trading === "LOCKED_DAY") {
        unlocked = storedTrading(store!, "LOCKED_DAY").then((id) =>
          store!.configureElement(id, { trading: "ALLOWED" })
        );
      }
      const unlock = events.findIndex((e) => e.type === "unlock");
      return unlock >= 0 && events.slice(unlock).some((e) => e.type === "lock");
    },
    settleMs: 500,
  });
  try {
    assert.equal(result.error, undefined);
    const outcome = await unlocked;
    assert.ok((outcome as { ok?: boolean } | undefined)?.ok, JSON.stringify(outcome));
    const types = result.events.filter((e) => e.type === "lock" || e.type === "unlock");
    assert.deepEqual(types.slice(0, 3).map((e) => e.type), ["lock", "unlock", "lock"]);
    assert.match(types[1]!.message, /unlocked by a person/);
    assert.equal(types[2]!.rule, "max_daily_loss");
  } finally {
    await result.cleanup();
  }
});

Deno.test("live: another daily reset rebuilds the trading day from the terminal's figures", async () => {
  let store: Store | undefined;
  let changed: Promise<unknown> | undefined;
  const result = await runScenario({
    scenario: "calm",
    element: { max_daily_loss: "5%" },
    wrapStore: (inner) => (store = inner),
    until: (status, events) => {
      if (changed === undefined && status.seq >= 3) {
        changed = store!.configureElement(status.element_id, {
          daily: { reset: "17:00", timezone: "America/New_York", baseline: "balance" },
        });
      }
      return events.filter((e) => /^trading day /.test(e.message)).length >= 2;
    },
    settleMs: 300,
    maxMs: 10_000,
  });
  try {
    assert.equal(result.error, undefined);
    const days = result.events.filter((e) => /^trading day /.test(e.message));
    assert.equal(days.length, 2, days.map((e) => e.message).join(" | "));
    assert.match(days[1]!.message, /\(reconstructed\)$/);
  } finally {
    await result.cleanup();
  }
});
