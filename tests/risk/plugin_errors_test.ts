/**
 * A plugin that throws on every snapshot, in the real risk process (issue 11 item 13): its
 * errors are recorded with the plugin's line and the snapshot's server time, and it is
 * suspended with backoff instead of flooding the audit trail (13 events in 3 s before).
 */
import assert from "node:assert/strict";
import { eventsOf, runScenario } from "../support/risk_harness.ts";

Deno.test("a throwing plugin is suspended: a few events with its line and server_time, no flood", async () => {
  const throws = new URL("../rules/fixtures/throws.ts", import.meta.url).pathname;
  const result = await runScenario({
    scenario: "calm",
    element: {},
    risk: { ruleFiles: [throws] },
    until: () => false, // run for maxMs
    maxMs: 3_000,
  });
  try {
    assert.equal(result.error, undefined);
    const errors = eventsOf(result.events, "error").filter((e) =>
      e.message.startsWith("rule plugin always_throws threw")
    );
    // 3 failures in a row suspend it for 1 s, then one more failure suspends it for 2 s.
    assert.ok(errors.length >= 3 && errors.length <= 4, errors.map((e) => e.message).join("\n"));
    const first = errors[0]!;
    assert.match(first.message, /threw at .*\/throws\.ts:12: boom from a fixture$/);
    assert.equal(typeof first.server_time, "number");
    assert.equal((first.detail as { line?: number }).line, 12);
    assert.match(errors[2]!.message, /suspended for 1000 ms after 3 failures in a row/);
  } finally {
    await result.cleanup();
  }
});
