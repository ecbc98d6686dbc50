/**
 * The plugin round trip sends a plugin process only what changed since the context it holds
 * (issue 16): what a plugin sees must be exactly the context of each snapshot, whole, also when
 * positions and orders open and close, when the plugin wrecks its own input, after it throws,
 * after its process restarts or times out, and when another plugin skipped snapshots.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { PluginHost } from "../../src/rules/plugins.ts";
import { sampleOrder, samplePosition, sampleSnapshot } from "../../src/rules/samples.ts";
import { type EngineState, evaluateSnapshot } from "../../src/risk/engine.ts";
import type { RuleContext } from "../../src/rules/rule.ts";
import { settings } from "./_support.ts";
import { waitFor } from "../support/risk_process.ts";
import { canonical } from "./fixtures/echo_context.ts";

const fixture = fileURLToPath(new URL("./fixtures/echo_context.ts", import.meta.url));
const START = Date.parse("2026-11-24T10:00:00Z");

/** What the plugin must see: the context as its whole JSON gives it. */
function expected(context: RuleContext): string {
  return canonical(JSON.parse(JSON.stringify(context)));
}

/** Snapshots whose positions and orders come and go, whose prices move and symbols change. */
class Contexts {
  #state: EngineState = {};

  /** The context of snapshot `seq`. */
  next(seq: number): RuleContext {
    const tickets = [1, 2, 3, 4, 5, 6].filter((ticket) => (ticket + seq) % 4 !== 0);
    if (seq % 5 === 0) tickets.push(100 + seq);
    if (seq % 3 === 0) tickets.reverse();
    const positions = tickets.map((ticket) =>
      samplePosition({
        ticket,
        symbol: ticket % 2 === 0 ? "EURUSD" : "XAUUSD",
        price: 1.1 + seq / 1_000 + ticket / 100_000,
        profit: seq - ticket,
        ...(seq % 4 === 0 ? { comment: `note ${seq}` } : {}),
      })
    );
    const orders = seq % 2 === 0 ? [sampleOrder(900 + (seq % 3))] : [];
    const snapshot = sampleSnapshot({
      utc: START + seq * 250,
      seq,
      balance: 10_000,
      positions,
      orders,
    });
    const evaluation = evaluateSnapshot({
      snapshot,
      settings: settings(seq > 6 ? { max_open_positions: 5 } : {}),
      state: this.#state,
      now: snapshot.utc_time,
    });
    this.#state = evaluation.state;
    return evaluation.context;
  }
}

Deno.test("plugin context: each snapshot arrives whole as a delta, whatever the plugin did to the one before", async () => {
  const host = await PluginHost.start([{ module: fixture, options: { throwAt: 7 } }], {
    deadlineMs: 5_000,
  });
  try {
    assert.deepEqual(host.loadErrors, []);
    const contexts = new Contexts();
    for (let seq = 1; seq <= 14; seq++) {
      const context = contexts.next(seq);
      const outcome = await host.evaluate(context);
      if (seq === 7) {
        assert.equal(outcome.errors[0]?.message, "seq 7 throws");
        continue;
      }
      assert.deepEqual(outcome.errors, [], `seq ${seq}`);
      assert.equal(outcome.actions[0]?.reason, expected(context), `seq ${seq}`);
    }
    const status = host.status()[0]!;
    // Whole: the first snapshot and the one after the throw; deltas: the other 12.
    assert.equal(status.deltas, 12);
    assert.equal(status.resyncs, 0);
  } finally {
    await host.close();
  }
});

Deno.test("plugin context: a restarted plugin process gets the whole context, then deltas", async () => {
  const host = await PluginHost.start([{ module: fixture }], {
    deadlineMs: 5_000,
    maxFailures: 10,
  });
  try {
    const contexts = new Contexts();
    for (let seq = 1; seq <= 3; seq++) {
      const context = contexts.next(seq);
      assert.equal((await host.evaluate(context)).actions[0]?.reason, expected(context));
    }
    assert.equal(host.status()[0]!.deltas, 2);
    // Kill the plugin process behind the host's back: the host sees a crash and restarts it.
    const pid = Number(
      new TextDecoder().decode(
        new Deno.Command("pgrep", {
          args: ["-P", String(Deno.pid), "-f", "serve-plugin|_plugin_process.ts"],
        })
          .outputSync().stdout,
      ).trim(),
    );
    assert.ok(pid > 0, "the plugin process was found");
    Deno.kill(pid, "SIGKILL");
    await waitFor(
      "the restart",
      () => host.status()[0]!.state === "ready" && host.status()[0]!.restarts === 1,
    );
    for (let seq = 4; seq <= 6; seq++) {
      const context = contexts.next(seq);
      const outcome = await host.evaluate(context);
      assert.deepEqual(outcome.errors, [], `seq ${seq}`);
      assert.equal(outcome.actions[0]?.reason, expected(context), `seq ${seq}`);
    }
    assert.equal(host.status()[0]!.deltas, 4, "seq 4 went whole to the new process");
  } finally {
    await host.close();
  }
});

Deno.test("plugin context: after a timeout the restarted process gets the whole context; a plugin that kept up gets deltas", async () => {
  const host = await PluginHost.start(
    [{ module: fixture }, { module: fixture, options: { hangAt: 3 } }],
    { deadlineMs: 1_500, maxFailures: 10 },
  );
  try {
    assert.deepEqual(host.loadErrors, []);
    const contexts = new Contexts();
    for (let seq = 1; seq <= 8; seq++) {
      const context = contexts.next(seq);
      const outcome = await host.evaluate(context);
      const reasons = outcome.actions.map((action) => action.reason);
      if (seq === 3) {
        assert.deepEqual(outcome.errors.map((error) => error.kind), ["timeout"]);
        assert.deepEqual(reasons, [expected(context)]);
        await waitFor("the restart", () => host.status()[1]!.state === "ready");
        continue;
      }
      assert.deepEqual(outcome.errors, [], `seq ${seq}`);
      assert.deepEqual(reasons, [expected(context), expected(context)], `seq ${seq}`);
    }
    const [steady, restarted] = host.status();
    assert.equal(steady!.deltas, 7, "every snapshot after the first");
    assert.equal(restarted!.timeouts, 1);
    // Whole: seq 1 and seq 4 (a new process); deltas: 2, 3 (unanswered) and 5 to 8.
    assert.equal(restarted!.deltas, 6);
    assert.equal(steady!.resyncs + restarted!.resyncs, 0);
  } finally {
    await host.close();
  }
});

Deno.test("plugin context: a process that cannot apply a delta gets the whole context for the same snapshot, and after 3 resyncs only whole contexts", async () => {
  const host = await PluginHost.start([{ module: fixture }], {
    deadlineMs: 5_000,
    command: {
      path: Deno.execPath(),
      args: ["run", "-A", fileURLToPath(new URL("./fixtures/resync_process.ts", import.meta.url))],
    },
  });
  try {
    assert.deepEqual(host.loadErrors, []);
    const contexts = new Contexts();
    for (let seq = 1; seq <= 6; seq++) {
      const outcome = await host.evaluate(contexts.next(seq));
      assert.deepEqual(outcome.errors, [], `seq ${seq}`);
      assert.deepEqual(outcome.actions.map((action) => action.reason), [
        `whole context, version ${seq}`,
      ]);
    }
    const status = host.status()[0]!;
    // Seq 2, 3 and 4 went as deltas first; after 3 resyncs only whole contexts are sent.
    assert.equal(status.deltas, 3);
    assert.equal(status.resyncs, 3);
    assert.equal(status.evaluations, 6);
  } finally {
    await host.close();
  }
});
