/**
 * Review of issues 9/11, F1: a reason longer than the protocol allows (200 characters) must not
 * stop a lock or a close from reaching the EA. The executor cuts it to the limit before sending,
 * and the bridge validates every outgoing command against the protocol's schema.
 */
import assert from "node:assert/strict";
import { MAX_REASON_LENGTH } from "../../src/mt5/protocol.ts";
import { samplePosition } from "../../src/rules/samples.ts";
import { scriptedAccount, startScripted, waitFor } from "./_scripted_run.ts";

Deno.test("a plugin's lock and close_all with a 260-character reason reach the EA, cut to 200", async () => {
  const dir = await Deno.makeTempDir();
  const plugin = `${dir}/news.ts`;
  const reason = "news window: " + "NFP, CPI, FOMC minutes and ECB press conference; ".repeat(5);
  assert.ok(reason.length > 200, `reason of ${reason.length} characters`);
  await Deno.writeTextFile(
    plugin,
    `export default { id: "news_lock",
      evaluate: ({ now }) => [
        { type: "lock", scope: "day", until: now + 3_600_000, reason: ${JSON.stringify(reason)} },
        { type: "close_all", reason: ${JSON.stringify(reason)} },
      ] };\n`,
  );
  const account = await scriptedAccount({});
  try {
    const run = await startScripted(account, { risk: { ruleFiles: [plugin] } });
    const ea = run.ea();
    const utc = Date.now();
    await ea.snapshot({ utc, seq: 1, positions: [samplePosition({ ticket: 7 }, utc)] });
    await waitFor(() => ea.received("lock").length >= 1, "the lock at the EA");
    await waitFor(() => ea.received("close_all").length >= 1, "the close_all at the EA");
    assert.equal(await run.stop(), undefined);
    for (const type of ["lock", "close_all"] as const) {
      const command = ea.received(type)[0]!.command as { reason: string };
      assert.equal(command.reason.length, MAX_REASON_LENGTH, `${type} reason length`);
      assert.equal(command.reason, reason.slice(0, MAX_REASON_LENGTH - 1) + "…");
    }
    const errors = run.events.filter((e) => e.type === "error");
    assert.deepEqual(errors.map((e) => e.message), []);
    // People still read the whole reason on the element.
    const stored = await account.store.getElement(account.elementId);
    assert.ok(stored?.valid);
    assert.equal(stored.element.lock_reason, reason);
  } finally {
    await account.cleanup();
    await Deno.remove(dir, { recursive: true });
  }
});
