/**
 * Rule evaluation benchmark: one snapshot with 200 positions, 10 rules (9 built-ins + the
 * example plugin in its own process). Prints p50/p99 per snapshot and snapshots per second,
 * next to the targets (built-ins p99 < 1 ms; plugin round trip p99 < 0.5 ms, issue 16).
 *
 * Figures: the built-ins (synchronous, on the enforcement path: what delays a command); the
 * full round including the plugin (the context sent to its process as a delta from the one
 * before, answered, merged); the bare-echo floor (a process started like a plugin process that
 * echoes a line of the whole context's size: the floor of any pipe round trip; and the same
 * with a short answer, the traffic of a real round trip); and where the rest goes (the JSON,
 * the delta and the plugin's own work, timed in this process).
 *
 * The synthetic snapshots move every position's price and profit each time: the worst case for
 * a delta, and the row judged against the target. A second row ("one symbol ticks") moves the
 * prices of one symbol only, a third of the positions, as a live account mostly does.
 *
 * Run: `deno run -A bench/rules.ts` (it runs itself again with the risk process's V8 flags).
 *
 * @module
 */
import { fileURLToPath } from "node:url";
import { createRuleInput } from "../src/rules/helpers.ts";
import {
  applyDelta,
  cloneJson,
  diffContext,
  type JsonObject,
} from "../src/rules/_context_delta.ts";
import { defaultPluginCommand, PluginHost } from "../src/rules/plugins.ts";
import { forEachLine } from "../src/shared/lines.ts";
import { v8FlagsArgument } from "../src/shared/v8_flags.ts";
import newsWindow from "../rules.example.ts";
import { samplePosition, sampleSnapshot } from "../src/rules/samples.ts";
import { parseRiskSettings } from "../src/rules/settings.ts";
import { type EngineState, evaluateSnapshot, mergeLateActions } from "../src/risk/engine.ts";
import { builtinRules } from "../src/rules/builtin/mod.ts";
import { percentile, timeEach } from "./_timing.ts";

const AS_RISK_PROCESS = "--as-risk-process";
// The host side of the round trip is a risk process's work: measured under the V8 flags a risk
// process runs with (bench/mod.ts and bench/fleet.ts start this file with none).
if (!Deno.args.includes(AS_RISK_PROCESS)) {
  const self = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", v8FlagsArgument(), fileURLToPath(import.meta.url), AS_RISK_PROCESS],
    stdout: "inherit",
    stderr: "inherit",
  });
  Deno.exit((await self.output()).code);
}

const POSITIONS = 200;
/**
 * Rounds run before any is timed: a risk process runs for days, and its figures are those of its
 * code once V8 has compiled it. 300 left the JIT's tier-ups in the first few hundred timed
 * rounds of a plugin round trip (half of its slowest 1 % were in the first 250 of 2,000).
 */
const WARMUP = 3_000;
const BUILTIN_RUNS = 20_000;
const PLUGIN_RUNS = 5_000;
const START = Date.parse("2026-11-24T10:00:00Z");

const settings = parseRiskSettings({
  max_daily_loss: "5%",
  max_position_risk: 2_000,
  max_profit: "10%",
  max_drawdown: { limit: "10%", mode: "trailing_equity", stop_at_initial: true },
  warn_at: [0.5, 0.8],
  require_stop_loss: true,
  max_open_positions: 500,
  max_total_lots: 1_000,
  max_lots_per_symbol: 500,
  trading_hours: { start: "00:00", end: "23:59" },
  initial_balance: 100_000,
});
const ruleCount = builtinRules(settings).length + 1;

/**
 * Snapshot `i`: every position's price and profit move (`moving: "all"`), or only those of
 * XAUUSD, a third of the positions (`"one symbol"`).
 */
function snapshot(i: number, moving: "all" | "one symbol" = "all") {
  const utc = START + i * 250;
  const opened = START + 7_200_000;
  const positions = Array.from({ length: POSITIONS }, (_, k) => {
    const tick = moving === "all" || k % 3 === 0 ? i : 0;
    return samplePosition({
      ticket: 10_000 + k,
      symbol: k % 3 === 0 ? "XAUUSD" : "EURUSD",
      side: k % 2 === 0 ? "buy" : "sell",
      volume: 0.1 + (k % 5) * 0.1,
      open_price: k % 3 === 0 ? 2_000 : 1.1,
      price: k % 3 === 0 ? 2_000 + Math.sin(tick + k) : 1.1 + Math.sin(tick + k) / 1_000,
      sl: k % 3 === 0 ? (k % 2 === 0 ? 1_990 : 2_010) : (k % 2 === 0 ? 1.095 : 1.105),
      profit: Math.sin(tick + k) * 20,
      swap: -0.5,
      commission: -1,
      open_time: opened - (POSITIONS - k) * 60_000,
    });
  });
  return sampleSnapshot({ utc, balance: 100_000, positions, seq: i + 1 });
}

/** Prints p50/p99 of `samples`; `valid` false says they are not what the name says. */
function report(
  name: string,
  samples: number[],
  wallMs: number,
  targetP99?: number,
  valid = true,
) {
  const sorted = [...samples].sort((a, b) => a - b);
  const p50 = percentile(sorted, 0.5);
  const p99 = percentile(sorted, 0.99);
  const rate = samples.length / (wallMs / 1000);
  const target = targetP99 === undefined
    ? "(no target)"
    : `(target p99 < ${targetP99} ms: ${p99 < targetP99 && valid ? "ok" : "MISSED"})`;
  console.log(
    `${name.padEnd(38)} p50 ${p50.toFixed(3)} ms  p99 ${p99.toFixed(3)} ms ${target}  ` +
      `${Math.round(rate).toLocaleString("en-US")} snapshots/s`,
  );
}

/** p50 and p99 of `run` called `count` times (after as many warm-up calls), in ms. */
function timed(count: number, run: (i: number) => unknown): string {
  const { p50, p99 } = timeEach(count, count, run);
  return `p50 ${p50.toFixed(3)} ms  p99 ${p99.toFixed(3)} ms`;
}

/**
 * The floor: round trips of `line` through a process started like a plugin process that echoes
 * it (`_echo_process.ts`), written and read as the plugin host does. Returns the timed rounds
 * and their wall time (from the first timed round: not the start or the warm-up).
 */
async function echoFloor(
  line: string,
  runs: number,
  short: boolean,
): Promise<{ samples: number[]; wallMs: number }> {
  const plugin = defaultPluginCommand();
  const args = plugin.args.map((arg) =>
    arg.endsWith("_plugin_process.ts")
      ? fileURLToPath(new URL("./_echo_process.ts", import.meta.url))
      : arg
  );
  if (short) args.push("--short");
  const child = new Deno.Command(plugin.path, { args, stdin: "piped", stdout: "piped" }).spawn();
  const writer = child.stdin.getWriter();
  let echoed: () => void = () => {};
  const reading = forEachLine(child.stdout, () => echoed(), { maxLineChars: 1 << 20 });
  const encoder = new TextEncoder();
  const samples: number[] = [];
  let timedFrom = 0;
  let timedTo = 0;
  try {
    for (let i = 0; i < WARMUP + runs; i++) {
      const t0 = performance.now();
      if (i === WARMUP) timedFrom = t0;
      const back = new Promise<void>((resolve) => echoed = resolve);
      await writer.write(encoder.encode(`${line}\n`));
      await back;
      if (i >= WARMUP) samples.push(performance.now() - t0);
    }
    timedTo = performance.now();
  } finally {
    await writer.close();
    await Promise.all([reading, child.status]);
  }
  return { samples, wallMs: timedTo - timedFrom };
}

const inputs = Array.from({ length: 64 }, (_, i) => snapshot(i));
console.log(
  `rules benchmark: ${POSITIONS} positions, ${ruleCount} rules (${ruleCount - 1} built-ins + ` +
    `1 plugin), Deno ${Deno.version.deno}`,
);

// Built-ins only: the synchronous enforcement path.
let state: EngineState = {};
for (let i = 0; i < WARMUP; i++) {
  state = evaluateSnapshot({ snapshot: inputs[i % 64]!, settings, state, now: START }).state;
}
const builtinSamples: number[] = [];
const started = performance.now();
for (let i = 0; i < BUILTIN_RUNS; i++) {
  const input = inputs[i % inputs.length]!;
  const t0 = performance.now();
  state = evaluateSnapshot({ snapshot: input, settings, state, now: input.utc_time }).state;
  builtinSamples.push(performance.now() - t0);
}
report("built-ins (enforcement path)", builtinSamples, performance.now() - started, 1);

// Full round with the plugin in its process.
const example = fileURLToPath(new URL("../rules.example.ts", import.meta.url));

/** Rounds of the built-ins and the plugin on `snapshots`; reported as `name`. */
async function roundTrip(name: string, snapshots: typeof inputs, targetP99?: number) {
  const host = await PluginHost.start([{ module: example, options: { events: ["05:00"] } }], {
    deadlineMs: 1_000,
  });
  if (host.loadErrors.length > 0) throw new Error(JSON.stringify(host.loadErrors));
  try {
    for (let i = 0; i < WARMUP; i++) {
      const input = snapshots[i % snapshots.length]!;
      const evaluation = evaluateSnapshot({ snapshot: input, settings, state, now: START });
      await host.evaluate(evaluation.context);
    }
    const samples: number[] = [];
    let timeouts = 0;
    /** Rounds the plugin did not answer (skipped while busy, failed): no round trip. */
    let unanswered = 0;
    const started = performance.now();
    for (let i = 0; i < PLUGIN_RUNS; i++) {
      const input = snapshots[i % snapshots.length]!;
      const t0 = performance.now();
      const evaluation = evaluateSnapshot({
        snapshot: input,
        settings,
        state,
        now: input.utc_time,
      });
      const outcome = await host.evaluate(evaluation.context);
      mergeLateActions(outcome.actions, evaluation.state.notified, evaluation.state.day.date);
      samples.push(performance.now() - t0);
      timeouts += outcome.errors.filter((error) => error.kind === "timeout").length;
      if (outcome.skipped.length > 0 || outcome.errors.length > 0) unanswered++;
      state = evaluation.state;
    }
    report(name, samples, performance.now() - started, targetP99, unanswered === 0);
    if (unanswered > 0) {
      console.log(
        `  NOT A ROUND TRIP: the plugin answered ${PLUGIN_RUNS - unanswered} of ${PLUGIN_RUNS} ` +
          `snapshots (the others were skipped or failed)`,
      );
    }
    const status = host.status()[0]!;
    console.log(
      `  plugin timeouts: ${timeouts}; sent as a delta: ${status.deltas} of ` +
        `${status.evaluations + status.timeouts + status.errors} (resyncs ${status.resyncs})`,
    );
  } finally {
    await host.close();
  }
}

await roundTrip("built-ins + plugin round trip", inputs, 0.5);
const oneSymbol = Array.from({ length: 64 }, (_, i) => snapshot(i, "one symbol"));
await roundTrip("  the same, one symbol ticks", oneSymbol);

// The floor and where the rest of a round trip goes.
const contexts = inputs.map((input) =>
  evaluateSnapshot({ snapshot: input, settings, state, now: input.utc_time }).context
);
const lines = contexts.map((context, seq) => `evaluate ${JSON.stringify({ seq, context })}`);
const floor = await echoFloor(lines[0]!, PLUGIN_RUNS, false);
report("bare-echo floor (same line, same pipe)", floor.samples, floor.wallMs);
const short = await echoFloor(lines[0]!, PLUGIN_RUNS, true);
report("  the line in, a short answer out", short.samples, short.wallMs);
/** The delta lines of `snapshots`, each from the one before (the first from the last). */
function deltaLines(snapshots: typeof inputs): string[] {
  const all = snapshots.map((input) =>
    evaluateSnapshot({ snapshot: input, settings, state, now: input.utc_time }).context
  );
  const base = JSON.parse(JSON.stringify(all.at(-1))) as JsonObject;
  return all.map((context, seq) => {
    const delta = diffContext(base, context);
    applyDelta(base, delta);
    return `evaluate {"seq":${seq},"version":${seq + 1},"base":${seq},"delta":${
      JSON.stringify(delta)
    }}`;
  });
}
const deltas = deltaLines(inputs);
const average = (list: string[]) =>
  Math.round(list.reduce((sum, line) => sum + line.length, 0) / list.length)
    .toLocaleString("en-US");
console.log(
  `  one evaluate line: ${lines[0]!.length.toLocaleString("en-US")} bytes of JSON whole, ` +
    `${average(deltas)} as a delta (every price moves), ${
      average(deltaLines(oneSymbol))
    } (one symbol ticks)`,
);
const encoder = new TextEncoder();
console.log(
  `  host: context to a line      ${
    timed(PLUGIN_RUNS, (i) =>
      encoder.encode(`evaluate ${JSON.stringify({ seq: i, context: contexts[i % 64] })}\n`))
  }`,
);
const hostBase = JSON.parse(JSON.stringify(contexts.at(-1))) as JsonObject;
console.log(
  `  host: context to a delta     ${
    timed(PLUGIN_RUNS, (i) => {
      const delta = diffContext(hostBase, contexts[i % 64]);
      const line = encoder.encode(`evaluate {"seq":${i},"delta":${JSON.stringify(delta)}}\n`);
      applyDelta(hostBase, delta);
      return line;
    })
  }`,
);
const decoder = new TextDecoder();
const bytes = lines.map((line) => encoder.encode(line));
console.log(
  `  sandbox: line to a context   ${
    timed(PLUGIN_RUNS, (i) => JSON.parse(decoder.decode(bytes[i % 64]!).slice(9)))
  }`,
);
const deltaBytes = deltas.map((line) => encoder.encode(line));
// The sandbox's copy runs through the deltas in order (timeEach calls 0, 1, ... twice over).
let held = JSON.parse(JSON.stringify(contexts.at(-1))) as JsonObject;
console.log(
  `  sandbox: delta to a context  ${
    timed(PLUGIN_RUNS, (i) => {
      if (i === 0) held = JSON.parse(JSON.stringify(contexts.at(-1))) as JsonObject;
      const message = JSON.parse(decoder.decode(deltaBytes[i % 64]!).slice(9));
      return cloneJson(applyDelta(held, message.delta));
    })
  }  (parse, apply, and the plugin's own copy)`,
);
const options = newsWindow.parseOptions!({ events: ["05:00"] });
const parsed = lines.map((line) => JSON.parse(line.slice(9)).context);
console.log(
  `  sandbox: the plugin itself   ${
    timed(PLUGIN_RUNS, (i) => newsWindow.evaluate(createRuleInput(parsed[i % 64], options)))
  }`,
);
