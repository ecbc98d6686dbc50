/**
 * Review of issues 9/11, F4: closes still being enforced with a lock survive a restart. The
 * element keeps `flatten_pending`; the next process takes the targets up again instead of
 * leaving the positions open.
 */
import assert from "node:assert/strict";
import { samplePosition } from "../../src/rules/samples.ts";
import { scriptedAccount, sleep, startScripted, waitFor } from "./_scripted_run.ts";

Deno.test("a restart while locked with close_all unconfirmed closes the positions again", async () => {
  const dir = await Deno.makeTempDir();
  const plugin = `${dir}/flatten.ts`;
  await Deno.writeTextFile(
    plugin,
    `export default { id: "news_flat",
      evaluate: () => [
        { type: "lock", scope: "permanent", until: 0, reason: "flat before the news" },
        { type: "close_all", reason: "flat before the news" },
      ] };\n`,
  );
  const account = await scriptedAccount({});
  try {
    // First process: the EA takes the lock, but the close never shows done before the stop.
    const first = await startScripted(account, {
      risk: { ruleFiles: [plugin], timing: { retryBaseMs: 60_000 } },
    });
    const utc = Date.now();
    const two = [samplePosition({ ticket: 1 }, utc), samplePosition({ ticket: 2 }, utc)];
    await first.ea().snapshot({ utc, seq: 1, positions: two });
    await waitFor(() => first.ea().received("close_all").length >= 1, "the first close_all");
    await first.ea().snapshot({ utc: Date.now(), seq: 2, positions: two }, {
      locked: true,
      locked_until: 0,
    });
    await waitFor(() => first.statuses.length >= 2, "the locked snapshot");
    await waitFor(async () => {
      const stored = await account.store.getElement(account.elementId);
      return stored?.valid === true && stored.element.flatten_pending.includes("close_all");
    }, "flatten_pending stored with the lock");
    assert.equal(await first.stop(), undefined);

    // Second process, without the plugin: the lock's close is taken up again.
    const second = await startScripted(account, { risk: { timing: { leaseStaleMs: 1_000 } } });
    const ea = second.ea();
    await ea.snapshot({ utc: Date.now(), seq: 1, positions: two }, {
      locked: true,
      locked_until: 0,
    });
    await waitFor(() => ea.received("close_all").length >= 1, "close_all after the restart");
    // The EA closes them: the target is confirmed and the element forgets it.
    await ea.snapshot({ utc: Date.now(), seq: 2, positions: [] }, {
      locked: true,
      locked_until: 0,
    });
    await waitFor(async () => {
      const stored = await account.store.getElement(account.elementId);
      return stored?.valid === true && stored.element.flatten_pending.length === 0;
    }, "flatten_pending cleared once confirmed");
    await sleep(100);
    assert.equal(await second.stop(), undefined);
    assert.ok(second.events.some((e) => /^close_all confirmed by snapshot/.test(e.message)));
    assert.ok(second.statuses.every((s) => s.trading === "LOCKED"));
  } finally {
    await account.cleanup();
    await Deno.remove(dir, { recursive: true });
  }
});
