/**
 * End to end, one account's life under admin, on SQLite and on the MongoDB test server at once:
 *
 * 1. **Trailing drawdown across a day reset**: the daily reset is set to the next minute, the
 *    account (losing_day, trailing-equity drawdown 4 %) runs across it: the day rolls over
 *    (a new `day.date`) but the high-water mark does not, so the drawdown from the old peak is
 *    crossed after the reset and the account is locked permanently (`LOCKED`), flat; the oracle
 *    (which keeps peaks across days by its own formulas) agrees.
 * 2. **A permanent lock survives a restart of everything**: admin and its child are killed with
 *    SIGKILL, admin is started again: the element is still `LOCKED` and the new terminal's EA is
 *    put in lock mode at once (within the oracle's target of its hello).
 * 3. **A person's unlock**: `riskguard elements unlock <id>` as its own process reaches the
 *    account: the store records the person's unlock, an `unlock` command reaches the EA, which
 *    answers it and leaves lock mode.
 */
import assert from "node:assert/strict";
import { MAIN_MODULE } from "../../src/shared/self_command.ts";
import { childEnv } from "../../src/shared/process.ts";
import { type Adapter, mongoAdapter, sqliteAdapter } from "../store/_harness.ts";
import { alive, eventsMatching, waitGone } from "../admin/_harness.ts";
import {
  type DrillAccount,
  lastAccountState,
  truthLines,
  waitFor,
} from "../support/risk_process.ts";
import { openWorld, waitElement, type World } from "../support/admin_world.ts";

/** The trade server clock of the simulator (UTC + 2 h), as the daily reset is read. */
const SERVER_OFFSET_MS = 2 * 3_600_000;

/** Waits until the next minute starts 3 to 6 s from now; returns that minute (UTC ms). */
async function nextMinuteSoon(): Promise<number> {
  while (true) {
    const now = Date.now();
    const next = Math.ceil((now + 1) / 60_000) * 60_000;
    if (next - now >= 3_000 && next - now <= 6_000) return next;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

function hhmm(utcMs: number): string {
  return new Date(utcMs + SERVER_OFFSET_MS).toISOString().slice(11, 16);
}

async function life(world: World, login: number, reset: number): Promise<void> {
  const store = world.fixture.store;
  const account: DrillAccount = await world.add({
    scenario: "losing_day",
    element: {
      max_drawdown: { limit: "4%", mode: "trailing_equity" },
      daily: { reset: hhmm(reset), timezone: "server" },
    },
    login,
    speed: 0.5,
  });
  const output = () => world.admin.lines.slice(-40).join("\n");
  const before = await waitElement(world, account, "the day persisted", (e) => e.day !== null);

  // 1. The drawdown from the peak of the old day is crossed after the reset.
  const locked = await waitElement(world, account, "LOCKED", (e) => e.trading === "LOCKED", 60_000);
  assert.match(locked.lock_reason ?? "", /drawdown/);
  await waitFor(
    "locked and flat",
    async () => {
      const state = await lastAccountState(account.truthPath);
      return state?.locked === true && state.positions === 0 && state.orders === 0;
    },
    20_000,
    output,
  );
  const lockLine = (await truthLines(account.truthPath)).find((l) =>
    l.type === "lock" && l.locked === true
  )!;
  assert.ok(
    lockLine.wall > reset,
    `the drawdown was crossed after the daily reset (lock ${lockLine.wall - reset} ms from it)`,
  );
  const after = await waitElement(
    world,
    account,
    "the new day",
    (e) => e.day?.date !== before.day?.date,
  );
  assert.ok(after.peak !== null && after.peak.since < reset, "the peak is from before the reset");

  // 2. Everything killed and started again: still locked, the EA locked at once.
  const child = await world.childPid(account);
  world.admin.kill("SIGKILL");
  await world.admin.exited;
  Deno.kill(child, "SIGKILL");
  await waitGone(child);
  const runsBefore = (await truthLines(account.truthPath)).filter((l) => l.type === "start");
  world.restartAdmin();
  const relocked = await waitFor(
    "the new terminal's EA in lock mode",
    async () => {
      const lines = await truthLines(account.truthPath);
      const start = lines.filter((l) => l.type === "start")[runsBefore.length];
      if (start === undefined) return undefined;
      const from = lines.indexOf(start);
      const hello = lines.find((l, i) => i > from && l.type === "hello");
      const lock = lines.find((l, i) => i > from && l.type === "lock" && l.locked === true);
      return hello !== undefined && lock !== undefined ? { hello, lock } : undefined;
    },
    60_000,
    output,
  );
  assert.ok(
    relocked.lock.wall - relocked.hello.wall < 5_000,
    `EA locked ${relocked.lock.wall - relocked.hello.wall} ms after its hello`,
  );
  assert.equal((await world.element(account)).trading, "LOCKED");
  assert.notEqual(await world.childPid(account), child);
  assert.ok(!alive(child));

  // 3. A person unlocks through the CLI; the account leaves lock mode.
  const unlockedAt = Date.now();
  const cli = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN_MODULE.pathname, "elements", "unlock", account.elementId],
    clearEnv: true,
    env: childEnv({
      NO_COLOR: "1",
      RISKGUARD_STORE: world.fixture.spec,
      RISKGUARD_DB: world.fixture.db,
    }),
    stdout: "piped",
    stderr: "piped",
  }).output();
  const cliText = new TextDecoder().decode(cli.stdout) + new TextDecoder().decode(cli.stderr);
  assert.equal(cli.code, 0, cliText);
  const unlocked = await waitFor(
    "the EA out of lock mode",
    async () => {
      const lines = await truthLines(account.truthPath);
      return lines.find((l) => l.type === "lock" && l.locked === false && l.wall > unlockedAt);
    },
    30_000,
    output,
  );
  // The EA answered the unlock command (truth log), and the store records the person's unlock.
  const lines = await truthLines(account.truthPath);
  const command = lines.find((l) =>
    l.type === "command" && (l.command as { type?: string }).type === "unlock" &&
    l.wall > unlockedAt
  );
  assert.ok(command !== undefined, "an unlock command reached the EA");
  const answer = lines.find((l) => l.type === "ack" && l.id === command.id);
  assert.equal(answer?.ok, true, "the EA answered the unlock ok");
  assert.ok(answer.wall <= unlocked.wall + 1);
  await waitFor(
    "the person's unlock in the store",
    async () => {
      const events = await eventsMatching(store, account.elementId, /^unlocked by a person/);
      return events.some((e) => e.type === "unlock" && e.at > unlockedAt);
    },
    20_000,
    output,
  );

  await world.stopAdmin();
  const events = await store.listEvents(account.elementId, { limit: 1_000 });
  assert.ok(
    events.some((e) => e.type === "ack" && /^unlock done/.test(e.message) && e.at > unlockedAt),
    "the EA's answer to the unlock is recorded",
  );
  // A clean end is not explained by the child's last warning (here: its lock).
  const exits = events.filter((e) => /^risk process exited with code 0/.test(e.message));
  assert.ok(exits.length > 0, "admin recorded its child's clean end");
  for (const exit of exits) assert.equal(exit.message, "risk process exited with code 0");
  const { verdict, summary } = await world.verdict(account);
  assert.ok(verdict.ok, `${world.fixture.spec.split(":")[0]}: ${summary}`);
  assert.ok(verdict.enforced >= 1, summary);
}

Deno.test({
  name: "e2e lifecycle: trailing drawdown across a day reset, a permanent lock survives a " +
    "restart of everything, a person's unlock through the CLI",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const adapters: Adapter[] = [sqliteAdapter()];
    const mongo = await mongoAdapter();
    if ("skip" in mongo) console.log(`IGNORED the MongoDB part: ${mongo.skip}`);
    else adapters.push(mongo);
    const worlds: World[] = [];
    try {
      for (const adapter of adapters) worlds.push(await openWorld(adapter, "life"));
      const reset = await nextMinuteSoon();
      await Promise.all(worlds.map((world, i) => life(world, 5_200_001 + i, reset)));
    } finally {
      for (const world of worlds) await world.dispose();
      if (!("skip" in mongo)) await mongo.stop();
    }
  },
});
