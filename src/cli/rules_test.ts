import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { runCli } from "./mod.ts";
import { fakeContext } from "../../tests/support/fake_cli.ts";
import { PluginHost } from "../rules/plugins.ts";
import { sampleScenarios } from "../rules/samples.ts";
import { DEFAULT_SETTINGS } from "../rules/settings.ts";
import { prepareContext } from "../risk/engine.ts";

const example = fileURLToPath(new URL("../../rules.example.ts", import.meta.url));

Deno.test("rules check runs the example plugin and prints its actions", async () => {
  const ctx = fakeContext();
  const code = await runCli([
    "rules",
    "check",
    example,
    "--now",
    "2026-11-24T13:20:00Z",
    "--hours",
    "1",
    "--options",
    '{"events":["08:30"]}',
  ], ctx);
  const out = ctx.out.join("");
  assert.equal(code, 0, ctx.err.join(""));
  assert.match(out, /^rule news_window: /);
  // 08:30 New York = 13:30 UTC: at 13:20 the fresh position (opened 13:19) is closed
  assert.match(
    out,
    /fresh_position\s*\n\s+lock until 2026-11-24T13:35Z: news at 2026-11-24 13:30 UTC/,
  );
  assert.match(out, /close_position 7001: position 7001 opened inside the window/);
  assert.match(out, /checked (\d+) of \1 snapshots: \d+ with actions, 0 errors/);
});

Deno.test("rules check fails with exit code 2 on a plugin that does not load or has bad options", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const broken = `${dir}/broken.ts`;
    await Deno.copyFile(
      fileURLToPath(new URL("../../tests/rules/fixtures/syntax_error.txt", import.meta.url)),
      broken,
    );
    let ctx = fakeContext();
    assert.equal(await runCli(["rules", "check", broken, "--hours", "0"], ctx), 2);
    assert.match(ctx.err.join(""), /broken\.ts:8:22: SyntaxError/);
    ctx = fakeContext();
    assert.equal(
      await runCli(["rules", "check", example, "--options", '{"events":["8h"]}'], ctx),
      2,
    );
    assert.match(ctx.err.join(""), /invalid options for rule news_window: invalid event time "8h"/);
    ctx = fakeContext();
    assert.equal(await runCli(["rules", "check", example, "--options", "{nope"], ctx), 2);
    assert.match(ctx.err.join(""), /--options is not valid JSON/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("rules serve-plugin is a working plugin process (the compiled executable's path)", async () => {
  const main = fileURLToPath(new URL("../../main.ts", import.meta.url));
  const host = await PluginHost.start([{ module: example, options: { events: ["08:30"] } }], {
    deadlineMs: 10_000,
    loadTimeoutMs: 30_000,
    command: { path: Deno.execPath(), args: ["run", "-A", main, "rules", "serve-plugin"] },
  });
  try {
    assert.deepEqual(host.loadErrors, []);
    const now = Date.parse("2026-11-24T13:20:00Z");
    const fresh = sampleScenarios(now).find((item) => item.name === "fresh_position")!;
    const { context } = prepareContext({
      snapshot: fresh.snapshot,
      settings: DEFAULT_SETTINGS,
      state: {},
      now,
    });
    const outcome = await host.evaluate(context);
    assert.deepEqual(outcome.actions.map((action) => action.type), [
      "lock",
      "close_position",
      "notify",
    ]);
  } finally {
    await host.close();
  }
});

Deno.test("rules check tells the truth about a plugin that hangs: timeouts, then nothing faked", async () => {
  const hangs = fileURLToPath(
    new URL("../../tests/rules/fixtures/never_returns.ts", import.meta.url),
  );
  const ctx = fakeContext();
  const code = await runCli(
    ["rules", "check", hangs, "--hours", "1", "--deadline", "200"],
    ctx,
  );
  const out = ctx.out.join("");
  assert.equal(code, 2, out);
  // 8 scenarios + 13 sweep snapshots; 3 timeouts in a row suspend the plugin
  assert.match(out, /^\s+flat\s+failed \(see above\)$/m);
  assert.match(out, /^\s+winning_day\s+not evaluated$/m);
  assert.doesNotMatch(out, /no actions/, "a snapshot never evaluated is not 'no actions'");
  assert.match(out, /13 of 13 sweep snapshots not evaluated/);
  assert.match(
    out,
    /checked 3 of 21 snapshots: 0 with actions, 3 errors \(3 timeouts\), 18 not evaluated \(stopped: plugin suspended/,
  );
  assert.doesNotMatch(out, /slowest answer/, "a timeout is no answer");
  assert.match(ctx.err.join(""), /failed on 3 of 3 snapshots evaluated, 18 not evaluated/);
});

Deno.test("rules check reports the slowest answer against the risk process's 50 ms", async () => {
  const ctx = fakeContext();
  const code = await runCli(["rules", "check", example, "--hours", "0"], ctx);
  const out = ctx.out.join("");
  assert.equal(code, 0, ctx.err.join(""));
  assert.match(out, /checked 8 of 8 snapshots: \d+ with actions, 0 errors \(0 timeouts\)$/m);
  assert.match(
    out,
    /slowest answer \d+ ms \(deadline here 1000 ms; the risk process allows 50 ms per snapshot/,
  );
});
