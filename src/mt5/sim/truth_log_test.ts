import assert from "node:assert/strict";
import { ManualClock } from "../../shared/clock.ts";
import { formatSimPathway, parseSimPathway, SimPathwayError } from "./pathway.ts";
import { SimTerminal } from "./simulator.ts";
import { TruthLog } from "./truth_log.ts";

async function readLines(path: string): Promise<Record<string, unknown>[]> {
  const text = await Deno.readTextFile(path);
  return text.trimEnd().split("\n").map((line) => JSON.parse(line));
}

Deno.test("truth log: equity changes, trades, commands, acks and locks, with both times", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/truth.jsonl`;
  const clock = new ManualClock(1_000_000);
  const truth = new TruthLog(path, {
    start_utc: 5_000,
    server_offset: 7_200_000,
    login: 42,
    server: "S",
    scenario: "losing_day",
    seed: 3,
    speed: 1,
    balance: 10_000,
  }, clock);
  const terminal = new SimTerminal({ scenario: "losing_day", seed: 3, observer: truth });
  try {
    clock.advance(10);
    terminal.advanceTo(8_000);
    assert.ok(terminal.positionTickets.length > 0, "the scenario opened positions");
    clock.advance(10);
    await terminal.execute({ type: "lock", id: "c1", until: 0, reason: "test" });
    await terminal.execute({ type: "close_all", id: "c2", reason: "test" });
    truth.sent(terminal.snapshot(1));
    truth.close(terminal.time);

    const lines = await readLines(path);
    assert.equal(lines[0]!.type, "start");
    assert.equal(lines[0]!.login, 42);
    assert.equal(lines[0]!.pid, Deno.pid);
    assert.equal(lines.at(-1)!.type, "stop");
    for (const line of lines) {
      assert.equal(typeof line.wall, "number");
      assert.equal(typeof line.sim, "number");
    }
    const accounts = lines.filter((l) => l.type === "account");
    assert.ok(accounts.length > 10, `equity changes recorded: ${accounts.length}`);
    const last = accounts.at(-1)!;
    assert.equal(last.equity, terminal.equity);
    assert.equal(last.balance, Math.round(terminal.balance * 100) / 100);
    assert.equal(last.positions, 0, "flat after close_all");
    // Consecutive account lines always differ: only changes are recorded.
    for (let i = 1; i < accounts.length; i++) {
      const a = accounts[i - 1]!;
      const b = accounts[i]!;
      assert.ok(
        a.equity !== b.equity || a.balance !== b.balance || a.positions !== b.positions ||
          a.orders !== b.orders,
      );
    }
    const commands = lines.filter((l) => l.type === "command").map((l) => l.id);
    assert.deepEqual(commands, ["c1", "c2"]);
    const acks = lines.filter((l) => l.type === "ack");
    assert.deepEqual(acks.map((l) => [l.id, l.ok]), [["c1", true], ["c2", true]]);
    const lock = lines.find((l) => l.type === "lock");
    assert.deepEqual([lock?.locked, lock?.until], [true, 0]);
    const closes = lines.filter((l) => l.type === "trade" && l.action === "close");
    assert.ok(closes.some((l) => l.command_id === "c2" && l.cause === "command"));
    const wallOfLock = lines.find((l) => l.type === "command")!.wall;
    assert.equal(wallOfLock, 1_000_020, "wall time from the log's clock");
    const snapshot = lines.find((l) => l.type === "snapshot");
    assert.equal(snapshot?.equity, terminal.equity);
    assert.equal(snapshot?.locked, true);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("truth log: refused requests carry the real ms they took; the market's hours", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/truth.jsonl`;
  const clock = new ManualClock(1_000_000);
  const truth = new TruthLog(path, {
    start_utc: 0,
    server_offset: 0,
    login: 7,
    server: "S",
    scenario: "flaky",
    seed: 5,
    speed: 1,
    balance: 10_000,
  }, clock);
  // Each trade request takes 150 real ms, on the log's clock.
  const terminal = new SimTerminal({
    scenario: "flaky",
    seed: 5,
    execDelayMs: 150,
    observer: truth,
    clock,
  });
  const wait = (ms: number) => {
    clock.advance(ms);
    return Promise.resolve();
  };
  try {
    const closed = terminal.scenario.faults!.marketClosed[0]!;
    terminal.advanceTo(closed.from + 500);
    assert.ok(terminal.marketClosed);
    assert.ok(terminal.positionTickets.length > 0, "the scenario opened positions");
    await terminal.execute({ type: "close_all", id: "c1", reason: "test" }, wait);
    terminal.advanceTo(closed.to + 10_000);
    for (let i = 0; i < 4 && terminal.positionTickets.length > 0; i++) {
      await terminal.execute({ type: "close_all", id: `c${i + 2}`, reason: "test" }, wait);
    }
    truth.close(terminal.time);

    const lines = await readLines(path);
    const refusals = lines.filter((l) =>
      l.type === "trade" && (l.action === "requote" || l.action === "market_closed")
    );
    assert.ok(refusals.some((l) => l.action === "market_closed"), "refused while closed");
    assert.ok(refusals.some((l) => l.action === "requote"), "requoted after the reopen");
    for (const refusal of refusals) assert.equal(refusal.ms, 150, JSON.stringify(refusal));
    const done = lines.filter((l) => l.type === "trade" && l.action === "close");
    assert.ok(done.length > 0 && done.every((l) => l.ms === undefined), "accepted: no ms");
    const market = lines.filter((l) => l.type === "market").map((l) => [l.sim, l.open]);
    assert.deepEqual(market.slice(0, 2), [[closed.from, false], [closed.to, true]]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("truth log: a run after a killed one starts on a line of its own", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/truth.jsonl`;
  await Deno.writeTextFile(path, '{"type":"start"}\n{"type":"account","wall":1,"si');
  const start = {
    start_utc: 0,
    server_offset: 0,
    login: 1,
    server: "S",
    scenario: "calm",
    seed: 1,
    speed: 1,
    balance: 10_000,
  };
  try {
    new TruthLog(path, start, new ManualClock(5)).close(0);
    const lines = (await Deno.readTextFile(path)).trimEnd().split("\n");
    assert.equal(lines.length, 4);
    assert.equal(lines[1], '{"type":"account","wall":1,"si');
    assert.equal(JSON.parse(lines[2]!).type, "start");
    assert.equal(JSON.parse(lines[3]!).type, "stop");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("truth log: an unusable file is a clear error", () => {
  assert.throws(
    () =>
      new TruthLog("/nonexistent-dir/x/truth.jsonl", {
        start_utc: 0,
        server_offset: 0,
        login: 1,
        server: "S",
        scenario: "calm",
        seed: 1,
        speed: 1,
        balance: 1,
      }),
    /Cannot open the truth log \/nonexistent-dir\/x\/truth\.jsonl/,
  );
});

Deno.test("sim pathway: options round-trip, bad ones are named", () => {
  const path = formatSimPathway("gap", { seed: 4, speed: 2.5, truthLog: "/tmp/a b?.jsonl" });
  assert.equal(path, "sim:gap?seed=4&speed=2.5&truth=%2Ftmp%2Fa+b%3F.jsonl");
  assert.deepEqual(parseSimPathway(path), {
    scenario: "gap",
    options: { seed: 4, speed: 2.5, truthLog: "/tmp/a b?.jsonl" },
  });
  assert.deepEqual(parseSimPathway("sim:calm"), { scenario: "calm", options: {} });
  assert.equal(parseSimPathway("C:/MT5/terminal"), undefined);
  assert.throws(() => parseSimPathway("sim:nope"), /Unknown simulator scenario/);
  assert.throws(() => parseSimPathway("sim:calm?colour=red"), /Unknown simulator option "colour"/);
  assert.throws(() => parseSimPathway("sim:calm?seed=1.5"), SimPathwayError);
  assert.throws(() => parseSimPathway("sim:calm?speed=0"), /speed=0/);
  const drill = formatSimPathway("calm", { process: "child", faultFile: "/tmp/f" });
  assert.deepEqual(parseSimPathway(drill)?.options, { process: "child", faultFile: "/tmp/f" });
  assert.throws(() => parseSimPathway("sim:calm?process=thread"), /process=thread/);
  assert.throws(() => parseSimPathway("sim:calm?faults="), /Empty fault file/);
});
