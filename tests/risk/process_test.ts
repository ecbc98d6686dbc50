/**
 * The risk process's lifecycle guarantees: lost lease, invalid element, restart mid-day,
 * webhook delivery, and the demo command run as a real process.
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { runRisk, WebhookNotifier } from "../../src/risk/mod.ts";
import { RiskGuardError } from "../../src/shared/errors.ts";
import { openStore } from "../../src/store/mod.ts";
import { eventsOf, freePortPair, runScenario, SIM_LOGIN } from "../support/risk_harness.ts";

Deno.test("a lost lease stops the risk process with LEASE_LOST", async () => {
  let takenOver = false;
  const result = await runScenario({
    scenario: "calm",
    element: {},
    risk: { timing: { pingIntervalMs: 200 } },
    wrapStore: (store) => {
      setTimeout(async () => {
        // Another manager takes the element over (as if this one had gone quiet).
        const [element] = await store.listElements();
        const parsed = element!.valid ? element!.element : undefined;
        await store.takeLease(parsed!._id, parsed!.instance_id!, {
          host: "other-host",
          now: Date.now(),
          staleAfterMs: 0,
        });
        takenOver = true;
      }, 1_000);
      return store;
    },
    maxMs: 10_000,
  });
  try {
    assert.ok(takenOver);
    assert.ok(result.error instanceof RiskGuardError, String(result.error));
    assert.equal(result.error.code, "LEASE_LOST");
    assert.equal(result.error.exitCode, 1);
  } finally {
    await result.cleanup();
  }
});

Deno.test("an invalid element is marked ERROR with the reason and refused with exit code 2", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/invalid.db`;
  const store = await openStore(`sqlite:${path}`);
  try {
    const instance = await store.addInstance({ path: "sim:calm", host: "h", port: freePortPair() });
    const inserted = await store.insertElement({ server: "S", login: SIM_LOGIN, password: "p" });
    assert.ok(inserted.ok);
    // Another system writes a broken document (negative limit) straight into the database.
    const db = new DatabaseSync(path);
    const row = db.prepare("SELECT doc FROM elements WHERE id = ?").get(inserted.element.id) as {
      doc: string;
    };
    const doc = JSON.parse(row.doc);
    doc.max_daily_loss = -50;
    db.prepare("UPDATE elements SET doc = ? WHERE id = ?").run(JSON.stringify(doc), doc._id);
    db.close();

    const error = await runRisk({
      store,
      elementId: inserted.element.id,
      host: "h",
      instanceId: instance._id,
      signal: AbortSignal.timeout(5_000),
    }).then(() => undefined, (caught) => caught);
    assert.ok(error instanceof RiskGuardError, String(error));
    assert.equal(error.code, "ELEMENT_INVALID");
    assert.equal(error.exitCode, 2);
    assert.match(error.message, /max_daily_loss/);
    const stored = await store.listElements();
    assert.equal(stored[0]!.valid, false);
    const raw = stored[0]!.valid ? undefined : stored[0]!.raw;
    assert.equal(raw?.status, "ERROR");
    assert.match(String((raw?.error as { message?: string })?.message), /max_daily_loss/);
  } finally {
    await store.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a restart mid-day keeps the day's baseline and the lock", async () => {
  const first = await runScenario({
    scenario: "losing_day",
    element: { max_daily_loss: "5%" },
    until: (status) => status.trading === "LOCKED_DAY",
    settleMs: 1_000,
  });
  try {
    const before = await first.store.getElement(first.elementId);
    assert.ok(before?.valid);
    const day = before.element.day;
    assert.ok(day !== null, "the day state was persisted");
    assert.equal(before.element.trading, "LOCKED_DAY");

    // The first process released its lease on stop, so the instance is found by listing.
    const [instance] = await first.store.listInstances();
    // Give the stored day a baseline no reconstruction could produce (a fresh simulator starts
    // at 10,000 with nothing realized), so only a restored day explains it after the restart.
    const lease = await first.store.takeLease(first.elementId, instance!._id, {
      host: "test-host",
      now: Date.now(),
      staleAfterMs: 0,
    });
    const marked = { ...day, start_balance: 12_000, start_equity: 12_000, baseline: 12_000 };
    await first.store.updateElement(lease, { day: { ...marked, high_equity: 12_000 } }, Date.now());
    await first.store.release(lease, { status: "INACTIVE" });

    // Same element, same store, new process: a fresh simulator, but the stored day and lock
    // must hold.
    const statuses: { trading: string; daily_pnl: number; equity: number }[] = [];
    await runRisk({
      store: first.store,
      elementId: first.elementId,
      host: "test-host",
      instanceId: instance!._id,
      signal: AbortSignal.timeout(2_500),
      sim: { seed: 11, speed: 4 },
      timing: { metricsIntervalMs: 200 },
      onStatus: (status) => statuses.push(status),
    });
    const after = await first.store.getElement(first.elementId);
    assert.ok(after?.valid);
    assert.equal(after.element.day?.date, day.date);
    assert.equal(after.element.day?.baseline, 12_000, "baseline kept across the restart");
    assert.ok(statuses.length > 0);
    for (const status of statuses) {
      assert.ok(
        Math.abs(status.daily_pnl - (status.equity - 12_000)) < 0.01,
        JSON.stringify(status),
      );
    }
    assert.ok(statuses.every((s) => s.trading === "LOCKED_DAY"), "still locked after restart");
  } finally {
    await first.cleanup();
  }
});

Deno.test("breaches and locks reach the webhook", async () => {
  const received: Array<{ kind: string; rule?: string; element_id: string }> = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (request) => {
    received.push(await request.json());
    return new Response(null, { status: 204 });
  });
  const notifier = new WebhookNotifier(`http://127.0.0.1:${server.addr.port}/hook`, {
    backoffMs: 10,
  });
  const result = await runScenario({
    scenario: "losing_day",
    element: { max_daily_loss: "5%" },
    risk: { notifier },
    until: (status) => status.trading === "LOCKED_DAY",
    settleMs: 500,
  });
  try {
    await notifier.flush();
    const lock = received.find((n) => n.kind === "lock");
    assert.ok(lock, JSON.stringify(received));
    assert.equal(lock.rule, "max_daily_loss");
    assert.equal(lock.element_id, result.elementId);
  } finally {
    await notifier.close();
    await server.shutdown();
    await result.cleanup();
  }
});

Deno.test("a start that fails after the lease is recorded on the element and the lease freed", async () => {
  const dir = await Deno.makeTempDir();
  const store = await openStore(`sqlite:${dir}/busy.db`);
  const port = freePortPair();
  const squatter = Deno.listen({ hostname: "127.0.0.1", port }); // another program has the port
  try {
    const instance = await store.addInstance({ path: "sim:calm", host: "h", port });
    const inserted = await store.insertElement({ server: "S", login: SIM_LOGIN, password: "p" });
    assert.ok(inserted.ok);
    const error = await runRisk({
      store,
      elementId: inserted.element.id,
      host: "h",
      instanceId: instance._id,
      signal: AbortSignal.timeout(5_000),
    }).then(() => undefined, (caught) => caught);
    assert.ok(error instanceof RiskGuardError, String(error));
    assert.equal(error.code, "BRIDGE_LOST");
    assert.match(error.message, new RegExp(`Cannot bind bridge on 127\\.0\\.0\\.1:${port}`));
    const element = await store.getElement(inserted.element.id);
    assert.ok(element?.valid);
    assert.equal(element.element.error?.code, "BRIDGE_LOST");
    assert.equal(element.element.instance_id, null, "lease released");
    const events = await store.listEvents(inserted.element.id);
    assert.ok(events.some((e) => e.type === "error" && /risk process failed/.test(e.message)));
  } finally {
    squatter.close();
    await store.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a day lock that would end in the past holds until the end of the trading day", async () => {
  const dir = await Deno.makeTempDir();
  const plugin = `${dir}/past_lock.ts`;
  await Deno.writeTextFile(
    plugin,
    `export default {
      id: "past_lock",
      evaluate: () => [{ type: "lock", scope: "day", until: 1, reason: "lock ending in 1970" }],
    };\n`,
  );
  const result = await runScenario({
    scenario: "calm",
    element: {},
    risk: { ruleFiles: [plugin] },
    until: (status) => status.trading === "LOCKED_DAY" && status.seq >= 10,
    settleMs: 500,
  });
  try {
    assert.equal(result.error, undefined);
    assert.equal(eventsOf(result.events, "lock").length, 1, "locked once, no flapping");
    assert.equal(eventsOf(result.events, "unlock").length, 0);
    const element = await result.store.getElement(result.elementId);
    assert.ok(element?.valid);
    assert.ok((element.element.locked_until ?? 0) > Date.now(), "the lock ends in the future");
  } finally {
    await result.cleanup();
    await Deno.remove(dir, { recursive: true });
  }
});
