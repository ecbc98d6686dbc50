/**
 * The risk process under faults: store outage, lost bridge, broken plugins, a second manager,
 * and dry run. Everything real (SQLite store, ZMTP on loopback, plugin workers, simulator);
 * only the store outage is injected, by a wrapper that makes every call fail as an unreachable
 * database does.
 */
import assert from "node:assert/strict";
import { type Store, StoreUnavailableError } from "../../src/store/mod.ts";
import { runRisk } from "../../src/risk/runner.ts";
import { RiskGuardError } from "../../src/shared/errors.ts";
import { eventsOf, runScenario } from "../support/risk_harness.ts";

/** A store whose every call fails with STORE_UNAVAILABLE while `outage.down` is true. */
function flakyStore(store: Store, outage: { down: boolean; failedCalls: number }): Store {
  return new Proxy(store, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => {
        if (outage.down && property !== "watchElements" && property !== "close") {
          outage.failedCalls++;
          return Promise.reject(
            new StoreUnavailableError("store down (injected): connection refused"),
          );
        }
        return value.apply(target, args);
      };
    },
  });
}

Deno.test("store down mid-run: enforcement continues, events are flushed after", async () => {
  const outage = { down: false, failedCalls: 0 };
  let downSince = 0;
  const result = await runScenario({
    scenario: "losing_day",
    element: { max_daily_loss: "5%" },
    wrapStore: (store) => flakyStore(store, outage),
    onTerminal: () => {
      // The store goes away right after start, before any breach.
      setTimeout(() => {
        outage.down = true;
        downSince = Date.now();
      }, 300);
    },
    until: (status) => {
      if (status.trading === "LOCKED_DAY" && outage.down && Date.now() - downSince > 500) {
        outage.down = false; // back online once the lock was enforced without it
        return true;
      }
      return false;
    },
    settleMs: 2_000,
  });
  try {
    assert.equal(result.error, undefined);
    assert.ok(outage.failedCalls > 0, "the outage was real: store calls failed");
    assert.equal(result.sim.locked, true, "locked while the store was down");
    const stored = await result.store.listEvents(result.elementId, { limit: 1_000 });
    for (const type of ["breach", "lock", "command", "ack"]) {
      assert.ok(stored.some((e) => e.type === type), `${type} event flushed after the outage`);
    }
    const element = await result.store.getElement(result.elementId);
    assert.ok(element?.valid);
    assert.equal(element.element.trading, "LOCKED_DAY");
  } finally {
    await result.cleanup();
  }
});

Deno.test("bridge lost: alarm, then the terminal is restarted and data flows again", async () => {
  let stopped = false;
  const result = await runScenario({
    scenario: "calm",
    element: { max_daily_loss: "5%" },
    risk: { timing: { snapshotAlarmMs: 800, terminalRestartMs: 2_000 } },
    onTerminal: (terminal) => {
      if (stopped) return;
      stopped = true;
      setTimeout(() => void terminal.stop(), 700); // the terminal dies
    },
    until: (_status, events) =>
      events.filter((e) => e.type === "lifecycle" && e.message === "EA connected").length >= 2,
    settleMs: 500,
    maxMs: 15_000,
  });
  try {
    assert.equal(result.error, undefined);
    const errors = eventsOf(result.events, "error").map((e) => e.message);
    assert.ok(errors.some((m) => /no data from the EA for \d+ s$/.test(m)), errors.join("\n"));
    assert.ok(errors.some((m) => /restarting the terminal/.test(m)), errors.join("\n"));
    const connected = result.events.filter((e) => e.message === "EA connected");
    assert.equal(connected.length, 2, "the restarted terminal connected again");
  } finally {
    await result.cleanup();
  }
});

Deno.test("broken plugins are reported and the built-in rules keep enforcing", async () => {
  const dir = await Deno.makeTempDir();
  const fixtures = new URL("../rules/fixtures/", import.meta.url);
  const syntaxError = `${dir}/syntax_error.ts`;
  await Deno.writeTextFile(
    syntaxError,
    (await Deno.readTextFile(new URL("syntax_error.txt", fixtures))).replaceAll(
      "../../../src/",
      `${new URL("../../src/", import.meta.url).pathname}`,
    ),
  );
  const result = await runScenario({
    scenario: "losing_day",
    element: { max_daily_loss: "5%" },
    risk: {
      ruleFiles: [
        new URL("throws.ts", fixtures).pathname,
        new URL("never_returns.ts", fixtures).pathname,
        syntaxError,
      ],
    },
    until: (status) => status.trading === "LOCKED_DAY",
    settleMs: 1_500,
  });
  try {
    assert.equal(result.error, undefined);
    assert.equal(result.sim.locked, true, "built-in max_daily_loss still locked the account");
    const errors = eventsOf(result.events, "error").map((e) => e.message);
    assert.ok(
      errors.some((m) => m.includes("failed to load") && m.includes("syntax_error.ts:")),
      `load error with file and line:\n${errors.join("\n")}`,
    );
    assert.ok(errors.some((m) => /always_throws|boom from a fixture/.test(m)), errors.join("\n"));
    assert.ok(errors.some((m) => /timeout|deadline|never/i.test(m)), errors.join("\n"));
    const element = await result.store.getElement(result.elementId);
    assert.ok(element?.valid);
    assert.equal(element.element.error?.code, "PLUGIN_LOAD");
  } finally {
    await result.cleanup();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("run by hand while a live manager holds the element: refused, naming it", async () => {
  let second: unknown;
  const result = await runScenario({
    scenario: "calm",
    element: {},
    until: () => second !== undefined,
    settleMs: 100,
    wrapStore: (store) => {
      // Once the first process holds the lease, a second one tries the same element.
      setTimeout(async () => {
        const [element] = await store.listElements();
        try {
          await runRisk({
            store,
            elementId: element!.id,
            host: "other-host",
            instanceId: element!.valid ? element!.element.instance_id ?? undefined : undefined,
            signal: AbortSignal.timeout(5_000),
          });
          second = "the second process ran";
        } catch (error) {
          second = error;
        }
      }, 800);
      return store;
    },
    maxMs: 10_000,
  });
  try {
    assert.ok(second instanceof RiskGuardError, String(second));
    assert.equal(second.code, "ELEMENT_HELD");
    assert.equal(second.exitCode, 2);
    assert.match(
      second.message,
      /held by a live manager: host test-host, instance \w+, last ping \d+ s ago/,
    );
  } finally {
    await result.cleanup();
  }
});

Deno.test("dry run: breaches and decisions are recorded, nothing is sent", async () => {
  const result = await runScenario({
    scenario: "losing_day",
    element: { max_daily_loss: "5%" },
    risk: { dryRun: true },
    until: (status) => status.trading === "LOCKED_DAY",
    settleMs: 1_000,
  });
  try {
    assert.equal(result.error, undefined);
    assert.deepEqual(result.sim.history.commands, [], "no command reached the terminal");
    assert.equal(result.sim.locked, false);
    const dry = eventsOf(result.events, "command").filter((e) => e.detail?.dry_run === true);
    assert.deepEqual(dry.map((e) => e.detail?.type), ["lock", "cancel_orders", "close_all"]);
    assert.match(eventsOf(result.events, "lock")[0]!.message, /^dry run: would be LOCKED_DAY/);
    const element = await result.store.getElement(result.elementId);
    assert.ok(element?.valid);
    assert.equal(element.element.trading, "ALLOWED", "a dry run does not store a lock");
  } finally {
    await result.cleanup();
  }
});
