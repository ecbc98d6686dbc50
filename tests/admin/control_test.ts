/**
 * The control folder with real processes and files: the life lock tells a running child from a
 * gone one (kill -9, and a pid that runs but holds no lock); admin's wait for a child's end is
 * woken by the system; a stop request sent before the child registered still reaches it, one
 * naming another child does not; a folder other users may read is refused.
 */
import assert from "node:assert/strict";
import { ControlDir, registerChild } from "../../src/admin/mod.ts";
import { RiskGuardError } from "../../src/shared/errors.ts";
import { tempDir } from "./_harness.ts";

const HOLDER = `
import { ControlDir, registerChild } from ${
  JSON.stringify(new URL("../../src/admin/mod.ts", import.meta.url).href)
};
const control = new ControlDir(Deno.args[0]);
await registerChild(control, { pid: Deno.pid, element_id: "e1", instance_id: "i1", started_at: 1 }, new AbortController().signal);
console.log("registered");
await new Promise((resolve) => setTimeout(resolve, 120_000));
`;

Deno.test("the life lock tells a running child from a gone one, and wakes admin", async () => {
  const dir = await tempDir();
  const control = new ControlDir(`${dir}/control`);
  const script = `${dir}/holder.ts`;
  await Deno.writeTextFile(script, HOLDER);
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--config",
      new URL("../../deno.json", import.meta.url).pathname,
      script,
      control.path,
    ],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  try {
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let out = "";
    while (!out.includes("registered")) out += (await reader.read()).value ?? "";
    reader.releaseLock();
    const probe = await control.probe("e1");
    assert.equal(probe.state, "alive");
    assert.equal(probe.state === "alive" && probe.record.pid, child.pid);
    // A second child of the same element is refused while the first holds the lock.
    await assert.rejects(
      () => control.holdLock("e1"),
      (error) => error instanceof RiskGuardError && error.code === "ELEMENT_HELD",
    );
    const exited = control.waitExit("e1");
    child.kill("SIGKILL");
    await child.status;
    await exited;
    const after = await control.probe("e1");
    assert.equal(after.state, "dead", "a record left by a killed child");
    // The record now names a pid that runs (this test process) but holds no lock: not alive.
    await control.writeChild({ pid: Deno.pid, element_id: "e1", instance_id: "i1", started_at: 2 });
    assert.equal((await control.probe("e1")).state, "dead");
    assert.equal((await control.probe("never-ran")).state, "none");
  } finally {
    try {
      child.kill("SIGKILL");
    } catch {
      // killed above
    }
    await child.stdout.cancel().catch(() => {});
    await child.status.catch(() => {});
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a stop request sent before the child registered reaches it; another's does not", async () => {
  const dir = await tempDir();
  const control = new ControlDir(`${dir}/control`);
  try {
    // Asked right after the spawn, before the child wrote its record.
    await control.requestStop("e2", Deno.pid);
    const stop = new AbortController();
    const child = await registerChild(
      control,
      { pid: Deno.pid, element_id: "e2", instance_id: null, started_at: 1 },
      stop.signal,
      20,
    );
    const seen = await Promise.race([
      child.stopped.then(() => true),
      new Promise<false>((resolve) => setTimeout(() => resolve(false), 2_000)),
    ]);
    assert.equal(seen, true, "the early stop request was honoured");
    await child.done();
    // A request left for another (earlier) child of the element is not for this one.
    await control.requestStop("e3", Deno.pid + 1);
    assert.equal(await control.stopRequested("e3", Deno.pid), false);
    assert.equal(await control.stopRequested("e3", Deno.pid + 1), true);
    stop.abort();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "a control folder other users may use is refused",
  ignore: Deno.build.os === "windows",
  fn: async () => {
    const dir = await tempDir();
    try {
      await Deno.mkdir(`${dir}/open`, { mode: 0o755 });
      await Deno.chmod(`${dir}/open`, 0o755);
      await assert.rejects(
        () => new ControlDir(`${dir}/open`).ensure(),
        (error) => error instanceof RiskGuardError && /chmod 700/.test(error.message),
      );
      await new ControlDir(`${dir}/private`).ensure();
      assert.equal((await Deno.stat(`${dir}/private`)).mode! & 0o777, 0o700);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
