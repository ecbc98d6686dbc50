/**
 * Review of issue 11, F5: a person's unlock is checked with a fresh read of the element. While
 * that read is awaited a snapshot may raise the day lock to a permanent one (drawdown): the
 * read still says the person's ALLOWED, but the person unlocked the day lock, not the new one.
 * The permanent lock must stay, with its close_all, and the refused unlock must be explained.
 */
import assert from "node:assert/strict";
import { samplePosition } from "../../src/rules/samples.ts";
import type { ParsedElement, Store } from "../../src/store/mod.ts";
import { scriptedAccount, sleep, startScripted, waitFor } from "./_scripted_run.ts";

Deno.test("a permanent lock made while a person's unlock is checked stays, with its close_all", async () => {
  const account = await scriptedAccount({
    max_daily_loss: 100,
    max_drawdown: { limit: 1_000, mode: "static" },
  });
  // Once armed, the risk process's next read of the element is taken at once (before its own
  // lock write can land) but handed back only when the test opens the gate.
  let armed = false;
  let reads = 0;
  let openGate: () => void = () => {};
  const gate = new Promise<void>((resolve) => openGate = resolve);
  const store = new Proxy(account.store, {
    get(target, property) {
      const value = Reflect.get(target, property, target);
      if (typeof value !== "function") return value;
      if (property !== "getElement") return value.bind(target);
      return async (id: string): Promise<ParsedElement | null> => {
        const read = await target.getElement(id);
        if (!armed) return read;
        armed = false;
        reads++;
        await gate;
        return read;
      };
    },
  }) as Store;
  const stored = async () => {
    const element = await account.store.getElement(account.elementId);
    assert.ok(element?.valid);
    return element.element;
  };
  try {
    const run = await startScripted(account, { risk: { store } });
    const ea = run.ea();
    await ea.snapshot({ utc: Date.now(), seq: 1, balance: 10_000 });
    // A realized loss of 150 (limit 100), flat: the day is locked.
    await ea.snapshot({ utc: Date.now(), seq: 2, balance: 9_850, realized: -150 });
    await waitFor(async () => (await stored()).trading === "LOCKED_DAY", "the stored day lock");

    armed = true;
    const outcome = await account.store.configureElement(account.elementId, {
      trading: "ALLOWED",
    });
    assert.ok(outcome.ok, JSON.stringify(outcome));
    await waitFor(() => reads === 1, "the risk process to re-read the element");

    // Meanwhile equity falls under the drawdown floor (9,000) with a position open.
    const utc = Date.now();
    await ea.snapshot({
      utc,
      seq: 3,
      balance: 9_850,
      realized: -150,
      positions: [samplePosition({ ticket: 7, profit: -900 }, utc)],
    }, { locked: true });
    await waitFor(
      () => run.events.some((e) => e.type === "lock" && e.message.startsWith("LOCKED:")),
      "the permanent lock",
    );
    await waitFor(() => ea.received("close_all").length > 0, "close_all");
    const unlocksBefore = ea.received("unlock").length;
    openGate();
    await waitFor(
      () => run.events.some((e) => e.type === "unlock" || /unlock by a person not/.test(e.message)),
      "the unlock to be decided",
    );
    await sleep(300);
    const closesBefore = ea.received("close_all").length;
    // The position is still open: an enforced close_all is sent again after its backoff.
    for (let seq = 4; seq <= 6; seq++) {
      const at = Date.now();
      await ea.snapshot({
        utc: at,
        seq,
        balance: 9_850,
        realized: -150,
        positions: [samplePosition({ ticket: 7, profit: -900 }, at)],
      }, { locked: true });
      await sleep(400);
    }
    await waitFor(() => run.statuses.length >= 6, "6 snapshots");
    assert.equal(await run.stop(), undefined);

    const unlocks = run.events.filter((e) => e.type === "unlock");
    assert.deepEqual(unlocks.map((e) => e.message), [], "no unlock lifted the permanent lock");
    assert.equal(ea.received("unlock").length, unlocksBefore, "no unlock sent to the EA");
    const explained = run.events.find((e) => /unlock by a person not applied/.test(e.message));
    assert.ok(explained, run.events.map((e) => e.message).join(" | "));
    assert.match(explained.message, /LOCKED: .*drawdown/i);
    assert.ok(ea.received("close_all").length > closesBefore, "close_all still enforced");
    assert.equal(run.statuses.at(-1)?.trading, "LOCKED");
    const element = await stored();
    assert.equal(element.trading, "LOCKED");
    assert.match(element.lock_reason ?? "", /drawdown/i);
  } finally {
    await account.cleanup();
  }
});
