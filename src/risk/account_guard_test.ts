import assert from "node:assert/strict";
import type { Ack } from "../mt5/protocol.ts";
import type { Store } from "../store/mod.ts";
import { order, position, snapshot } from "../../tests/support/snapshots.ts";
import { testAccount } from "../../tests/support/test_account.ts";
import { AccountGuard } from "./account_guard.ts";
import type { CommandSender } from "./executor.ts";
import type { RiskEvent } from "./audit_trail.ts";
import { riskSettingsOf } from "./live_config.ts";
import type { WebhookNotifier } from "./notifier.ts";
import { RulePlugins } from "./rule_plugins.ts";

/** What the guard's writer asked of the store: each element update's patch. */
type Updates = Record<string, unknown>[];

/**
 * A guard on a daily loss limit of 100 (and the element fields of `more`) whose commands go to
 * `sender`; `trace` hears it all, `updates` gets the element updates' patches.
 */
function guardOf(
  sender: CommandSender,
  trace: string[],
  records: RiskEvent[] = [],
  more: { element?: Record<string, unknown>; updates?: Updates } = {},
) {
  // Every store call is traced; none may come before the commands.
  const store = new Proxy({}, {
    get: (_, name) => (...args: unknown[]) => {
      trace.push(`store ${String(name)}`);
      if (name === "updateElement") more.updates?.push(args[1] as Record<string, unknown>);
      return Promise.resolve(undefined);
    },
  }) as Store;
  const notifier = {
    notify: (n: { kind: string }) => trace.push(`notify ${n.kind}`),
  } as unknown as WebhookNotifier;
  const { element, clock, log, writer, audit } = testAccount({
    store,
    fields: { max_daily_loss: 100, ...more.element },
    notifier,
    onEvent: (event) => {
      trace.push(`event ${event.type}`);
      records.push(event);
    },
    name: "account_guard",
  });
  const plugins = new RulePlugins({
    ruleFiles: [],
    clock,
    audit,
    writer,
    log,
    protectedPaths: [],
  });
  const guard = new AccountGuard({
    element,
    settings: riskSettingsOf(element),
    sender,
    clock,
    dryRun: false,
    retryBaseMs: 1_000,
    escalateAfter: 3,
    plugins,
    audit,
    writer,
    stale: () => false,
    onStatus: () => trace.push("status"),
    signal: new AbortController().signal,
    log,
  });
  return { guard, writer, clock };
}

/** Equity 9,500 on a day that started at 10,000: a daily loss of 500 against a limit of 100. */
function breaching() {
  const base = snapshot();
  return snapshot({
    positions: [position({ profit: -500 })],
    orders: [order()],
    account: { ...base.account, equity: 9_500 },
  });
}

Deno.test("account guard: a breach's commands leave before its events, store writes and notifications", async () => {
  const trace: string[] = [];
  const { guard, writer } = guardOf({
    send(command) {
      trace.push(`send ${command.type}`);
      return new Promise<Ack>(() => {});
    },
  }, trace);
  guard.onSnapshot(breaching());
  const sends = trace.filter((line) => line.startsWith("send "));
  assert.deepEqual(sends, ["send lock", "send cancel_orders", "send close_all"]);
  const firstOther = trace.findIndex((line) => !line.startsWith("send "));
  assert.equal(firstOther, 3, trace.join(" | "));
  assert.ok(trace.includes("event breach") && trace.includes("event lock"), trace.join(" | "));
  assert.ok(trace.includes("notify lock"), trace.join(" | "));
  assert.ok(!trace.some((line) => line.startsWith("store ")), "no store write in that turn");
  assert.equal(await writer.flush(2_000), true);
  assert.ok(trace.some((line) => line === "store updateElement"), "the lock is written after");
  await writer.close();
});

Deno.test("account guard: an unlock acked after its send gave up is recorded, marked late", async () => {
  const trace: string[] = [];
  const records: RiskEvent[] = [];
  let late: ((ack: Ack) => void) | undefined;
  const { guard, writer } = guardOf(
    {
      send(command, options) {
        if (command.type !== "unlock") return new Promise<Ack>(() => {});
        late = options?.onLateAck;
        return Promise.reject(new Error("no ack within 5000 ms"));
      },
    },
    trace,
    records,
  );
  guard.onSnapshot(breaching());
  guard.unlock("unlocked by a person (test)", Date.UTC(2026, 10, 24, 11));
  await new Promise((resolve) => setTimeout(resolve, 0));
  assert.ok(late !== undefined, "the unlock was sent with a late-ack handler");
  assert.ok(records.some((e) => e.type === "error" && /unlock command failed/.test(e.message)));
  late({ type: "ack", id: "u1", ok: true, retcode: 0 });
  const ack = records.find((e) => e.type === "ack" && /^unlock done/.test(e.message));
  assert.ok(ack !== undefined, records.map((e) => e.message).join(" | "));
  assert.match(ack.message, /after the ack timeout/);
  assert.equal(ack.detail.late, true);
  await writer.close();
});

Deno.test("account guard: new warnings within a second write the day's warnings once, the rest with the next write", async () => {
  const updates: Updates = [];
  const { guard, writer, clock } = guardOf(
    { send: () => new Promise<Ack>(() => {}) },
    [],
    [],
    { element: { max_position_risk: 10 }, updates },
  );
  // Each position without a stop loss is warned about once a day (max_position_risk).
  const open = (count: number) =>
    snapshot({
      positions: Array.from({ length: count }, (_, i) => position({ ticket: 1001 + i, sl: 0 })),
    });
  const warnedWrites = async () => {
    assert.equal(await writer.flush(2_000), true);
    return updates.filter((patch) => "day" in patch && !("peak" in patch)).map((patch) =>
      (patch.day as { notified?: string[] }).notified?.length
    );
  };
  guard.onSnapshot(open(1)); // the day's first snapshot: the day is written, with its warning
  guard.onSnapshot(open(2)); // a new warning: written
  assert.deepEqual(await warnedWrites(), [2]);
  guard.onSnapshot(open(3)); // two more within the second: kept for the next write
  guard.onSnapshot(open(4));
  assert.deepEqual(await warnedWrites(), [2]);
  guard.flushNotified(); // the resend timer's call: still within the second
  assert.deepEqual(await warnedWrites(), [2]);
  clock.advance(1_000);
  guard.onSnapshot(open(4)); // nothing new, but the second is over: the two go now
  assert.deepEqual(await warnedWrites(), [2, 4]);
  guard.onSnapshot(open(4));
  assert.deepEqual(await warnedWrites(), [2, 4]);
  // Kept back again, then no snapshot (a quiet market): the timer writes it once the second ends.
  guard.onSnapshot(open(5));
  assert.deepEqual(await warnedWrites(), [2, 4]);
  clock.advance(1_000);
  guard.flushNotified();
  assert.deepEqual(await warnedWrites(), [2, 4, 5]);
  // Kept back, then the stop: written at once.
  guard.onSnapshot(open(6));
  assert.deepEqual(await warnedWrites(), [2, 4, 5]);
  guard.flushNotified(true);
  assert.deepEqual(await warnedWrites(), [2, 4, 5, 6]);
  guard.flushNotified(true); // nothing kept back: nothing written
  assert.deepEqual(await warnedWrites(), [2, 4, 5, 6]);
  await writer.close();
});
