/**
 * The oracle on hand-made truth logs and events: it must pass an enforced breach and fail each
 * way the promise can be broken.
 */
import assert from "node:assert/strict";
import {
  checkAccount,
  describeVerdict,
  type OracleEvent,
  type OracleSettings,
  parseTruthLog,
  type TruthRun,
} from "./oracle.ts";

const T0 = Date.UTC(2026, 0, 6, 8, 0, 0);
const SETTINGS: OracleSettings = { max_daily_loss: 500 };

/** A hand-made truth line: `[ms after T0, type, fields]`. */
type Line = [number, string, Record<string, unknown>];

/** Writes a truth log run. */
function log(
  lines: Line[],
  start: { pid?: number; clean?: boolean; at?: number } = {},
): string {
  const at = start.at ?? 0;
  const out: Record<string, unknown>[] = [{
    type: "start",
    wall: T0 + at,
    sim: 0,
    start_utc: T0 + at,
    server_offset: 7_200_000,
    login: 1,
    server: "S",
    scenario: "losing_day",
    seed: 1,
    speed: 1,
    balance: 10_000,
    pid: start.pid ?? 100,
    ppid: 1,
  }, ...lines.map(([ms, type, fields]) => ({ type, wall: T0 + ms, sim: ms - at, ...fields }))];
  if (start.clean !== false) out.push({ type: "stop", wall: T0 + (lines.at(-1)?.[0] ?? 0) + 1 });
  return out.map((line) => JSON.stringify(line)).join("\n") + "\n";
}

const open = (equity: number, positions = 2) => ({ equity, balance: 10_000, positions, orders: 0 });
const flat = (balance: number) => ({ equity: balance, balance, positions: 0, orders: 0 });

function started(pid: number, at: number): OracleEvent {
  return {
    type: "lifecycle",
    at: T0 + at,
    message: `risk process started (lease ${pid})`,
    detail: { pid },
  };
}

function ackEvent(id: string, at: number): OracleEvent {
  return { type: "ack", at: T0 + at, message: "done", detail: { id, ok: true } };
}

/** A breach enforced 300 ms after the snapshot that showed it. */
const ENFORCED: Line[] = [
  [100, "account", open(9_800)],
  [200, "snapshot", open(9_800)],
  [1_000, "account", open(9_450)],
  [1_050, "snapshot", open(9_450)],
  [1_100, "command", { id: "a-1", command: { type: "lock", id: "a-1", until: 0 } }],
  [1_101, "lock", { locked: true, until: 0 }],
  [1_102, "ack", { id: "a-1", ok: true, retcode: 0 }],
  [1_110, "command", { id: "a-2", command: { type: "close_all", id: "a-2" } }],
  [1_350, "account", flat(9_440)],
  [1_351, "ack", { id: "a-2", ok: true, retcode: 10009 }],
  [1_400, "snapshot", flat(9_440)],
  [3_000, "snapshot", flat(9_440)],
];

function check(runs: TruthRun[], events: OracleEvent[], settings = SETTINGS) {
  return checkAccount(runs, events, settings, { targetMs: 2_000 });
}

Deno.test("oracle: a crossing followed by lock and flat in time passes", () => {
  const verdict = check(parseTruthLog(log(ENFORCED)), [
    started(100, 0),
    ackEvent("a-1", 1_103),
    ackEvent("a-2", 1_352),
  ]);
  assert.ok(verdict.ok, describeVerdict(verdict));
  assert.equal(verdict.crossings, 1);
  assert.equal(verdict.enforced, 1);
  assert.deepEqual(verdict.breachToFlatMs, [300]);
});

Deno.test("oracle: a crossing never enforced is a missed breach", () => {
  const lines = ENFORCED.filter(([, type]) => type === "account" || type === "snapshot")
    .filter(([ms]) => ms < 1_300);
  lines.push([5_000, "snapshot", open(9_300)]);
  const verdict = check(parseTruthLog(log(lines)), [started(100, 0)]);
  assert.equal(verdict.ok, false);
  assert.equal(verdict.missed.length, 1);
  assert.match(verdict.missed[0]!.what, /max_daily_loss crossed; not locked and flat within/);
});

Deno.test("oracle: a lock without a crossing is a false lock", () => {
  const verdict = check(
    parseTruthLog(log([
      [100, "snapshot", open(9_800)],
      [200, "command", { id: "a-1", command: { type: "lock", id: "a-1", until: 0 } }],
      [201, "lock", { locked: true, until: 0 }],
      [202, "ack", { id: "a-1", ok: true, retcode: 0 }],
    ])),
    [started(100, 0), ackEvent("a-1", 203)],
  );
  assert.equal(verdict.ok, false);
  assert.equal(verdict.falseLocks.length, 1);
  assert.equal(verdict.missed.length, 0);
});

Deno.test("oracle: locked at once but flat too late is a missed breach", () => {
  const late = ENFORCED.map(([ms, type, fields]): Line =>
    ms >= 1_350 ? [ms + 3_000, type, fields] : [ms, type, fields]
  );
  const verdict = check(parseTruthLog(log(late)), [
    started(100, 0),
    ackEvent("a-1", 1_103),
    ackEvent("a-2", 4_352),
  ]);
  assert.equal(verdict.ok, false);
  assert.equal(verdict.missed.length, 1);
  assert.match(
    verdict.missed[0]!.what,
    /crossed; not locked and flat within 2000 ms \(locked true/,
  );
});

Deno.test("oracle: a command after the lease went to another process fails", () => {
  const verdict = check(parseTruthLog(log(ENFORCED)), [
    started(100, 0),
    started(200, 1_105), // another process took the lease before the close_all arrived
    ackEvent("a-1", 1_103),
    ackEvent("a-2", 1_352),
  ]);
  assert.equal(verdict.ok, false);
  assert.equal(verdict.foreignCommands.length, 1);
  assert.match(verdict.foreignCommands[0]!.what, /close_all a-2 .* pid 100 after pid 200/);
});

Deno.test("oracle: an ack missing from the store, stored twice or out of order fails", () => {
  const missing = check(parseTruthLog(log(ENFORCED)), [started(100, 0), ackEvent("a-1", 1_103)]);
  assert.equal(missing.ok, false);
  assert.deepEqual(missing.missingEvents.map((f) => f.what), ["no ack event for a-2"]);

  // The same ack in the last second of a run is not owed: the process was stopping.
  const ending = check(parseTruthLog(log(ENFORCED.filter(([ms]) => ms < 3_000))), [
    started(100, 0),
    ackEvent("a-1", 1_103),
  ]);
  assert.ok(ending.ok, describeVerdict(ending));
  assert.equal(ending.exemptEvents, 1);

  const twice = check(parseTruthLog(log(ENFORCED)), [
    started(100, 0),
    ackEvent("a-1", 1_103),
    ackEvent("a-2", 1_352),
    ackEvent("a-2", 1_353),
  ]);
  assert.equal(twice.ok, false);
  assert.match(twice.disorderedEvents[0]!.what, /ack a-2 stored 2 times/);

  const swapped = check(parseTruthLog(log(ENFORCED)), [
    started(100, 0),
    ackEvent("a-2", 1_352),
    ackEvent("a-1", 1_353),
  ]);
  assert.equal(swapped.ok, false);
  assert.match(
    swapped.disorderedEvents[0]!.what,
    /ack a-2 stored before an ack the EA sent earlier/,
  );
});

Deno.test("oracle: an ack given while the EA was silent (a drill fault) is not owed", () => {
  const silent: Line[] = [
    ...ENFORCED.filter(([ms]) => ms < 1_110),
    [1_105, "fault", { fault: "silent", ms: 400 }],
    ...ENFORCED.filter(([ms]) => ms >= 1_110),
  ];
  const verdict = check(parseTruthLog(log(silent)), [started(100, 0), ackEvent("a-1", 1_103)]);
  assert.ok(verdict.ok, describeVerdict(verdict));
  assert.equal(verdict.exemptEvents, 1);
  // After the silence every answer is owed again.
  const late = check(parseTruthLog(log(ENFORCED.map((line) => line))), [started(100, 0)]);
  assert.equal(late.missingEvents.length, 2);
});

Deno.test("oracle: a run killed mid close-all is judged with the next run", () => {
  const killed = ENFORCED.filter(([ms]) => ms <= 1_110);
  const first = log(killed, { pid: 100, clean: false }) + '{"type":"account","wall":\n'; // the next run starts on its own line
  const second = log([
    [3_000, "snapshot", open(9_800)],
    [3_050, "command", { id: "b-1", command: { type: "lock", id: "b-1", until: 0 } }],
    [3_051, "lock", { locked: true, until: 0 }],
    [3_052, "ack", { id: "b-1", ok: true, retcode: 0 }],
    [3_300, "account", flat(9_790)],
  ], { pid: 200, at: 2_900 });
  const runs = parseTruthLog(first + second);
  assert.equal(runs.length, 2);
  assert.equal(runs[0]!.clean, false);
  const events = [
    started(100, 0),
    ackEvent("a-1", 1_103),
    started(200, 2_950),
    ackEvent("b-1", 3_053),
  ];
  const verdict = check(runs, events);
  // The restored lock of the second run is no false lock; the breach ends locked and flat.
  assert.ok(verdict.ok, describeVerdict(verdict));
  assert.equal(verdict.enforced, 1);
  assert.equal(verdict.falseLocks.length, 0);
  assert.equal(verdict.exemptEvents, 0, "a-2 was never answered, so nothing was owed");

  // Had the second run not ended flat in time, the breach would be missed.
  const never = parseTruthLog(
    first + log([[6_000, "snapshot", open(9_800)]], { pid: 200, at: 2_900 }),
  );
  assert.equal(check(never, events).missed.length, 1);
});

Deno.test("oracle: percent limits, profit and trailing drawdown use the documented formulas", () => {
  const profit = check(
    parseTruthLog(log([[100, "snapshot", open(10_290)], [200, "snapshot", open(10_310)]])),
    [started(100, 0)],
    { max_profit: "3%" },
  );
  assert.equal(profit.crossings, 1);
  assert.match(profit.undecided[0]!.what, /^max_profit crossed/);

  // Trailing equity: the high of 10 400 moves the floor to 10 400 - 300 = 10 100.
  const trailing = check(
    parseTruthLog(log([
      [100, "snapshot", open(10_400)],
      [200, "snapshot", open(10_150)],
      [300, "snapshot", open(10_090)],
    ])),
    [started(100, 0)],
    { max_drawdown: { limit: 300, mode: "trailing_equity" } },
  );
  assert.equal(trailing.crossings, 1);
  assert.match(trailing.undecided[0]!.what, /^max_drawdown crossed/);

  // Within epsilon of the limit is no crossing, and a lock there is no false lock either.
  const edge = check(
    parseTruthLog(log([
      [100, "snapshot", open(9_500.005)],
      [200, "lock", { locked: true, until: 0 }],
    ])),
    [started(100, 0)],
  );
  assert.equal(edge.crossings, 0);
  assert.equal(edge.falseLocks.length, 0);
});

Deno.test("oracle: another time zone than server time is refused", () => {
  assert.throws(
    () => check([], [], { daily: { timezone: "Europe/Prague" } }),
    /server time only, not Europe\/Prague/,
  );
});
