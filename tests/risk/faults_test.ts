/**
 * The risk process under faults: store outage, lost bridge, broken plugins, a second manager,
 * and dry run. Everything real (SQLite store, ZMTP on loopback, plugin workers, simulator);
 * only the store outage is injected, by a wrapper that makes every call fail as an unreachable
 * database does.
 */
import assert from "node:assert/strict";
import {
  type ElementFeed,
  type Store,
  StoreUnavailableError,
  type WatchOptions,
} from "../../src/store/mod.ts";
import { runRisk } from "../../src/risk/mod.ts";
import {
  launchTerminal,
  type LaunchTerminalOptions,
  type TerminalHandle,
} from "../../src/mt5/terminal.ts";
import { RiskGuardError } from "../../src/shared/errors.ts";
import { eventsOf, runScenario } from "../support/risk_harness.ts";
import { externalTerminal } from "../support/scripted_ea.ts";

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

Deno.test("a feed copy read before the lock write is not taken for a person's unlock", async () => {
  // Change-stream deliveries can lag (network, driver lookups): each change is delivered 300 ms
  // after it was read, while an operator keeps editing an unrelated setting.
  let base: Store | undefined;
  let editor: ReturnType<typeof setInterval> | undefined;
  const lagging = (feed: ElementFeed): ElementFeed => {
    const next = async () => {
      const result = await feed.next();
      await new Promise((resolve) => setTimeout(resolve, 300));
      return result;
    };
    return { next, close: () => feed.close(), [Symbol.asyncIterator]: () => ({ next }) };
  };
  const result = await runScenario({
    scenario: "losing_day",
    element: { max_daily_loss: 300 },
    wrapStore: (store) => {
      base = store;
      return new Proxy(store, {
        get(target, property) {
          if (property === "watchElements") {
            return (options: WatchOptions) => lagging(target.watchElements(options));
          }
          const value = Reflect.get(target, property, target);
          return typeof value === "function" ? value.bind(target) : value;
        },
      });
    },
    until: (status) => {
      let n = 20;
      editor ??= setInterval(() => {
        void base!.configureElement(status.element_id, { max_open_positions: n++ }).catch(() => {});
      }, 150);
      return status.trading === "LOCKED_DAY";
    },
    settleMs: 3_000,
    maxMs: 15_000,
  });
  clearInterval(editor);
  try {
    assert.equal(result.error, undefined);
    assert.deepEqual(eventsOf(result.events, "unlock"), [], "no self-made unlock");
    assert.equal(eventsOf(result.events, "lock").length, 1);
    assert.equal(result.sim.locked, true);
  } finally {
    await result.cleanup();
  }
});

Deno.test("a plugin's permanent lock is permanent on the EA too", async () => {
  const dir = await Deno.makeTempDir();
  const plugin = `${dir}/permanent.ts`;
  await Deno.writeTextFile(
    plugin,
    `export default {
      id: "permanent_lock",
      evaluate: ({ now }) => [
        { type: "lock", scope: "permanent", until: now + 3_600_000, reason: "permanent" },
      ],
    };\n`,
  );
  const result = await runScenario({
    scenario: "calm",
    element: {},
    risk: { ruleFiles: [plugin] },
    until: (status) => status.trading === "LOCKED" && status.seq >= 10,
    settleMs: 500,
  });
  try {
    assert.equal(result.error, undefined);
    const locks = eventsOf(result.events, "command").filter((e) => e.detail.type === "lock");
    assert.equal(locks.length, 1, "sent once, no flapping");
    assert.equal(locks[0]!.detail.until, 0);
    assert.equal(result.sim.locked, true);
  } finally {
    await result.cleanup();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("dry run: element changes never read as a person's unlock", async () => {
  let base: Store | undefined;
  let editedAt: number | undefined;
  let edit: Promise<unknown> | undefined;
  const result = await runScenario({
    scenario: "losing_day",
    element: { max_daily_loss: "5%" },
    risk: { dryRun: true },
    wrapStore: (store) => (base = store),
    until: (status) => {
      if (status.trading === "LOCKED_DAY" && editedAt === undefined) {
        editedAt = Date.now();
        edit = base!.configureElement(status.element_id, { name: "edited" });
      }
      return editedAt !== undefined && Date.now() - editedAt > 1_500;
    },
    settleMs: 500,
  });
  try {
    assert.equal(result.error, undefined);
    // The case means something only when the account was locked and then edited.
    assert.ok(editedAt !== undefined, "the account never reached LOCKED_DAY");
    const edited = (await edit) as { ok?: boolean } | undefined;
    assert.equal(edited?.ok, true, "the person's edit was stored");
    assert.ok(eventsOf(result.events, "lock").length > 0, "the lock was recorded");
    assert.deepEqual(eventsOf(result.events, "unlock"), []);
  } finally {
    await result.cleanup();
  }
});

Deno.test("a stop during a terminal restart leaves no terminal or port behind", async () => {
  const started: TerminalHandle[] = [];
  let port = 0;
  const stop = new AbortController();
  const result = await runScenario({
    scenario: "calm",
    element: {},
    maxMs: 8_000,
    risk: {
      signal: stop.signal,
      timing: { terminalRestartMs: 1_200, snapshotAlarmMs: 500 },
      launchTerminal: async (options: LaunchTerminalOptions) => {
        port = options.port;
        if (started.length === 0) {
          // A terminal whose EA never connects: the silence makes the runner restart it.
          const silent = externalTerminal();
          started.push(silent);
          return silent;
        }
        // The replacement takes a while to start, and the run is stopped meanwhile.
        setTimeout(() => stop.abort(), 300);
        await new Promise((resolve) => setTimeout(resolve, 1_000));
        const terminal = await launchTerminal(options);
        started.push(terminal);
        return terminal;
      },
    },
  });
  try {
    assert.equal(result.error, undefined);
    assert.equal(started.length, 2, "the silent terminal was restarted");
    const replacementStopped = await Promise.race([
      started[1]!.done.then(() => true),
      new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 1_000)),
    ]);
    assert.ok(replacementStopped, "the terminal started during the stop was stopped too");
    for (const p of [port, port + 1]) Deno.listen({ hostname: "127.0.0.1", port: p }).close();
  } finally {
    await result.cleanup();
  }
});
