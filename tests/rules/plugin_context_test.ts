/**
 * The plugin round trip sends each snapshot's whole context on one line (issue 16): what a
 * plugin sees must be exactly the context of each snapshot, also when positions open and close,
 * when the plugin wrecks its own input, after it throws, and after its process restarts.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { PluginHost } from "../../src/rules/plugins.ts";
import { samplePosition, sampleSnapshot } from "../../src/rules/samples.ts";
import { type EngineState, evaluateSnapshot } from "../../src/risk/engine.ts";
import type { RuleContext } from "../../src/rules/rule.ts";
import { settings } from "./_support.ts";
import { digest } from "./fixtures/mutates_input.ts";

const fixture = fileURLToPath(new URL("./fixtures/mutates_input.ts", import.meta.url));
const START = Date.parse("2026-11-24T10:00:00Z");

/** Snapshot `seq`: positions come and go, prices move. */
function context(seq: number, state: EngineState): { context: RuleContext; state: EngineState } {
  const tickets = [1, 2, 3, 4, 5, 6].filter((ticket) => (ticket + seq) % 4 !== 0);
  if (seq % 5 === 0) tickets.push(100 + seq);
  const positions = tickets.map((ticket) =>
    samplePosition({ ticket, price: 1.1 + seq / 1_000 + ticket / 100_000, profit: seq - ticket })
  );
  const snapshot = sampleSnapshot({ utc: START + seq * 250, seq, balance: 10_000, positions });
  const evaluation = evaluateSnapshot({
    snapshot,
    settings: settings(),
    state,
    now: snapshot.utc_time,
  });
  return { context: evaluation.context, state: evaluation.state };
}

Deno.test("plugin context: each snapshot arrives whole, whatever the plugin did to the one before", async () => {
  const host = await PluginHost.start([{ module: fixture }], { deadlineMs: 5_000 });
  try {
    assert.deepEqual(host.loadErrors, []);
    let state: EngineState = {};
    let answered = 0;
    for (let seq = 1; seq <= 12; seq++) {
      const next = context(seq, state);
      state = next.state;
      const outcome = await host.evaluate(next.context);
      if (seq === 3) {
        assert.equal(outcome.errors[0]?.message, "seq 3 throws");
        continue;
      }
      assert.deepEqual(outcome.errors, [], `seq ${seq}`);
      assert.equal(outcome.actions.length, 1, `seq ${seq}`);
      assert.equal(outcome.actions[0]!.reason, digest(next.context), `seq ${seq}`);
      answered++;
    }
    assert.equal(answered, 11);
  } finally {
    await host.close();
  }
});

Deno.test("plugin context: a restarted plugin process gets the whole context", async () => {
  const host = await PluginHost.start([{ module: fixture }], {
    deadlineMs: 5_000,
    maxFailures: 10,
  });
  try {
    let state: EngineState = {};
    const first = context(1, state);
    state = first.state;
    assert.equal((await host.evaluate(first.context)).actions[0]?.reason, digest(first.context));
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
    const deadline = Date.now() + 10_000;
    while (host.status()[0]!.state !== "ready" || host.status()[0]!.restarts === 0) {
      assert.ok(Date.now() < deadline, `not restarted: ${JSON.stringify(host.status())}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const second = context(2, state);
    const outcome = await host.evaluate(second.context);
    assert.deepEqual(outcome.errors, []);
    assert.equal(outcome.actions[0]?.reason, digest(second.context));
  } finally {
    await host.close();
  }
});

Deno.test("plugin context: every plugin gets the same whole context (stringified once for all)", async () => {
  const host = await PluginHost.start([{ module: fixture }, { module: fixture }], {
    deadlineMs: 5_000,
  });
  try {
    assert.deepEqual(host.loadErrors, []);
    let state: EngineState = {};
    for (let seq = 4; seq <= 6; seq++) {
      const next = context(seq, state);
      state = next.state;
      const outcome = await host.evaluate(next.context);
      assert.deepEqual(outcome.errors, [], `seq ${seq}`);
      assert.deepEqual(
        outcome.actions.map((action) => action.reason),
        [digest(next.context), digest(next.context)],
        `seq ${seq}`,
      );
    }
  } finally {
    await host.close();
  }
});
