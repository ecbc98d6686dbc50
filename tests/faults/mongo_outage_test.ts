/**
 * Drill: the way from a real risk process to MongoDB is cut for 30 s while the account breaches
 * its daily loss limit, then restored. The mongo test server keeps its data in memory, so the
 * outage is a loopback TCP proxy between the two (`tests/support/tcp_proxy.ts`) that breaks
 * every connection and refuses new ones: to the risk process the database is gone.
 *
 * Must hold: enforcement never pauses (locked and flat during the outage, in the oracle's
 * target time), and every event written during the outage reaches the store afterwards, in
 * order, exactly once (the oracle's event check, plus unique ids and ordered times).
 *
 * Skipped, with the reason printed, when no MongoDB test server can be started (in CI that is an
 * error: see `tests/support/mongo_server.ts`).
 */
import assert from "node:assert/strict";
import { openStore } from "../../src/store/mod.ts";
import { startMongo } from "../support/mongo_server.ts";
import { startTcpProxy } from "../support/tcp_proxy.ts";
import {
  addDrillAccount,
  lastAccountState,
  startRiskProcess,
  verdictOf,
  waitFor,
} from "../support/risk_process.ts";

const OUTAGE_MS = 30_000;

const mongo = await startMongo();
if (!mongo.ok) console.log(`IGNORED MongoDB outage drill: ${mongo.reason}`);

Deno.test({
  name:
    "MongoDB unreachable for 30 s: enforcement never pauses, every event arrives once, in order",
  ignore: !mongo.ok,
  fn: async () => {
    if (!mongo.ok) return;
    const server = mongo.server;
    const target = new URL(server.uri);
    const proxy = startTcpProxy({ hostname: target.hostname, port: Number(target.port) });
    const db = `rg_outage_${crypto.randomUUID().replaceAll("-", "").slice(0, 10)}`;
    const store = await openStore(server.uri, { db });
    const dir = await Deno.makeTempDir({ prefix: "riskguard-drill-" });
    try {
      const account = await addDrillAccount(store, {
        scenario: "losing_day",
        element: { max_daily_loss: "5%" },
        dir,
        speed: 2,
      });
      // Only through the proxy: a direct connection, not the server's own address list.
      const spec = `mongodb://127.0.0.1:${proxy.port}/?directConnection=true`;
      const risk = startRiskProcess({ store: { spec, db }, account });
      let cutAt = 0;
      try {
        await waitFor(
          "the account guarded (first snapshots and a ping through the proxy)",
          async () => {
            const state = await lastAccountState(account.truthPath);
            const element = await store.getElement(account.elementId);
            const pinged = element?.valid === true && element.element.last_ping !== null;
            return state !== undefined && state.positions > 0 && pinged;
          },
          30_000,
          risk.output,
        );
        proxy.cut();
        cutAt = Date.now();
        await waitFor(
          "the account locked and flat while the database is unreachable",
          async () => {
            const state = await lastAccountState(account.truthPath);
            return state?.locked === true && state.positions === 0 && state.orders === 0;
          },
          OUTAGE_MS,
          risk.output,
        );
        const enforcedAfter = Date.now() - cutAt;
        assert.ok(enforcedAfter < OUTAGE_MS, "enforced during the outage");
        console.log(`locked and flat ${enforcedAfter} ms into the outage`);
        await new Promise((resolve) => setTimeout(resolve, OUTAGE_MS - (Date.now() - cutAt)));
        proxy.restore();
        // Every queued write is flushed once the database is back.
        await waitFor(
          "the outage's events in the store",
          async () => {
            const events = await store.listEvents(account.elementId, { limit: 100_000 });
            return events.some((e) => e.type === "ack" && e.at > cutAt) &&
              events.some((e) => e.type === "lock" && e.at > cutAt);
          },
          60_000,
          risk.output,
        );
        await new Promise((resolve) => setTimeout(resolve, 2_000));
      } finally {
        proxy.restore();
        assert.equal(await risk.stop(), 0, risk.output());
      }

      const { verdict, summary, events } = await verdictOf(store, account);
      assert.ok(verdict.ok, summary);
      assert.ok(verdict.enforced >= 1, summary);
      const during = events.filter((e) => e.at >= cutAt && e.at < cutAt + OUTAGE_MS);
      for (const type of ["breach", "lock", "command", "ack"]) {
        assert.ok(during.some((e) => e.type === type), `${type} written during the outage`);
      }
      const ids = events.map((e) => e._id);
      assert.equal(new Set(ids).size, ids.length, "every event exactly once");
      const keys = events.map((e) => `${e.at} ${e.type} ${e.message}`);
      assert.equal(new Set(keys).size, keys.length, "no event written twice under two ids");
      // In order: the oracle checked the acks against the EA's order; the commands each come
      // after the breach that caused them, and are listed as sent: lock, then cancel_orders,
      // then close_all (often within one millisecond: the order of the ids decides).
      const breachAt = during.find((e) => e.type === "breach")!.at;
      assert.ok(during.filter((e) => e.type === "command").every((e) => e.at >= breachAt));
      const sent = during.filter((e) => e.type === "command").map((e) => e.message.split(" ")[0]);
      const first = ["lock", "cancel_orders", "close_all"].map((type) => sent.indexOf(type))
        .filter((index) => index >= 0);
      assert.ok(sent.includes("lock") && sent.includes("close_all"), sent.join(", "));
      assert.deepEqual(first, [...first].sort((a, b) => a - b), sent.join(", "));
      assert.ok(proxy.accepted > 1, "the risk process reconnected through the proxy");
    } finally {
      await proxy.close();
      await store.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "MongoDB: events written in the same millisecond are listed in the order written",
  ignore: !mongo.ok,
  fn: async () => {
    if (!mongo.ok) return;
    const db = `rg_order_${crypto.randomUUID().replaceAll("-", "").slice(0, 10)}`;
    const store = await openStore(mongo.server.uri, { db });
    try {
      const at = Date.now();
      const elementId = "6b0000000000000000000001";
      const written: string[] = [];
      for (let i = 0; i < 20; i++) {
        written.push(`step ${i}`);
        await store.appendEvent({
          element_id: elementId,
          type: "command",
          message: `step ${i}`,
          at,
        });
      }
      const listed = (await store.listEvents(elementId, { limit: 100 })).map((e) => e.message);
      assert.deepEqual(listed, written);
    } finally {
      await store.close();
    }
  },
});

Deno.test("MongoDB outage drill: stop the test server", async () => {
  // The last test of the file stops the server started for it.
  if (mongo.ok) await mongo.server.stop();
});
