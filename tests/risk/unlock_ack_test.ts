/**
 * Every action is recorded in `events`, the unlock sent to the EA too: its acknowledgement is
 * an `ack` event (done or failed, with the retcode), as the protective commands' are.
 */
import assert from "node:assert/strict";
import type { AckPolicy } from "../support/scripted_ea.ts";
import { scriptedAccount, startScripted, unlockedWhileStopped, waitFor } from "./_scripted_run.ts";

for (
  const [name, policy, message] of [
    ["done", () => ({ ok: true, retcode: 10009 }), "unlock done (retcode 10009)"],
    [
      "refused",
      (command) =>
        command.type === "unlock" ? { ok: false, retcode: 10027 } : { ok: true, retcode: 10009 },
      "unlock failed (retcode 10027)",
    ],
  ] as [string, AckPolicy, string][]
) {
  Deno.test(`the EA's ack of an unlock (${name}) is recorded as an ack event`, async () => {
    const account = await scriptedAccount({});
    try {
      await unlockedWhileStopped(account);
      const run = await startScripted(account, { ackPolicy: policy });
      const ea = run.ea();
      await ea.snapshot({ utc: Date.now(), seq: 1 }, { locked: true, locked_until: 0 });
      await waitFor(() => ea.received("unlock").length >= 1, "the unlock at the EA");
      await waitFor(
        () => run.events.some((e) => e.type === "ack" && e.detail.command === "unlock"),
        "the unlock's ack event",
      );
      assert.equal(await run.stop(), undefined);
      const ack = run.events.find((e) => e.type === "ack" && e.detail.command === "unlock")!;
      assert.equal(ack.message, message);
      assert.equal(ack.detail.id, ea.received("unlock")[0]!.command.id);
      const stored = await account.store.listEvents(account.elementId, { limit: 1_000 });
      assert.ok(
        stored.some((e) => e.type === "ack" && e.message === message),
        "the ack is in the store",
      );
    } finally {
      await account.cleanup();
    }
  });
}
