import assert from "node:assert/strict";
import { ManualClock } from "./clock.ts";
import { type RunContext, supervise, type SuperviseEvent } from "./supervise.ts";

/** A supervisor whose waits move a manual clock instead of sleeping. */
function harness(codes: (number | Error)[], runMs = 1_000) {
  const clock = new ManualClock(0);
  const waits: number[] = [];
  const events: SuperviseEvent[] = [];
  const controller = new AbortController();
  let runs = 0;
  const run = (context: RunContext) => {
    runs++;
    assert.equal(context.attempt, runs);
    clock.advance(runMs);
    const next = codes.shift();
    if (next === undefined) {
      controller.abort();
      return Promise.resolve(0);
    }
    return next instanceof Error ? Promise.reject(next) : Promise.resolve(next);
  };
  const sleep = (ms: number) => {
    waits.push(ms);
    clock.advance(ms);
    return Promise.resolve();
  };
  return { clock, waits, events, controller, run, sleep, runs: () => runs };
}

Deno.test("supervise restarts crashes with doubling delays and stops on exit 0", async () => {
  const h = harness([1, 1, new Error("boom"), 1, 0]);
  const result = await supervise({
    run: h.run,
    signal: h.controller.signal,
    clock: h.clock,
    sleep: h.sleep,
    onEvent: (event) => h.events.push(event),
  });
  assert.deepEqual(result, { reason: "not_restarted", outcome: { kind: "exit", code: 0 } });
  assert.deepEqual(h.waits, [1_000, 2_000, 4_000, 8_000]);
  assert.equal(h.runs(), 5);
  assert.deepEqual(h.events.map((e) => e.type === "ended" ? e.restartInMs : e.type), [
    1_000,
    2_000,
    4_000,
    8_000,
    null,
  ]);
});

Deno.test("supervise never restarts exit code 2", async () => {
  const h = harness([2, 1]);
  const result = await supervise({ run: h.run, signal: h.controller.signal, sleep: h.sleep });
  assert.deepEqual(result, { reason: "not_restarted", outcome: { kind: "exit", code: 2 } });
  assert.equal(h.runs(), 1);
  assert.deepEqual(h.waits, []);
});

Deno.test("supervise gives up after maxCrashes within the window", async () => {
  const h = harness([1, 1, 1, 1, 1, 1, 1]);
  const result = await supervise({
    run: h.run,
    signal: h.controller.signal,
    clock: h.clock,
    sleep: h.sleep,
    maxCrashes: 5,
    crashWindowMs: 600_000,
    onEvent: (event) => h.events.push(event),
  });
  assert.equal(result.reason, "gave_up");
  assert.equal(result.reason === "gave_up" && result.crashes, 5);
  assert.equal(h.runs(), 5);
  assert.equal(h.events.at(-1)?.type, "gave_up");
});

Deno.test("supervise forgets crashes outside the window and resets after a healthy run", async () => {
  // Each run lasts 11 minutes: healthy (>= 10 min), so every restart waits the base delay and
  // no two crashes fall in one 10-minute window.
  const h = harness([1, 1, 1, 1, 1, 1, 1], 660_000);
  const result = await supervise({
    run: h.run,
    signal: h.controller.signal,
    clock: h.clock,
    sleep: h.sleep,
    maxCrashes: 2,
  });
  assert.equal(result.reason, "stopped");
  assert.deepEqual(h.waits, [1_000, 1_000, 1_000, 1_000, 1_000, 1_000, 1_000]);
});

Deno.test("supervise: markHealthy resets the delays", async () => {
  const clock = new ManualClock(0);
  const waits: number[] = [];
  const controller = new AbortController();
  let runs = 0;
  await supervise({
    run: (context) => {
      runs++;
      if (runs === 3) context.markHealthy();
      if (runs === 5) controller.abort();
      return Promise.resolve(1);
    },
    signal: controller.signal,
    clock,
    sleep: (ms) => {
      waits.push(ms);
      return Promise.resolve();
    },
  });
  assert.deepEqual(waits, [1_000, 2_000, 1_000, 2_000]);
});

Deno.test("supervise: stopping during a wait ends without another run", async () => {
  const controller = new AbortController();
  let runs = 0;
  const result = await supervise({
    run: () => {
      runs++;
      setTimeout(() => controller.abort(), 10);
      return Promise.resolve(1);
    },
    signal: controller.signal,
    backoff: { baseMs: 60_000 },
  });
  assert.deepEqual(result, { reason: "stopped" });
  assert.equal(runs, 1);
});
