/**
 * The demo's setup and its reading of the store, on a real SQLite store: each account gets its
 * own scenario's terminal (path with seed and speed), its limits, and the event feed returns
 * every event once, in order.
 */
import assert from "node:assert/strict";
import { planAccounts } from "../../src/demo/accounts.ts";
import {
  addDemoAccount,
  createDemoFolder,
  type DemoAccount,
  waitClaimed,
} from "../../src/demo/setup.ts";
import { EventFeed, readAccounts } from "../../src/demo/state.ts";
import { parseSimPathway } from "../../src/mt5/sim/pathway.ts";
import { openStore } from "../../src/store/mod.ts";

Deno.test("setup: accounts cycle the scenarios, each with its terminal, seed and speed", async () => {
  const paths = await createDemoFolder();
  const store = await openStore(paths.storeUri);
  try {
    const never = new AbortController().signal;
    const accounts: DemoAccount[] = [];
    for (const plan of planAccounts(4, 11)) {
      const account = await addDemoAccount(store, plan, { host: "demo-host", speed: 2 });
      // What admin does: claim the lowest-port FREE instance (the only one here).
      await store.claimFreeInstance(account.id, "demo-host", Date.now());
      await waitClaimed(store, account, { signal: never, timeoutMs: 2_000 });
      accounts.push(account);
    }
    assert.deepEqual(
      accounts.map((a) => [a.plan.scenario, a.plan.login, parseSimPathway(a.instancePath)]),
      [
        ["calm", 5_000_001, { scenario: "calm", options: { seed: 11, speed: 2 } }],
        ["losing_day", 5_000_002, { scenario: "losing_day", options: { seed: 12, speed: 2 } }],
        ["big_position", 5_000_003, { scenario: "big_position", options: { seed: 13, speed: 2 } }],
        ["calm", 5_000_004, { scenario: "calm", options: { seed: 14, speed: 2 } }],
      ],
    );
    const losing = await store.getElement(accounts[1]!.id);
    assert.ok(losing?.valid);
    assert.deepEqual(losing.element.max_daily_loss, { kind: "percent", value: 5 });
    assert.equal(losing.element.instance_id, accounts[1]!.instanceId);

    // Not the demo's instance: waitClaimed refuses it rather than show the wrong scenario.
    const plan = planAccounts(5, 11)[4]!;
    const stray = await addDemoAccount(store, plan, { host: "demo-host", speed: 2 });
    const other = await store.addInstance({ path: "sim:gap", host: "demo-host", port: 40_000 });
    await store.removeInstance(stray.instanceId);
    await store.claimFreeInstance(stray.id, "demo-host", Date.now());
    await assert.rejects(
      () => waitClaimed(store, stray, { signal: never, timeoutMs: 2_000 }),
      new RegExp(`was given instance ${other._id}, not its own`),
    );
  } finally {
    await store.close();
    await Deno.remove(paths.dir, { recursive: true });
  }
});

Deno.test("setup: waiting for a claim that never comes times out with the account named", async () => {
  const paths = await createDemoFolder();
  const store = await openStore(paths.storeUri);
  try {
    const account = await addDemoAccount(store, planAccounts(1, 1)[0]!, { host: "h", speed: 1 });
    await assert.rejects(
      () =>
        waitClaimed(store, account, {
          signal: new AbortController().signal,
          timeoutMs: 300,
          pollMs: 50,
        }),
      /admin did not claim a terminal for demo account 5000001 within 0 s/,
    );
  } finally {
    await store.close();
    await Deno.remove(paths.dir, { recursive: true });
  }
});

Deno.test("state: the feed returns every event once, oldest first, and the views read the store", async () => {
  const paths = await createDemoFolder();
  const store = await openStore(paths.storeUri);
  try {
    const accounts: DemoAccount[] = [];
    for (const plan of planAccounts(2, 1)) {
      accounts.push(await addDemoAccount(store, plan, { host: "h", speed: 1 }));
    }
    const feed = new EventFeed(store, accounts);
    assert.deepEqual(await feed.poll(), []);
    const [calm, losing] = accounts as [DemoAccount, DemoAccount];
    const at = Date.now();
    await store.appendEvent({ element_id: losing.id, at, type: "breach", message: "b" });
    await store.appendEvent({ element_id: calm.id, at: at - 5, type: "lifecycle", message: "s" });
    const first = await feed.poll();
    assert.deepEqual(first.map((e) => [e.login, e.type]), [[5_000_001, "lifecycle"], [
      5_000_002,
      "breach",
    ]]);
    // Same millisecond as an event already returned: returned once, not lost, not repeated.
    await store.appendEvent({ element_id: losing.id, at, type: "lock", message: "l" });
    assert.deepEqual((await feed.poll()).map((e) => e.type), ["lock"]);
    assert.deepEqual(await feed.poll(), []);
    assert.deepEqual(feed.recent.map((e) => e.type), ["breach", "lock"], "actions only");

    const lease = await store.claimFreeInstance(losing.id, "h", Date.now());
    await store.updateElement(lease, {
      trading: "LOCKED_DAY",
      metrics: {
        balance: 9_480,
        equity: 9_470,
        daily_pl: -530,
        positions: 0,
        orders: 0,
        updated_at: Date.now(),
      },
      day: {
        date: "2026-01-06",
        start_balance: 10_000,
        start_equity: 10_000,
        high_equity: 10_000,
        baseline: 10_000,
      },
    }, Date.now());
    const views = await readAccounts(store, accounts, feed);
    assert.equal(views[0]!.dailyPl, null, "no figures before the risk process writes them");
    assert.equal(views[0]!.lastEvent?.type, "lifecycle");
    assert.deepEqual(
      [views[1]!.trading, views[1]!.equity, views[1]!.dailyPl, views[1]!.dailyLossLimit],
      ["LOCKED_DAY", 9_470, -530, 500],
    );
    assert.equal(views[1]!.lastEvent?.type, "lock");
  } finally {
    await store.close();
    await Deno.remove(paths.dir, { recursive: true });
  }
});
