/**
 * Issue 11 item 2: an action means what its name says. A plugin that returns only `lock` (and a
 * `notify`) locks the account without closing its positions; a position opened while locked
 * is closed again; a built-in limit closes because it asks for the close itself.
 */
import assert from "node:assert/strict";
import { sampleOrder, samplePosition } from "../../src/rules/samples.ts";
import { scriptedAccount, sleep, startScripted, waitFor } from "./_scripted_run.ts";

Deno.test("a plugin's lock refuses new trades and leaves the 7 open positions alone", async () => {
  const dir = await Deno.makeTempDir();
  const plugin = `${dir}/max_trades.ts`;
  await Deno.writeTextFile(
    plugin,
    `export default {
      id: "max_trades_per_day",
      evaluate: ({ now }) => [
        { type: "lock", scope: "day", until: now + 3_600_000, reason: "7 trades today" },
        { type: "notify", level: "warning", reason: "trade limit reached", once: "limit" },
      ],
    };\n`,
  );
  const account = await scriptedAccount({});
  try {
    const run = await startScripted(account, { risk: { ruleFiles: [plugin] } });
    const ea = run.ea();
    const utc = Date.now();
    const seven = Array.from({ length: 7 }, (_, n) => samplePosition({ ticket: 100 + n }, utc));
    await ea.snapshot({ utc, seq: 1, positions: seven });
    await waitFor(() => ea.received("lock").length === 1, "the lock command");
    // The EA is locked now and still holds the 7 positions.
    await ea.snapshot({ utc: Date.now(), seq: 2, positions: seven }, { locked: true });
    await waitFor(() => run.statuses.length >= 2, "the second snapshot");
    await sleep(500); // room for a wrong close_all to arrive
    assert.deepEqual(ea.received("close_all"), [], "no close_all");
    assert.deepEqual(ea.received("close_position"), [], "no position closed");
    assert.deepEqual(ea.received("cancel_orders"), []);
    // A position opened while locked is closed again, and only that one.
    const opened = samplePosition({ ticket: 200 }, Date.now());
    await ea.snapshot({ utc: Date.now(), seq: 3, positions: [...seven, opened] }, {
      locked: true,
    });
    await waitFor(() => ea.received("close_position").length >= 1, "the close of ticket 200");
    assert.equal(await run.stop(), undefined);
    const closes = ea.received("close_position").map((c) =>
      c.command.type === "close_position" ? c.command.ticket : 0
    );
    assert.deepEqual([...new Set(closes)], [200]);
    assert.deepEqual(ea.received("close_all"), []);
    assert.equal(run.statuses.at(-1)?.trading, "LOCKED_DAY");
  } finally {
    await account.cleanup();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a built-in limit locks, cancels and closes because it emits all three", async () => {
  const account = await scriptedAccount({ max_daily_loss: 500 });
  try {
    const run = await startScripted(account);
    const ea = run.ea();
    const utc = Date.now();
    await ea.snapshot({
      utc,
      seq: 1,
      positions: [samplePosition({ ticket: 11, profit: -600 }, utc)],
      orders: [sampleOrder(21, utc)],
    });
    await waitFor(() => ea.received("close_all").length >= 1, "the close_all");
    assert.equal(await run.stop(), undefined);
    assert.deepEqual(ea.commands.slice(0, 3).map((c) => c.command.type), [
      "lock",
      "cancel_orders",
      "close_all",
    ]);
  } finally {
    await account.cleanup();
  }
});
