/**
 * Plugin isolation: a plugin that throws, one that never returns, one with a syntax error,
 * bad output and bad shapes. Built-in enforcement continues in every case.
 */
import assert from "node:assert/strict";
import { fileURLToPath as fromFileUrl } from "node:url";
import { ManualClock } from "../../src/shared/clock.ts";
import { defaultPluginCommand, PluginHost, type PluginSpec } from "../../src/rules/plugins.ts";
import { sampleScenarios } from "../../src/rules/samples.ts";
import { evaluateSnapshot } from "../../src/risk/engine.ts";
import { settings } from "./_support.ts";

const fixture = (name: string) => fromFileUrl(new URL(`./fixtures/${name}`, import.meta.url));
const NOW = Date.parse("2026-11-24T12:00:00Z");
const losingDay = sampleScenarios(NOW).find((item) => item.name === "losing_day")!.snapshot;
const manyPositions = sampleScenarios(NOW).find((item) => item.name === "many_positions")!
  .snapshot;

/** Built-ins (daily loss 500) on the losing day: they must always lock and close. */
function builtins(snapshot = losingDay) {
  return evaluateSnapshot({
    snapshot,
    settings: settings({ max_daily_loss: { kind: "money", value: 500 } }),
    state: {},
    now: NOW,
  });
}

async function withHost(
  specs: PluginSpec[],
  options: Parameters<typeof PluginHost.start>[1],
  body: (host: PluginHost) => Promise<void> | void,
): Promise<void> {
  const host = await PluginHost.start(specs, options);
  try {
    await body(host);
  } finally {
    await host.close();
  }
}

Deno.test("a plugin that throws is reported with its line; other plugins and built-ins go on", async () => {
  await withHost(
    [{ module: fixture("throws.ts") }, {
      module: fixture("close_biggest.ts"),
      options: { max: 2 },
    }],
    { deadlineMs: 5_000 },
    async (host) => {
      assert.deepEqual(host.loadErrors, []);
      const evaluation = builtins(manyPositions);
      const outcome = await host.evaluate(evaluation.context);
      assert.equal(outcome.errors.length, 1);
      assert.equal(outcome.errors[0]!.rule, "always_throws");
      assert.equal(outcome.errors[0]!.kind, "threw");
      assert.equal(outcome.errors[0]!.message, "boom from a fixture");
      assert.equal(outcome.errors[0]!.line, 12);
      // the other plugin answered: the largest of the 12 positions (2 lots, ticket 6001)
      assert.deepEqual(
        outcome.actions.map((
          action,
        ) => [action.rule, action.type, "ticket" in action && action.ticket]),
        [["close_biggest", "close_position", 6001]],
      );
      assert.equal(host.status()[0]!.errors, 1);
      // built-ins on the losing day are unaffected
      assert.deepEqual(builtins().actions.map((action) => action.type).slice(0, 3), [
        "lock",
        "cancel_orders",
        "close_all",
      ]);
    },
  );
});

Deno.test("a plugin that throws on every snapshot is suspended with backoff like one that hangs", async () => {
  const clock = new ManualClock(NOW);
  await withHost(
    [{ module: fixture("throws.ts") }],
    { deadlineMs: 5_000, maxFailures: 3, backoffMs: 1_000, clock },
    async (host) => {
      const context = builtins().context;
      const errors: string[] = [];
      for (let i = 0; i < 3; i++) {
        const outcome = await host.evaluate(context);
        errors.push(...outcome.errors.map((error) => `${error.kind} ${error.line}`));
        if (i === 2) {
          assert.match(
            outcome.errors[0]!.message,
            /^boom from a fixture \(suspended for 1000 ms after 3 failures in a row\)$/,
          );
        }
      }
      assert.deepEqual(errors, ["threw 12", "threw 12", "threw 12"]);
      assert.equal(host.status()[0]!.state, "suspended");
      // Suspended: ten more snapshots bring no error (no event, no webhook), only skips.
      for (let i = 0; i < 10; i++) {
        const outcome = await host.evaluate(context);
        assert.deepEqual(outcome.errors, []);
        assert.deepEqual(outcome.skipped, [{ rule: "always_throws", reason: "suspended" }]);
      }
      clock.advance(1_000);
      assert.deepEqual((await host.evaluate(context)).skipped[0]?.reason, "restarting");
      await waitFor(() => host.status()[0]!.state === "ready");
      // Back after the suspension, it throws again: suspended at once, for twice as long.
      const again = await host.evaluate(context);
      assert.match(again.errors[0]!.message, /suspended for 2000 ms after 4 failures in a row/);
      assert.equal(host.status()[0]!.errors, 4);
    },
  );
});

async function waitFor(condition: () => boolean): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("timed out waiting for the plugin to reload");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

Deno.test("a plugin that never returns is killed at the deadline and restarted; others answer", async () => {
  await withHost(
    [{ module: fixture("never_returns.ts") }, {
      module: fixture("close_biggest.ts"),
      options: { max: 2 },
    }],
    { deadlineMs: 1_000, maxFailures: 5 },
    async (host) => {
      assert.deepEqual(host.loadErrors, []);
      const evaluation = builtins(manyPositions);
      const outcome = await host.evaluate(evaluation.context);
      assert.deepEqual(outcome.errors.map((error) => [error.rule, error.kind]), [[
        "never_returns",
        "timeout",
      ]]);
      assert.deepEqual(outcome.actions.map((action) => action.rule), ["close_biggest"]);
      const status = host.status()[0]!;
      assert.equal(status.timeouts, 1);
      assert.equal(status.restarts, 1);
      // while it restarts, it is skipped rather than waited for
      const next = await host.evaluate(evaluation.context);
      assert.ok(
        next.skipped.some((item) => item.rule === "never_returns") ||
          next.errors.some((error) => error.rule === "never_returns" && error.kind === "timeout"),
      );
      // the built-ins never waited for it
      assert.equal(builtins().actions[0]!.type, "lock");
    },
  );
});

Deno.test("a plugin that keeps failing is suspended, then retried after the backoff", async () => {
  const clock = new ManualClock(NOW);
  await withHost(
    [{ module: fixture("never_returns.ts") }],
    { deadlineMs: 200, maxFailures: 1, backoffMs: 60_000, clock },
    async (host) => {
      const context = builtins().context;
      const first = await host.evaluate(context);
      assert.equal(first.errors[0]?.kind, "timeout");
      assert.equal(host.status()[0]!.state, "suspended");
      const skipped = await host.evaluate(context);
      assert.deepEqual(skipped.skipped, [{ rule: "never_returns", reason: "suspended" }]);
      clock.advance(60_000);
      const retried = await host.evaluate(context);
      assert.deepEqual(retried.skipped, [{ rule: "never_returns", reason: "restarting" }]);
      assert.equal(host.status()[0]!.restarts, 1);
    },
  );
});

Deno.test("a plugin with a syntax error is reported with file, line and message; others load", async () => {
  const dir = await Deno.makeTempDir();
  const broken = `${dir}/syntax_error.ts`;
  await Deno.copyFile(fixture("syntax_error.txt"), broken);
  try {
    await withHost(
      [{ module: broken }, { module: fixture("close_biggest.ts") }],
      { deadlineMs: 5_000 },
      async (host) => {
        assert.equal(host.loadErrors.length, 1);
        const error = host.loadErrors[0]!;
        assert.equal(error.file, broken);
        assert.equal(error.line, 8);
        assert.match(error.message, /SyntaxError: Expected ',', got 'evaluate'/);
        assert.deepEqual(host.rules.map((rule) => rule.id), ["close_biggest"]);
        const outcome = await host.evaluate(builtins(manyPositions).context);
        assert.equal(outcome.actions.length, 1);
        assert.equal(outcome.skipped[0]?.reason, "failed");
        assert.equal(builtins().actions[0]!.type, "lock");
      },
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("bad shapes, bad options and missing files are load errors", async () => {
  await withHost(
    [
      { module: fixture("no_default.ts") },
      { module: fixture("missing.ts") },
      { module: fixture("close_biggest.ts"), options: { max: -1 } },
    ],
    { deadlineMs: 5_000 },
    (host) => {
      const messages = host.loadErrors.map((error) => error.message);
      assert.equal(messages.length, 3);
      assert.match(messages[0]!, /no default export/);
      assert.equal(messages[1], "file not found");
      assert.match(
        messages[2]!,
        /invalid options for rule close_biggest: max must be a non-negative integer, got -1/,
      );
      assert.deepEqual(host.rules, []);
    },
  );
});

Deno.test("invalid actions from a plugin are dropped and reported; valid ones kept", async () => {
  await withHost([{ module: fixture("bad_actions.ts") }], { deadlineMs: 5_000 }, async (host) => {
    const outcome = await host.evaluate(builtins().context);
    assert.deepEqual(outcome.actions, [
      { type: "notify", rule: "bad_actions", reason: "valid", level: "info" },
    ]);
    assert.equal(outcome.errors[0]?.kind, "invalid_actions");
    assert.match(outcome.errors[0]!.message, /action 1: unknown action type "explode"/);
  });
});

Deno.test("the example plugin closes positions opened inside the news window", async () => {
  const example = fromFileUrl(new URL("../../rules.example.ts", import.meta.url));
  await withHost(
    [{ module: example, options: { events: ["2026-11-24T12:10:00Z"] } }],
    { deadlineMs: 5_000 },
    async (host) => {
      const fresh = sampleScenarios(NOW).find((item) => item.name === "fresh_position")!;
      const outcome = await host.evaluate(
        evaluateSnapshot({ snapshot: fresh.snapshot, settings: settings(), state: {}, now: NOW })
          .context,
      );
      assert.deepEqual(outcome.errors, []);
      assert.deepEqual(
        outcome.actions.map((action) => [action.type, action.type === "lock" ? action.until : 0]),
        [["lock", Date.parse("2026-11-24T12:15:00Z")], ["close_position", 0], ["notify", 0]],
      );
    },
  );
});

Deno.test("a plugin process never inherits riskguard's secrets, even with env access", async () => {
  Deno.env.set("RISKGUARD_SECRET_KEY", "the-secret-key-value");
  try {
    // As inside the compiled executable, where the plugin process has every permission.
    const command = defaultPluginCommand();
    const allowEnv = {
      path: command.path,
      args: [
        "run",
        "--no-config",
        "--unstable-worker-options",
        "-A",
        ...command.args.slice(command.args.findIndex((arg) => arg.endsWith("_plugin_process.ts"))),
      ],
    };
    await withHost(
      [{ module: fixture("reads_env.ts") }],
      { deadlineMs: 5_000, command: allowEnv },
      async (host) => {
        assert.deepEqual(host.loadErrors, []);
        const outcome = await host.evaluate(builtins(losingDay).context);
        assert.deepEqual(outcome.errors, []);
        // The sandbox denies the environment; the cleared environment would hold nothing anyway.
        assert.deepEqual(outcome.actions.map((a) => a.reason), [
          "secret key: (denied: NotCapable)",
        ]);
      },
    );
  } finally {
    Deno.env.delete("RISKGUARD_SECRET_KEY");
  }
});
