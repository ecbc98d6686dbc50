import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { pluginFolder } from "./_plugin_process.ts";
import { diffContext } from "./_context_delta.ts";
import { defaultPluginCommand } from "./plugins.ts";
import { sampleScenarios } from "./samples.ts";
import { parseRiskSettings } from "./settings.ts";
import type { RuleContext } from "./rule.ts";
import { evaluateSnapshot } from "../risk/engine.ts";
import { forEachLine } from "../shared/lines.ts";
import { canonical } from "../../tests/rules/fixtures/echo_context.ts";

const fixture = fileURLToPath(
  new URL("../../tests/rules/fixtures/echo_context.ts", import.meta.url),
);
const NOW = Date.parse("2026-11-24T12:00:00Z");

/** The context of a sample scenario. */
function scenario(name: string): RuleContext {
  const snapshot = sampleScenarios(NOW).find((item) => item.name === name)!.snapshot;
  return evaluateSnapshot({ snapshot, settings: parseRiskSettings({}), state: {}, now: NOW })
    .context;
}

/** What the plugin must see: the context as its whole JSON gives it. */
function expected(context: RuleContext): string {
  return canonical(JSON.parse(JSON.stringify(context)));
}

Deno.test("pluginFolder: the folder of the plugin file; a file system root is refused", () => {
  assert.equal(pluginFolder("file:///srv/rules/my_rule.ts"), "/srv/rules");
  assert.throws(
    () => pluginFolder("file:///my_rule.ts"),
    /a plugin must be in a folder of its own, not at the root \//,
  );
});

/**
 * A plugin process of the fixture, driven line by line as the host drives it; resolves with its
 * exit status once its stdin is closed.
 */
async function withProcess(
  run: (
    send: (line: string) => Promise<void>,
    reply: () => Promise<Record<string, unknown>>,
  ) => Promise<void>,
): Promise<Deno.CommandStatus> {
  const command = defaultPluginCommand();
  const child = new Deno.Command(command.path, {
    args: command.args,
    stdin: "piped",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const writer = child.stdin.getWriter();
  const replies: Record<string, unknown>[] = [];
  const waiting: ((reply: Record<string, unknown>) => void)[] = [];
  const reading = forEachLine(child.stdout, (line) => {
    const reply = JSON.parse(line) as Record<string, unknown>;
    const waiter = waiting.shift();
    if (waiter === undefined) replies.push(reply);
    else waiter(reply);
  }, { maxLineChars: 1 << 20 });
  const encoder = new TextEncoder();
  const send = (line: string) => writer.write(encoder.encode(`${line}\n`));
  const reply = () => {
    const ready = replies.shift();
    return ready === undefined
      ? new Promise<Record<string, unknown>>((resolve) => waiting.push(resolve))
      : Promise.resolve(ready);
  };
  try {
    await send(`load ${JSON.stringify({ url: new URL(`file://${fixture}`).href, options: null })}`);
    assert.equal((await reply()).type, "loaded");
    await run(send, reply);
  } finally {
    await writer.close().catch(() => {}); // already gone after a broken line
    await reading;
  }
  return await child.status;
}

Deno.test("plugin process: a delta from a context it does not hold is not evaluated: resync, and nothing kept", async () => {
  const first = scenario("calm");
  const second = scenario("losing_day");
  const delta = (base: number, body: unknown) =>
    `evaluate {"seq":9,"version":${base + 1},"base":${base},"delta":${JSON.stringify(body)}}`;
  await withProcess(async (send, reply) => {
    // Nothing held yet.
    await send(delta(4, {}));
    assert.deepEqual(await reply(), {
      type: "resync",
      seq: 9,
      message: "a delta from version 4, this holds none",
    });
    await send(`evaluate {"seq":10,"version":5,"context":${JSON.stringify(first)}}`);
    const answer = await reply();
    assert.equal(answer.type, "result");
    assert.equal((answer.actions as { reason: string }[])[0]!.reason, expected(first));
    // Another version than the one held.
    await send(delta(3, {}));
    assert.equal((await reply()).type, "resync");
    // The held version was dropped with the misfit: even the right base is refused now.
    await send(delta(5, {}));
    assert.deepEqual(await reply(), {
      type: "resync",
      seq: 9,
      message: "a delta from version 5, this holds none",
    });
    await send(`evaluate {"seq":11,"version":6,"context":${JSON.stringify(first)}}`);
    assert.equal((await reply()).type, "result");
    // A delta that does not fit the context held (a position it does not have).
    await send(delta(6, { snapshot: { positions: { r: [424242] } } }));
    const misfit = await reply();
    assert.equal(misfit.type, "resync");
    assert.match(String(misfit.message), /the delta does not fit the context: entry 424242/);
    // Whole again, then a delta that fits: evaluated on exactly the next context.
    await send(`evaluate {"seq":12,"version":7,"context":${JSON.stringify(first)}}`);
    assert.equal((await reply()).type, "result");
    const change = diffContext(JSON.parse(JSON.stringify(first)), second);
    await send(`evaluate {"seq":13,"version":8,"base":7,"delta":${JSON.stringify(change)}}`);
    const next = await reply();
    assert.equal(next.type, "result");
    assert.equal((next.actions as { reason: string }[])[0]!.reason, expected(second));
  });
});

Deno.test("plugin process: a line that is no message is ignored; one whose JSON is broken ends the process", async () => {
  const context = scenario("calm");
  const status = await withProcess(async (send, reply) => {
    await send("hello there");
    await send(`evaluate {"seq":1,"version":1,"context":${JSON.stringify(context)}}`);
    const answer = await reply();
    assert.equal(answer.type, "result", "the line before was ignored");
    await send(`evaluate {"seq":2,"version":2,"base":1,"delta":{"now":`);
  });
  assert.equal(status.success, false, "the process ended with an error (a crash to the host)");
});
