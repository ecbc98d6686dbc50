import assert from "node:assert/strict";
import { childEnv, spawnProcess, stopProcess } from "./process.ts";

const deno = Deno.execPath();

async function readAll(stream: ReadableStream<Uint8Array> | null): Promise<string> {
  assert.ok(stream);
  return await new Response(stream).text();
}

Deno.test("spawnProcess: the child gets no secret from the parent's environment", async () => {
  Deno.env.set("RISKGUARD_SECRET_KEY", "k".repeat(32));
  Deno.env.set("MONGODB_URI", "mongodb://user:pw@localhost:27017");
  try {
    const child = spawnProcess(
      { path: deno, args: ["eval", "console.log(JSON.stringify(Deno.env.toObject()))"] },
      { stdout: "piped", env: childEnv({ EXTRA: "yes" }) },
    );
    const env = JSON.parse(await readAll(child.stdout)) as Record<string, string>;
    assert.equal(await child.exited, 0);
    assert.equal(env.RISKGUARD_SECRET_KEY, undefined);
    assert.equal(env.MONGODB_URI, undefined);
    assert.equal(env.EXTRA, "yes");
    assert.equal(env.PATH, Deno.env.get("PATH"));
  } finally {
    Deno.env.delete("RISKGUARD_SECRET_KEY");
    Deno.env.delete("MONGODB_URI");
  }
});

Deno.test("stopProcess: a child that finishes when asked is not killed", async () => {
  // Exits 0 when its stdin reaches end of file.
  const child = spawnProcess(
    { path: deno, args: ["eval", "for await (const _ of Deno.stdin.readable) {} Deno.exit(0)"] },
    { stdin: "piped" },
  );
  const outcome = await stopProcess(child, {
    ask: (c) => c.stdin!.close(),
    timeoutMs: 10_000,
  });
  assert.deepEqual(outcome, { code: 0, killed: false });
});

Deno.test("stopProcess: a child that ignores the request is killed after the timeout", async () => {
  const child = spawnProcess(
    { path: deno, args: ["eval", "setInterval(() => {}, 1000)"] },
    { stdin: "piped" },
  );
  const outcome = await stopProcess(child, { ask: (c) => c.stdin!.close(), timeoutMs: 300 });
  assert.equal(outcome.killed, true);
  assert.notEqual(outcome.code, 0);
});

Deno.test({
  name: "spawnProcess: a detached child runs in a session of its own (no terminal Ctrl+C)",
  ignore: Deno.build.os !== "linux",
  fn: async () => {
    const child = spawnProcess(
      { path: deno, args: ["eval", "await new Promise((r) => setTimeout(r, 30_000))"] },
      { detached: true },
    );
    try {
      // Field 6 of /proc/<pid>/stat is the session id (after the command name in parentheses).
      const session = (pid: number | "self") =>
        Deno.readTextFileSync(`/proc/${pid}/stat`).replace(/^.*\) /, "").split(" ")[3];
      assert.equal(session(child.pid), String(child.pid));
      assert.notEqual(session("self"), session(child.pid));
    } finally {
      child.kill("SIGKILL");
      await child.exited;
    }
  },
});
