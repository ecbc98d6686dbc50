/**
 * The demo's last line of defence: a risk process still running after admin stopped is asked
 * through admin's control folder, and ended when it does not finish.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { ControlDir } from "../../src/admin/mod.ts";
import { stopLeftovers } from "../../src/demo/admin_process.ts";
import { spawnProcess } from "../../src/shared/process.ts";

/**
 * A process that holds the life lock of `id` as a risk child does (src/admin/control.ts) and
 * exits when `<id>.stop` appears in `dir` (`honour`), or never.
 */
function fakeRiskProcess(dir: string, id: string, honour: boolean) {
  const stopFile = join(dir, `${id}.stop`);
  const lock = `const life = await Deno.open(${JSON.stringify(join(dir, `${id}.lock`))}, ` +
    `{ read: true, write: true, create: true }); await life.tryLock(true); `;
  const code = lock +
    (honour
      ? `while (true) { try { Deno.statSync(${JSON.stringify(stopFile)}); Deno.exit(0); } ` +
        `catch { await new Promise((r) => setTimeout(r, 50)); } }`
      : "await new Promise((r) => setTimeout(r, 120_000));");
  return spawnProcess({ path: Deno.execPath(), args: ["eval", code] });
}

Deno.test("leftovers: asked through the stop file, ended when deaf; others untouched", async () => {
  const dir = await Deno.makeTempDir({ prefix: "riskguard-demo-test-" });
  const control = new ControlDir(dir);
  const polite = fakeRiskProcess(dir, "el1", true);
  const deaf = fakeRiskProcess(dir, "el2", false);
  const other = fakeRiskProcess(dir, "el3", false);
  try {
    for (const [id, child] of [["el1", polite], ["el2", deaf], ["el3", other]] as const) {
      await control.writeChild({
        pid: child.pid,
        element_id: id,
        instance_id: null,
        started_at: Date.now(),
      });
    }
    for (const id of ["el1", "el2", "el3"]) {
      while ((await control.probe(id)).state !== "alive") {
        await new Promise((r) => setTimeout(r, 20));
      }
    }
    const stopped = await stopLeftovers(dir, ["el1", "el2", "missing"], 1_500);
    assert.deepEqual(stopped.sort(), [polite.pid, deaf.pid].sort());
    assert.equal(await polite.exited, 0, "the polite one finished when asked");
    assert.notEqual(await deaf.exited, 0, "the deaf one was killed");
    const race = await Promise.race([other.exited, new Promise((r) => setTimeout(r, 300, "on"))]);
    assert.equal(race, "on", "a process of another element is left alone");
  } finally {
    for (const child of [polite, deaf, other]) child.kill("SIGKILL");
    await Promise.all([polite.exited, deaf.exited, other.exited]);
    await Deno.remove(dir, { recursive: true });
  }
});
