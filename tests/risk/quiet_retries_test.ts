/**
 * Issue 11 item 3: unconfirmed commands are resent and escalated on their own timers, in a
 * quiet market too (the EA sends only heartbeats carrying the last snapshot's `seq`), and a
 * resend of the same command with the same id is recorded as a `command` event.
 */
import assert from "node:assert/strict";
import { samplePosition } from "../../src/rules/samples.ts";
import type { AckPolicy } from "../support/scripted_ea.ts";
import { scriptedAccount, sleep, startScripted, waitFor } from "./_scripted_run.ts";

/** Equity 9,400 on a 10,000 day: over a 500 daily loss limit. */
function losingSnapshot(seq: number) {
  const utc = Date.now();
  return {
    utc,
    seq,
    balance: 10_000,
    positions: [samplePosition({ ticket: 11, profit: -600 }, utc)],
  };
}

Deno.test("quiet market: an acked close that never shows is resent and escalated on a timer", async () => {
  const account = await scriptedAccount({ max_daily_loss: 500 });
  try {
    const run = await startScripted(account, {
      risk: { timing: { retryBaseMs: 200, escalateAfter: 3 } },
    });
    const ea = run.ea();
    // The EA acks every command as done but keeps showing the position, then goes quiet.
    await ea.snapshot(losingSnapshot(1));
    await waitFor(() => ea.received("close_all").length >= 1, "the first close_all");
    let quiet = true;
    const heartbeats = (async () => {
      while (quiet) {
        await ea.heartbeat(1);
        await sleep(100);
      }
    })();
    // Backoff 200, 400, 800 ms: attempt 4 (and the escalation) ~1.4 s after the first.
    await waitFor(
      () => run.events.some((e) => e.detail.escalation === true && /^close_all/.test(e.message)),
      "the escalation of close_all",
      4_000,
    );
    // Escalation is due by count or by time (200 + 400 + 800 ms after the first attempt),
    // whichever comes first; retries go on after it.
    await waitFor(() => ea.received("close_all").length >= 4, "a fourth close_all");
    quiet = false;
    await heartbeats;
    assert.equal(await run.stop(), undefined);
    assert.ok(
      ea.received("close_all").length >= 4,
      `close_all x${ea.received("close_all").length}`,
    );
    const closes = run.events.filter((e) => e.type === "command" && e.detail.type === "close_all");
    assert.deepEqual(closes.slice(0, 4).map((e) => e.detail.attempt), [1, 2, 3, 4]);
    const escalations = run.events.filter((e) => e.detail.escalation === true);
    const close = escalations.filter((e) => /^close_all/.test(e.message));
    assert.equal(close.length, 1, "escalated once");
    assert.equal(close[0]!.type, "error");
    assert.match(
      close[0]!.message,
      /^close_all still not done after [23] attempt\(s\) in [\d.]+ s: daily loss/,
    );
    assert.ok(Number(close[0]!.detail.elapsed_ms) >= 1_400 || close[0]!.detail.attempts === 3);
    assert.equal(run.statuses.length, 1, "no snapshot arrived after the first one");
  } finally {
    await account.cleanup();
  }
});

Deno.test("a same-id resend after a missing ack is recorded as a command event", async () => {
  const account = await scriptedAccount({ max_daily_loss: 500 });
  try {
    // The EA misses the first delivery of each command and acks the resend.
    const seen = new Set<string>();
    const missFirst: AckPolicy = (command) => {
      if (seen.has(command.id)) return { ok: true, retcode: 10009, duplicate: false };
      seen.add(command.id);
      return undefined;
    };
    const run = await startScripted(account, {
      ackPolicy: missFirst,
      risk: { timing: { ackTimeoutMs: 300, retryBaseMs: 5_000 } },
    });
    await run.ea().snapshot(losingSnapshot(1));
    await waitFor(
      () => run.events.some((e) => e.type === "ack" && e.detail.command === "lock"),
      "the ack of the resent lock",
    );
    assert.equal(await run.stop(), undefined);
    const locks = run.ea().received("lock");
    assert.equal(locks.length, 2);
    assert.equal(locks[0]!.command.id, locks[1]!.command.id, "resent with the same id");
    const commands = run.events.filter((e) => e.type === "command" && e.detail.type === "lock");
    assert.deepEqual(commands.map((e) => [e.detail.attempt, e.detail.delivery]), [
      [1, undefined],
      [1, 2],
    ]);
    assert.match(commands[1]!.message, /^lock resent with the same id \(attempt 1, delivery 2\)$/);
    assert.equal(commands[1]!.detail.id, locks[0]!.command.id);
  } finally {
    await account.cleanup();
  }
});

Deno.test("an EA that never acks: escalation on time since the first attempt, while it still waits", async () => {
  const account = await scriptedAccount({ max_daily_loss: 500 });
  try {
    // The EA's command channel is dead (no ack ever); heartbeats still flow. The bridge waits
    // 30 s per delivery, so counting attempts alone would not escalate for 90 s.
    const run = await startScripted(account, {
      ackPolicy: () => undefined,
      risk: { timing: { ackTimeoutMs: 30_000, retryBaseMs: 200, escalateAfter: 3 } },
    });
    const ea = run.ea();
    await ea.snapshot(losingSnapshot(1));
    let quiet = true;
    const heartbeats = (async () => {
      while (quiet) {
        await ea.heartbeat(1);
        await sleep(100);
      }
    })();
    await waitFor(
      () => run.events.some((e) => e.detail.escalation === true && /^close_all/.test(e.message)),
      "the escalation of close_all while its first attempt waits for an ack",
      10_000,
    );
    quiet = false;
    await heartbeats;
    const escalation = run.events.find((e) =>
      e.detail.escalation === true && /^close_all/.test(e.message)
    )!;
    assert.equal(escalation.detail.attempts, 1, "the first attempt was still waiting");
    assert.ok(Number(escalation.detail.elapsed_ms) >= 1_400, "after 200 + 400 + 800 ms");
    assert.equal(ea.received("close_all").length, 1, "no second attempt while the first waits");
    assert.equal(await run.stop(), undefined);
  } finally {
    await account.cleanup();
  }
});
