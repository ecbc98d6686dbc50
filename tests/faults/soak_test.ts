/**
 * The soak's 2-minute version (`tools/soak.ts`): four accounts on seeded random scenarios, each
 * a real risk process, judged by the oracle. The 30-minute, 20-account run is `deno task soak`.
 */
import assert from "node:assert/strict";
import { runSoak, soakReport } from "../../tools/soak.ts";

Deno.test("soak, 2 minutes: no missed breach, no false lock, every process ends cleanly", async () => {
  const seed = Number(Deno.env.get("RISKGUARD_SOAK_SEED") ?? 20_260_106);
  console.log(`soak seed ${seed}`);
  const result = await runSoak({ minutes: 2, accounts: 4, seed, speed: 4 });
  const report = soakReport(result);
  console.log(report);
  assert.equal(result.missed, 0, report);
  assert.equal(result.falseLocks, 0, report);
  assert.ok(result.ok, report);
  assert.equal(result.accounts.length, 4);
  assert.ok(result.eventsPerSecond > 0, "the accounts were guarded");
  // Every process was sampled at each mark (flatness over 2 minutes on a shared machine is not
  // judged here: the 30-minute soak reports it).
  for (const account of result.accounts) {
    const { oneMinute, half, end } = account.memory;
    assert.ok(oneMinute && half && end, `${account.login}: memory not sampled\n${report}`);
    assert.ok(end.heapUsedMb > 0 && end.rssMb > end.heapUsedMb, report);
  }
});
