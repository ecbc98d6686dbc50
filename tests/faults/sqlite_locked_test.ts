/**
 * Drill: the SQLite store file is locked by another process (an exclusive write transaction)
 * for 30 s while the account breaches its daily loss limit.
 *
 * Must hold: enforcement never pauses (the oracle finds the breach locked and flat within its
 * target), and every event written during the outage is in the store afterwards, in order,
 * exactly once.
 */
import assert from "node:assert/strict";
import { openStore } from "../../src/store/mod.ts";
import {
  addDrillAccount,
  lastAccountState,
  startRiskProcess,
  verdictOf,
  waitFor,
} from "../support/risk_process.ts";

const OUTAGE_MS = 30_000;

/** Another process that holds the database's write lock for `ms`, then lets go and exits. */
async function lockDatabase(path: string, ms: number): Promise<Deno.ChildProcess> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "eval",
      `import { DatabaseSync } from "node:sqlite";
       const db = new DatabaseSync(${JSON.stringify(path)});
       db.exec("BEGIN EXCLUSIVE");
       console.log("locked");
       await new Promise((r) => setTimeout(r, ${ms}));
       db.exec("COMMIT");
       db.close();`,
    ],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const { value } = await reader.read();
  assert.match(value ?? "", /locked/, "the other process holds the lock");
  reader.releaseLock();
  void child.stdout.cancel().catch(() => {});
  return child;
}

Deno.test("SQLite file locked by another process for 30 s: enforcement never pauses, no event lost", async () => {
  const dir = await Deno.makeTempDir({ prefix: "riskguard-drill-" });
  const path = `${dir}/drill.db`;
  const store = await openStore(`sqlite:${path}`);
  try {
    const account = await addDrillAccount(store, {
      scenario: "losing_day",
      element: { max_daily_loss: "5%" },
      dir,
      speed: 2,
    });
    const risk = startRiskProcess({
      store: { spec: `sqlite:${path}`, db: "riskguard" },
      account,
    });
    let locker: Deno.ChildProcess | undefined;
    let lockedAt = 0;
    try {
      await waitFor(
        "the first snapshots",
        async () => {
          const state = await lastAccountState(account.truthPath);
          return state !== undefined && state.positions > 0;
        },
        20_000,
        risk.output,
      );
      locker = await lockDatabase(path, OUTAGE_MS);
      lockedAt = Date.now();
      await waitFor(
        "the account locked and flat during the outage",
        async () => {
          const state = await lastAccountState(account.truthPath);
          return state?.locked === true && state.positions === 0 && state.orders === 0;
        },
        OUTAGE_MS,
        risk.output,
      );
      assert.ok(Date.now() - lockedAt < OUTAGE_MS, "enforced while the file was locked");
      assert.equal((await locker.status).code, 0);
      locker = undefined;
      // Queued writes are flushed once the file is free again.
      await new Promise((resolve) => setTimeout(resolve, 3_000));
    } finally {
      if (locker !== undefined) {
        try {
          locker.kill("SIGKILL");
        } catch {
          // it finished by itself
        }
        await locker.status;
      }
      assert.equal(await risk.stop(), 0, risk.output());
    }
    const { verdict, summary, events } = await verdictOf(store, account);
    assert.ok(verdict.ok, summary);
    assert.ok(verdict.enforced >= 1, summary);
    const during = events.filter((e) => e.at >= lockedAt && e.at < lockedAt + OUTAGE_MS);
    for (const type of ["breach", "lock", "command", "ack"]) {
      assert.ok(during.some((e) => e.type === type), `${type} written during the outage`);
    }
    const ids = events.map((e) => e._id);
    assert.equal(new Set(ids).size, ids.length, "every event exactly once");
    const ats = events.map((e) => e.at);
    assert.deepEqual(ats, [...ats].sort((a, b) => a - b), "in order");
  } finally {
    await store.close();
    await Deno.remove(dir, { recursive: true });
  }
});
