/**
 * Review of issues 9/11, F2: a lock decided during a store outage, then a graceful stop, must
 * not be undone by the next process. (a) The agent unlocks an EA only for an unlock it can
 * prove (a person's unlock recorded as `unlocked_at`, not yet seen applied); an EA lock nothing
 * proves lifted is adopted. (b) A stop with state the store did not take keeps it in the local
 * journal, which the next process replays before it decides anything.
 */
import assert from "node:assert/strict";
import { samplePosition } from "../../src/rules/samples.ts";
import { StoreUnavailableError } from "../../src/store/errors.ts";
import type { Store } from "../../src/store/mod.ts";
import {
  type ScriptedAccount,
  scriptedAccount,
  sleep,
  startScripted,
  unlockedWhileStopped,
  waitFor,
} from "./_scripted_run.ts";

/** The account's store, with every write failing while `down()` says so. */
function flakyStore(account: ScriptedAccount, down: () => boolean): Store {
  const writes = new Set(["updateElement", "appendEvent", "appendSample", "ping", "release"]);
  return new Proxy(account.store, {
    get(target, property) {
      const value = Reflect.get(target, property, target);
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => {
        if (down() && writes.has(String(property))) {
          return Promise.reject(new StoreUnavailableError("store unreachable (test)"));
        }
        return value.apply(target, args);
      };
    },
  }) as Store;
}

async function storedElement(account: ScriptedAccount) {
  const stored = await account.store.getElement(account.elementId);
  assert.ok(stored?.valid);
  return stored.element;
}

Deno.test("outage + stop + restart: the lock comes back from the journal, the EA is never unlocked", async () => {
  const dir = await Deno.makeTempDir();
  const plugin = `${dir}/lock.ts`;
  const journalDir = `${dir}/journal`;
  await Deno.writeTextFile(
    plugin,
    `export default { id: "prop_rule",
      evaluate: ({ snapshot }) => snapshot.account.equity < 9_800
        ? [{ type: "lock", scope: "permanent", until: 0, reason: "firm rule broken" }] : [] };\n`,
  );
  const account = await scriptedAccount({});
  let down = false;
  try {
    const first = await startScripted({ ...account, store: flakyStore(account, () => down) }, {
      risk: { ruleFiles: [plugin], journalDir },
    });
    const ea = first.ea();
    down = true;
    const utc = Date.now();
    const losing = [samplePosition({ ticket: 7, profit: -300 }, utc)];
    await ea.snapshot({ utc, seq: 1, positions: losing });
    await waitFor(() => ea.received("lock").length >= 1, "the plugin's lock to reach the EA");
    await ea.snapshot({ utc: Date.now(), seq: 2, positions: losing }, {
      locked: true,
      locked_until: 0,
    });
    await waitFor(() => first.statuses.length >= 2, "the locked snapshot");
    assert.equal(await first.stop(), undefined);
    // The store never took the lock; the journal did.
    assert.equal((await storedElement(account)).trading, "ALLOWED");
    const journal = JSON.parse(await Deno.readTextFile(`${journalDir}/${account.elementId}.json`));
    assert.equal(journal.trading, "LOCKED");
    assert.equal(journal.lock_reason, "firm rule broken");
    assert.equal(journal.day.start_balance, 10_000);

    down = false;
    // Store back, a new process without the plugin (its condition no longer matters), the EA
    // still locked, the price recovered a little.
    const second = await startScripted(account, {
      risk: { journalDir, timing: { leaseStaleMs: 1_000 } },
    });
    const replayed = second.events.find((e) =>
      /state replayed from the local journal/.test(e.message)
    );
    assert.ok(replayed, "the replay is recorded");
    assert.match(replayed.message, /lock LOCKED, day \d{4}-\d\d-\d\d, peak/);
    await second.ea().snapshot({
      utc: Date.now(),
      seq: 1,
      positions: [samplePosition({ ticket: 7, profit: -100 }, utc)],
    }, { locked: true, locked_until: 0 });
    await waitFor(() => second.statuses.length >= 1, "the first snapshot");
    await sleep(300);
    assert.equal(await second.stop(), undefined);
    assert.deepEqual(second.ea().received("unlock"), [], "no unlock sent to the EA");
    assert.deepEqual(second.events.filter((e) => e.type === "unlock"), []);
    assert.ok(second.statuses.every((s) => s.trading === "LOCKED"), "LOCKED from the start");
    const stored = await storedElement(account);
    assert.equal(stored.trading, "LOCKED");
    assert.equal(stored.lock_reason, "firm rule broken");
    assert.equal(stored.day?.start_balance, 10_000);
    await assert.rejects(
      Deno.stat(`${journalDir}/${account.elementId}.json`),
      Deno.errors.NotFound,
      "the journal is removed once the store has it",
    );
  } finally {
    await account.cleanup();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("an EA lock the account does not know of, with no unlock by a person, is adopted", async () => {
  const account = await scriptedAccount({});
  try {
    const run = await startScripted(account);
    const ea = run.ea();
    const utc = Date.now();
    await ea.snapshot({ utc, seq: 1 }, { locked: true, locked_until: 0 });
    await waitFor(() => run.events.some((e) => e.type === "lock"), "the adoption");
    await ea.snapshot({ utc: Date.now(), seq: 2 }, { locked: true, locked_until: 0 });
    await waitFor(() => run.statuses.length >= 2, "the second snapshot");
    await sleep(200);
    assert.equal(await run.stop(), undefined);
    assert.deepEqual(ea.received("unlock"), [], "the EA is not unlocked");
    const locks = run.events.filter((e) => e.type === "lock");
    assert.equal(locks.length, 1);
    assert.equal(locks[0]!.detail.adopted, true);
    assert.match(locks[0]!.message, /^LOCKED: lock found on the EA with no unlock by a person/);
    assert.equal(run.statuses.at(-1)?.trading, "LOCKED");
    assert.equal((await storedElement(account)).trading, "LOCKED");
  } finally {
    await account.cleanup();
  }
});

Deno.test("a person's unlock made while no process ran unlocks the EA once, then counts as used", async () => {
  const account = await scriptedAccount({});
  try {
    // Locked by an earlier process, unlocked by a person while none ran.
    await unlockedWhileStopped(account);
    const unlockedAt = (await storedElement(account)).unlocked_at;
    assert.ok(unlockedAt !== null);

    const run = await startScripted(account);
    const ea = run.ea();
    await ea.snapshot({ utc: Date.now(), seq: 1 }, { locked: true, locked_until: 0 });
    await waitFor(() => ea.received("unlock").length >= 1, "the unlock at the EA");
    await ea.snapshot({ utc: Date.now(), seq: 2 }, { locked: false });
    await waitFor(
      async () => (await storedElement(account)).unlock_applied_at === unlockedAt,
      "the unlock recorded as applied",
    );
    assert.equal(await run.stop(), undefined);
    assert.match(
      run.events.find((e) => e.type === "unlock")!.message,
      /was unlocked: unlocking the EA/,
    );

    // The same unlock does not undo a later EA lock.
    const again = await startScripted(account, { risk: { timing: { leaseStaleMs: 1_000 } } });
    await again.ea().snapshot({ utc: Date.now(), seq: 1 }, { locked: true, locked_until: 0 });
    await waitFor(() => again.events.some((e) => e.type === "lock"), "the adoption");
    await sleep(200);
    assert.equal(await again.stop(), undefined);
    assert.deepEqual(again.ea().received("unlock"), []);
  } finally {
    await account.cleanup();
  }
});
