/**
 * Drill: the EA's connection misbehaves while a real risk process guards a losing account
 * (`riskguard --mode risk`, the simulator inside it, faults from its trigger file, see
 * `src/mt5/sim/ea.ts`):
 *
 * 1. the connection drops in the middle of a snapshot frame;
 * 2. a corrupted frame stream (not UTF-8, not JSON, unknown type, invalid snapshot, two-frame
 *    message, then bytes that are no ZMTP frame);
 * 3. after the breach is enforced, the EA goes silent (connected, sends nothing) for longer than
 *    the terminal restart threshold.
 *
 * Must hold: the half frame and the bad messages are dropped and counted without ending the
 * session, the EA reconnects and data flows again, the breach is enforced in time, the silence
 * ends in a terminal restart recorded as an error event, and the restarted terminal is locked
 * at once; the oracle finds nothing missed, no false lock and no lost event.
 */
import assert from "node:assert/strict";
import { openStore } from "../../src/store/mod.ts";
import {
  addDrillAccount,
  allEvents,
  DRILL_TIMING,
  lastAccountState,
  startRiskProcess,
  truthLines,
  verdictOf,
  waitFor,
} from "../support/risk_process.ts";
import type { TruthLine } from "../support/oracle.ts";

/** Asks the simulated EA for a fault (written whole, then renamed: the EA never reads half). */
async function fault(file: string, text: string): Promise<void> {
  await Deno.writeTextFile(`${file}.tmp`, text);
  await Deno.rename(`${file}.tmp`, file);
}

/** Index of the first line after `from` that satisfies `test`, or undefined. */
function after(lines: TruthLine[], from: number, test: (line: TruthLine) => boolean) {
  const index = lines.findIndex((line, i) => i > from && test(line));
  return index < 0 ? undefined : index;
}

Deno.test("connection faults: cut mid-snapshot, corrupted frames, long silence; still protected", async () => {
  const dir = await Deno.makeTempDir({ prefix: "riskguard-drill-" });
  const spec = `sqlite:${dir}/drill.db`;
  const store = await openStore(spec);
  const faultFile = `${dir}/fault`;
  try {
    const account = await addDrillAccount(store, {
      scenario: "losing_day",
      element: { max_daily_loss: "5%" },
      dir,
      speed: 2,
      sim: { faultFile },
    });
    const risk = startRiskProcess({ store: { spec, db: "riskguard" }, account, logLevel: "debug" });
    try {
      const lines = () => truthLines(account.truthPath);
      await waitFor(
        "the first snapshot",
        async () => (await lines()).some((l) => l.type === "snapshot"),
        20_000,
        risk.output,
      );

      // 1. The connection drops in the middle of a snapshot; the EA connects again.
      await fault(faultFile, "cut");
      await waitFor(
        "a snapshot after the cut",
        async () => {
          const all = await lines();
          const cut = all.findIndex((l) => l.type === "fault" && l.fault === "cut");
          const hello = cut < 0 ? undefined : after(all, cut, (l) => l.type === "hello");
          return hello !== undefined &&
            after(all, hello, (l) => l.type === "snapshot") !== undefined;
        },
        15_000,
        risk.output,
      );

      // 2. A corrupted frame stream; the EA connects again.
      await fault(faultFile, "garbage");
      await waitFor(
        "a snapshot after the corrupted stream",
        async () => {
          const all = await lines();
          const bad = all.findIndex((l) => l.type === "fault" && l.fault === "garbage");
          const hello = bad < 0 ? undefined : after(all, bad, (l) => l.type === "hello");
          return hello !== undefined &&
            after(all, hello, (l) => l.type === "snapshot") !== undefined;
        },
        15_000,
        risk.output,
      );

      // The breach is enforced after both faults.
      await waitFor(
        "the account locked and flat",
        async () => {
          const state = await lastAccountState(account.truthPath);
          return state?.locked === true && state.positions === 0 && state.orders === 0;
        },
        30_000,
        risk.output,
      );

      // 3. Silence beyond the restart threshold: the terminal is restarted and locked again.
      const silenceMs = DRILL_TIMING.terminalRestartMs! + 4_000;
      await fault(faultFile, `silent ${silenceMs}`);
      await waitFor(
        "the restarted terminal locked and flat",
        async () => {
          const runs = (await lines()).filter((l) => l.type === "start").length;
          const state = await lastAccountState(account.truthPath);
          return runs >= 2 && state?.locked === true && state.positions === 0 && state.orders === 0;
        },
        30_000,
        risk.output,
      );
      await new Promise((resolve) => setTimeout(resolve, 1_500)); // the confirmation lands
    } finally {
      assert.equal(await risk.stop(), 0, risk.output());
    }

    const output = risk.output();
    for (const reason of ["not_utf8", "not_json", "unknown_type", "invalid", "multipart"]) {
      assert.match(output, new RegExp(`dropped a bridge message \\(${reason}\\)`), reason);
    }
    assert.match(output, /protocol error/i, "the bytes that are no frame ended that connection");
    const all = await truthLines(account.truthPath);
    assert.equal(all.filter((l) => l.type === "fault").length, 3, "three faults performed");
    assert.ok(
      all.filter((l) => l.type === "hello").length >= 3,
      "hello after start and after each reconnect",
    );

    const events = await allEvents(store, account.elementId);
    assert.ok(
      events.some((e) => e.type === "error" && /restarting the terminal/.test(e.message)),
      "the silence ended in a recorded terminal restart",
    );
    const element = await store.getElement(account.elementId);
    assert.ok(element?.valid);
    assert.equal(element.element.trading, "LOCKED_DAY");

    const { verdict, summary } = await verdictOf(store, account);
    assert.ok(verdict.ok, summary);
    assert.ok(verdict.enforced >= 1, summary);
  } finally {
    await store.close();
    await Deno.remove(dir, { recursive: true });
  }
});
