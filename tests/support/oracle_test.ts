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
  start: { pid?: number; ppid?: number; clean?: boolean; at?: number } = {},
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
    ppid: start.ppid ?? 1,
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

/** The store's events of a run whose lock `a-1` was acked. */
const LOCK_ACKED = [started(100, 0), ackEvent("a-1", 1_103)];

/**
 * A breach at 1 050 whose close-all meets `requotes` refused requests of 300 ms each (from
 * 1 110 on, one after the other), then is accepted `acceptedMs` later and is flat.
 */
function requoted(requotes: number, acceptedMs: number, flatAfter = true): Line[] {
  const lines: Line[] = ENFORCED.filter(([ms]) => ms <= 1_110);
  let at = 1_110;
  for (let i = 0; i < requotes; i++) {
    at += 300;
    lines.push([at, "trade", {
      action: "requote",
      ticket: 7,
      symbol: "EURUSD",
      volume: 0,
      ms: 300,
    }]);
  }
  at += acceptedMs;
  if (flatAfter) lines.push([at, "account", flat(9_440)]);
  lines.push([at + 1, "snapshot", flatAfter ? flat(9_440) : open(9_440)]);
  lines.push([at + 2_500, "snapshot", flatAfter ? flat(9_440) : open(9_440)]);
  return lines;
}

Deno.test("oracle: time the broker spent refusing requests is not charged to the agent", () => {
  // 10 requotes of 300 ms: flat 3 060 + 200 ms after the snapshot, within 2 000 + 3 000 ms.
  const verdict = check(parseTruthLog(log(requoted(10, 200))), LOCK_ACKED);
  assert.ok(verdict.ok, describeVerdict(verdict));
  assert.deepEqual(verdict.breachToFlatMs, [3_260]);
  assert.deepEqual(verdict.refusedMs, [3_000], "the broker's part of it");

  // The same refusals with no `ms` (not the broker's time): the breach is missed.
  const unmeasured = requoted(10, 200).map(([ms, type, fields]): Line =>
    type === "trade" ? [ms, type, { ...fields, ms: undefined }] : [ms, type, fields]
  );
  assert.equal(check(parseTruthLog(log(unmeasured)), LOCK_ACKED).missed.length, 1);
});

Deno.test("oracle: time on accepted requests and an agent that stops retrying still count", () => {
  // Accepted requests only (no refusal), flat 2 200 ms after the crossing: missed.
  const slow = check(parseTruthLog(log(requoted(0, 2_140))), LOCK_ACKED);
  assert.equal(slow.missed.length, 1);
  assert.match(
    slow.missed[0]!.what,
    /not locked and flat within 2000 ms \(locked true, flat false\)/,
  );

  // 3 requotes (900 ms) and then the agent never sends the request again: missed at
  // 1 050 + 2 000 + 900, with the broker's time in the finding.
  const gaveUp = check(parseTruthLog(log(requoted(3, 4_000, false))), LOCK_ACKED);
  assert.equal(gaveUp.missed.length, 1);
  assert.match(
    gaveUp.missed[0]!.what,
    /not locked and flat within 2000 ms \+ 900 ms of refused requests \(locked true, flat false\)/,
  );

  // A refusal that ended before the crossing moves nothing.
  const before: Line[] = [
    [100, "snapshot", open(9_800)],
    [1_000, "trade", { action: "requote", ticket: 7, symbol: "EURUSD", volume: 0, ms: 5_000 }],
    ...requoted(0, 2_140).filter(([ms]) => ms > 200),
  ];
  assert.equal(check(parseTruthLog(log(before)), LOCK_ACKED).missed.length, 1);
});

Deno.test("oracle: refused while the market is closed, the deadline is the reopening + target", () => {
  const closedUntil = (reopen: number, flatAt: number | undefined): Line[] => [
    ...ENFORCED.filter(([ms]) => ms <= 1_110),
    [1_000, "market", { open: false }],
    [1_300, "trade", { action: "market_closed", ticket: 7, symbol: "EURUSD", volume: 0, ms: 150 }],
    [4_000, "snapshot", open(9_440)],
    [reopen, "market", { open: true }],
    ...(flatAt === undefined ? [] : [[flatAt, "account", flat(9_440)] as Line]),
    [reopen + 4_000, "snapshot", flatAt === undefined ? open(9_440) : flat(9_440)],
  ];
  // The market reopens 5 s after the crossing; flat 1.5 s later is in time.
  const inTime = check(parseTruthLog(log(closedUntil(6_000, 7_500))), LOCK_ACKED);
  assert.ok(inTime.ok, describeVerdict(inTime));
  assert.deepEqual(inTime.breachToFlatMs, [6_450]);

  // Flat 2.5 s after the reopening is late; never flat is missed after the reopening.
  const late = check(parseTruthLog(log(closedUntil(6_000, 8_500))), LOCK_ACKED);
  assert.match(late.missed[0]!.what, /not locked and flat within 2000 ms \+ 150 ms/);
  const never = check(parseTruthLog(log(closedUntil(6_000, undefined))), LOCK_ACKED);
  assert.equal(never.missed.length, 1);
  assert.equal(never.missed[0]!.wall, T0 + 1_050);
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

Deno.test("oracle: a simulator outliving its killed risk process is its own run; late acks not owed", () => {
  // Simulator pid 300 of risk process 100: the close-all is sent, the risk process is killed at
  // 1 200 (the link goes down), the EA finishes the close-all alone and answers into the void.
  const killed: Line[] = [
    ...ENFORCED.filter(([ms]) => ms <= 1_110),
    [1_200, "link", { up: false }],
    [1_350, "account", flat(9_440)],
    [1_351, "ack", { id: "a-2", ok: true, retcode: 10009 }],
  ];
  const first = log(killed.map(([ms, type, f]): Line => [ms, type, { ...f, pid: 300 }]), {
    pid: 300,
    ppid: 100,
    clean: false,
  });
  // The restarted risk process 200 starts simulator 400 at 1 300, while 300 still writes.
  const second = log(
    [
      [1_400, "snapshot", open(9_800)],
      [1_450, "command", { id: "b-1", command: { type: "lock", id: "b-1", until: 0 } }],
      [1_451, "lock", { locked: true, until: 0 }],
      [1_452, "ack", { id: "b-1", ok: true, retcode: 0 }],
      [1_700, "account", flat(9_790)],
      [5_000, "snapshot", flat(9_790)],
    ].map(([ms, type, f]): Line => [ms as number, type as string, { ...f as object, pid: 400 }]),
    {
      pid: 400,
      ppid: 200,
      at: 1_300,
    },
  );
  // Interleaved as two processes append to one file: 300's lines after 400's start.
  const firstLines = first.trimEnd().split("\n");
  const secondLines = second.trimEnd().split("\n");
  const text = [
    ...firstLines.slice(0, -2),
    secondLines[0]!,
    ...firstLines.slice(-2),
    ...secondLines.slice(1),
  ].join("\n") + "\n";
  const runs = parseTruthLog(text);
  assert.deepEqual(runs.map((r) => r.start.pid), [300, 400]);
  assert.ok(runs[0]!.lines.some((l) => l.type === "ack" && l.id === "a-2"), "a-2 is 300's");
  // (The hand-made stop line has no pid: it goes to the latest run.)
  assert.ok(runs[1]!.lines.every((l) => l.pid === 400 || l.type === "stop"));
  const events = [
    started(100, 0),
    ackEvent("a-1", 1_103),
    started(200, 1_290),
    ackEvent("b-1", 1_453),
  ];
  const verdict = check(runs, events);
  assert.ok(verdict.ok, describeVerdict(verdict));
  assert.equal(verdict.exemptEvents, 1, "a-2, answered after the link was lost, is not owed");

  // Had the link come back (the same agent), a-2 would be owed.
  const back = parseTruthLog(
    log([...killed, [1_300, "link", { up: true }], [3_000, "snapshot", flat(9_440)]]),
  );
  assert.deepEqual(check(back, events).missingEvents.map((f) => f.what), ["no ack event for a-2"]);
});
