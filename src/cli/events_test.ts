import assert from "node:assert/strict";
import { openStore } from "../store/mod.ts";
import { type CliContext, runCli } from "./mod.ts";
import { formatEvent, parseSince, parseTypes } from "./events.ts";

function capture(env: Record<string, string>, signal = new AbortController().signal) {
  let out = "";
  let err = "";
  const ctx: CliContext = {
    env,
    stdout: (text) => void (out += text),
    stderr: (text) => void (err += text),
    readSecret: () => Promise.resolve("pw-typed"),
    stopSignal: signal,
  };
  return { ctx, out: () => out, err: () => err };
}

const T0 = Date.parse("2026-11-24T08:00:00Z");

async function withEvents(
  body: (env: Record<string, string>, ids: { a: string; b: string }) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "riskguard-events-" });
  const env = {
    RISKGUARD_STORE: `sqlite:${dir}/cli.db`,
    RISKGUARD_HOST: "vps-test",
    RISKGUARD_LOG_LEVEL: "error",
  };
  try {
    const ids: string[] = [];
    for (const login of ["5012345", "5099999"]) {
      const io = capture(env);
      const args = ["elements", "add", "--server", "Demo", "--login", login, "--json"];
      assert.equal(await runCli(args, io.ctx), 0, io.err());
      ids.push(JSON.parse(io.out())._id);
    }
    const [a, b] = ids as [string, string];
    const store = await openStore(env.RISKGUARD_STORE);
    try {
      const add = (element_id: string, at: number, type: string, message: string, rule?: string) =>
        store.appendEvent({ element_id, at, type, message, rule: rule ?? null });
      await add(a, T0, "lifecycle", "risk process started");
      await add(b, T0 + 1_000, "lifecycle", "risk process started");
      await add(a, T0 + 60_000, "breach", "daily loss 512.40 >= 500", "max_daily_loss");
      await store.appendEvent({
        element_id: a,
        at: T0 + 60_001,
        type: "lock",
        message: "locked for the day",
        rule: "max_daily_loss",
        server_time: Date.parse("2026-11-24T10:01:00Z"),
      });
      await add(b, T0 + 120_000, "error", "rule plugin x threw at /r/x.ts:12: boom");
    } finally {
      await store.close();
    }
    await body(env, { a, b });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("events: every account newest last, one account by id or login, --type and --since", async () => {
  await withEvents(async (env, { a, b }) => {
    let io = capture(env);
    assert.equal(await runCli(["events"], io.ctx), 0, io.err());
    const lines = io.out().trim().split("\n");
    assert.equal(lines.length, 5);
    assert.match(lines[0]!, new RegExp(`^2026-11-24 08:00:00Z  ${a}  lifecycle`));
    assert.match(lines[4]!, new RegExp(`^2026-11-24 08:02:00Z  ${b}  error .*x\\.ts:12: boom$`));
    assert.match(
      lines[3]!,
      /lock {6}\[max_daily_loss\] locked for the day \(server 2026-11-24 10:01:00\)$/,
    );

    io = capture(env);
    assert.equal(await runCli(["events", "5012345", "--json"], io.ctx), 0, io.err());
    const mine = io.out().trim().split("\n").map((line) => JSON.parse(line));
    assert.deepEqual(mine.map((event) => event.type), ["lifecycle", "breach", "lock"]);
    assert.ok(mine.every((event) => event.element_id === a));

    io = capture(env);
    assert.equal(await runCli(["events", a, "--type", "breach,lock"], io.ctx), 0, io.err());
    assert.deepEqual(io.out().trim().split("\n").map((line) => line.split(/\s+/)[3]), [
      "breach",
      "lock",
    ]);

    io = capture(env);
    const since = ["events", "--since", "2026-11-24T08:01:00Z", "--json"];
    assert.equal(await runCli(since, io.ctx), 0, io.err());
    assert.equal(io.out().trim().split("\n").length, 3);

    io = capture(env);
    assert.equal(await runCli(["events", "--limit", "2", "--json"], io.ctx), 0, io.err());
    assert.deepEqual(io.out().trim().split("\n").map((line) => JSON.parse(line).type), [
      "lock",
      "error",
    ]);

    io = capture(env);
    assert.equal(await runCli(["events", "--type", "command"], io.ctx), 0);
    assert.equal(io.out(), "");
    assert.match(io.err(), /No events/);
  });
});

Deno.test("events: bad input is exit code 2 with the value seen", async () => {
  await withEvents(async (env) => {
    for (
      const [args, pattern] of [
        [["events", "--since", "yesterday"], /Invalid --since "yesterday"/],
        [["events", "--type", "Breach!"], /Invalid --type "Breach!"/],
        [["events", "--limit", "0"], /Invalid --limit "0"/],
      ] as const
    ) {
      const io = capture(env);
      assert.equal(await runCli([...args], io.ctx), 2, io.out());
      assert.match(io.err(), pattern);
    }
    const io = capture(env);
    assert.notEqual(await runCli(["events", "7777777"], io.ctx), 0);
    assert.match(io.err(), /No element with id or login 7777777/);
  });
});

Deno.test("events --follow prints events as they are appended, then stops on the signal", async () => {
  await withEvents(async (env, { a }) => {
    const stop = new AbortController();
    const io = capture(env, stop.signal);
    const running = runCli(["events", a, "--follow", "--type", "breach,lock,command"], io.ctx);
    const until = async (condition: () => boolean, what: string) => {
      const deadline = Date.now() + 10_000;
      while (!condition()) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}:\n${io.out()}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    };
    await until(() => io.out().split("\n").length === 3, "the existing breach and lock");
    const store = await openStore(env.RISKGUARD_STORE);
    try {
      await store.appendEvent({ element_id: a, type: "command", message: "close_all sent" });
      await store.appendEvent({ element_id: a, type: "lifecycle", message: "not shown" });
    } finally {
      await store.close();
    }
    await until(() => io.out().includes("close_all sent"), "the new command event");
    stop.abort();
    assert.equal(await running, 0, io.err());
    const lines = io.out().trim().split("\n");
    assert.equal(lines.length, 3, io.out());
    assert.ok(!io.out().includes("not shown"));
  });
});

Deno.test("events: parsing and formatting helpers", () => {
  const now = Date.parse("2026-11-24T12:00:00Z");
  assert.equal(parseSince("30m", now), now - 30 * 60_000);
  assert.equal(parseSince("7d", now), now - 7 * 86_400_000);
  assert.equal(parseSince("2026-11-24", now), Date.parse("2026-11-24T00:00:00Z"));
  assert.equal(parseSince("2026-11-24T08:00", now), Date.parse("2026-11-24T08:00:00Z"));
  assert.equal(parseSince("2026-11-24T08:00:00+02:00", now), Date.parse("2026-11-24T06:00:00Z"));
  assert.deepEqual(parseTypes("breach, lock"), ["breach", "lock"]);
  assert.equal(
    formatEvent({
      _id: "x",
      element_id: "e1",
      at: Date.parse("2026-11-24T08:00:00.123Z"),
      type: "breach",
      rule: "max_daily_loss",
      message: "daily loss",
      server_time: null,
      detail: {},
      host: null,
    }),
    "2026-11-24 08:00:00Z  e1  breach    [max_daily_loss] daily loss",
  );
});
