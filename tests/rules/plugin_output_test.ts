/**
 * Review of issues 9/11, F9: what a plugin writes cannot freeze or flood the risk process. An
 * answer line over MAX_REPLY_CHARS kills the plugin process (counted and reported like a crash);
 * console output is logged at most 20 lines per 10 s, the rest counted.
 */
import assert from "node:assert/strict";
import { MAX_REPLY_CHARS, PluginHost } from "../../src/rules/plugins.ts";
import { sampleScenarios } from "../../src/rules/samples.ts";
import { evaluateSnapshot } from "../../src/risk/engine.ts";
import { collectLogs } from "../../src/shared/logging.ts";
import { settings } from "./_support.ts";

const NOW = Date.parse("2026-11-24T12:00:00Z");
const snapshot = sampleScenarios(NOW).find((item) => item.name === "losing_day")!.snapshot;
const context = evaluateSnapshot({ snapshot, settings: settings({}), state: {}, now: NOW }).context;

Deno.test("a plugin answering with a 3 MB line is killed, counted and reported", async () => {
  const dir = await Deno.makeTempDir();
  const file = `${dir}/bigline.ts`;
  await Deno.writeTextFile(
    file,
    `const big = "x".repeat(3_000_000);
    export default { id: "bigline", evaluate: () => [{ type: "notify", level: "info", reason: big }] };\n`,
  );
  const host = await PluginHost.start([{ module: file }], { deadlineMs: 10_000 });
  try {
    assert.deepEqual(host.loadErrors, []);
    const outcome = await host.evaluate(context);
    assert.deepEqual(outcome.actions, []);
    assert.equal(outcome.errors.length, 1);
    assert.equal(outcome.errors[0]!.kind, "crashed");
    assert.match(
      outcome.errors[0]!.message,
      new RegExp(`^wrote an answer line of more than ${MAX_REPLY_CHARS} characters`),
    );
    const status = host.status()[0]!;
    assert.equal(status.oversized, 1);
    assert.equal(status.crashes, 1);
    assert.equal(status.restarts, 1, "restarted like after a crash");
  } finally {
    await host.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a plugin printing 2,000 lines gets 20 logged and one line counting the rest", async () => {
  const collector = collectLogs({ category: ["rules"], level: "info" });
  const records = collector.records;
  const dir = await Deno.makeTempDir();
  const file = `${dir}/chatty.ts`;
  await Deno.writeTextFile(
    file,
    `for (let i = 0; i < 2_000; i++) console.log("line " + i + " " + "z".repeat(5_000));
    export default { id: "chatty", evaluate: () => [] };\n`,
  );
  try {
    const host = await PluginHost.start([{ module: file }], { deadlineMs: 10_000 });
    assert.deepEqual(host.loadErrors, []);
    await host.close(); // the stderr reader ends with the process: the count is reported
    const lines = records.filter((r) => r.properties.name === file && r.level === "info");
    assert.equal(lines.length, 20);
    assert.ok(
      lines.every((r) => String(r.properties.line).length <= 1_100),
      "long lines are cut",
    );
    const held = records.filter((r) => r.level === "warning" && r.properties.name === file);
    assert.equal(held.length, 1);
    const total = lines.length + Number(held[0]!.properties.count);
    assert.ok(total > 20 && total <= 2_000, `${total} lines seen`);
  } finally {
    collector.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
