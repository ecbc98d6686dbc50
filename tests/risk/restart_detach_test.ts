/**
 * Review of issue 11, F7: a terminal restart (after a long EA silence) that is still under way
 * when the session detaches must neither listen to the bridge it opens nor start a terminal for
 * it: after detach nothing is enforced, and a terminal started then would be orphaned.
 */
import assert from "node:assert/strict";
import { logger } from "../../src/shared/logging.ts";
import type { BridgeEvent } from "../../src/mt5/bridge.ts";
import type { LaunchTerminalOptions, TerminalHandle } from "../../src/mt5/terminal.ts";
import { AuditTrail, type RiskEvent } from "../../src/risk/audit_trail.ts";
import { TerminalSession } from "../../src/risk/terminal_session.ts";
import { systemClock } from "../../src/shared/clock.ts";
import { type ScriptedEa, scriptedTerminal } from "../support/scripted_ea.ts";
import { scriptedAccount, waitFor } from "./_scripted_run.ts";

Deno.test("a terminal restart under way at detach neither listens to its bridge nor starts a terminal", async () => {
  const account = await scriptedAccount({});
  const parsed = await account.store.getElement(account.elementId);
  const instance = await account.store.getInstance(account.instanceId);
  assert.ok(parsed?.valid && instance !== null);
  const element = parsed.element;
  const log = logger("test", "restart-detach");
  const events: RiskEvent[] = [];
  const audit = new AuditTrail({
    elementId: account.elementId,
    host: "test-host",
    clock: systemClock,
    store: { appendEvent: () => {} },
    onEvent: (event) => events.push(event),
    account: () => element,
    log,
  });
  // The first terminal stops only when the test says so: the restart is held there while the
  // session detaches. A terminal started later says hello at once (as a real EA would).
  const eas: ScriptedEa[] = [];
  let stopAsked = false;
  let releaseStop: () => void = () => {};
  const stopGate = new Promise<void>((resolve) => releaseStop = resolve);
  const scripted = scriptedTerminal((ea) => eas.push(ea));
  const launch = async (options: LaunchTerminalOptions): Promise<TerminalHandle> => {
    const handle = await scripted(options);
    const ea = eas.at(-1)!;
    if (eas.length === 1) {
      return {
        ...handle,
        stop: async () => {
          stopAsked = true;
          await stopGate;
          await handle.stop();
        },
      };
    }
    await ea.hello();
    return handle;
  };
  const bridgeEvents: BridgeEvent[] = [];
  const stop = new AbortController();
  const session = new TerminalSession({
    instance,
    pathway: "scripted",
    element: () => element,
    secretKey: undefined,
    clock: systemClock,
    ackTimeoutMs: 2_000,
    snapshotAlarmMs: 60_000,
    terminalRestartMs: 200,
    launch,
    onBridgeEvent: (event) => bridgeEvents.push(event),
    audit,
    signal: stop.signal,
    log,
  });
  let watching: Promise<void> | undefined;
  try {
    await session.open();
    const firstBridge = session.bridge;
    // The EA never says hello: after 200 ms of silence the terminal is restarted.
    watching = session.restartWhenSilent(stop.signal);
    await waitFor(() => stopAsked, "the restart to stop the silent terminal");
    assert.ok(events.some((e) => /restarting the terminal/.test(e.message)), "restart recorded");

    const detached = session.detach();
    const seenAtDetach = bridgeEvents.length;
    releaseStop();
    await detached;
    // The restart went on to bind a new bridge (closed by closeBridge below) ...
    assert.notEqual(session.bridge, firstBridge, "the restart opened its new bridge");
    // ... but listens to nothing (a terminal started for it would say hello at once) ...
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.deepEqual(bridgeEvents.slice(seenAtDetach).map((e) => e.type), [], "no bridge event");
    // ... and started no terminal for it.
    assert.equal(eas.length, 1, "no terminal started after detach");
    assert.ok(
      !events.some((e) => /terminal restart failed/.test(e.message)),
      events.map((e) => e.message).join(" | "),
    );
  } finally {
    stop.abort();
    releaseStop();
    await watching;
    await session.closeBridge();
    await session.stopTerminal();
    for (const ea of eas) await ea.close();
    await account.cleanup();
  }
});
