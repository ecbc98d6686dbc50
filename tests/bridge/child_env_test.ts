/**
 * The terminal and the simulator child start with a cleared environment: a real process of
 * each is started while this process holds secrets in its environment, and the environment the
 * child saw is read back. Neither sees `RISKGUARD_SECRET_KEY` or a store URI; the simulator sees
 * its token variable, and both see the locations they need (`PATH`).
 *
 * @module
 */
import assert from "node:assert/strict";
import { launchTerminal } from "../../src/mt5/terminal.ts";
import { SIM_TOKEN_ENV, startSimulator } from "../../src/mt5/sim/launch.ts";

/** Secrets the risk process may hold in its environment. */
const SECRETS: Record<string, string> = {
  RISKGUARD_SECRET_KEY: "c2VjcmV0LWtleS1zZWNyZXQta2V5LXNlY3JldC1rZXk=",
  RISKGUARD_STORE: "mongodb://admin:hunter2@db.example:27017/riskguard",
  MONGODB_URI: "mongodb://admin:hunter2@db.example:27017/riskguard",
  RISKGUARD_WEBHOOK_URL: "https://hooks.example/secret-path",
};

/** Runs `body` with the secrets set in this process's environment, then restores it. */
async function withSecrets(body: () => Promise<void>): Promise<void> {
  const before = Object.fromEntries(Object.keys(SECRETS).map((name) => [name, Deno.env.get(name)]));
  for (const [name, value] of Object.entries(SECRETS)) Deno.env.set(name, value);
  try {
    await body();
  } finally {
    for (const [name, value] of Object.entries(before)) {
      if (value === undefined) Deno.env.delete(name);
      else Deno.env.set(name, value);
    }
  }
}

/** Waits until `path` holds JSON (written by the child), or fails after `ms`. */
async function readJsonWhenWritten(path: string, ms = 30_000): Promise<Record<string, string>> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    try {
      const text = await Deno.readTextFile(path);
      if (text.trim().endsWith("}") || text.includes("=")) return parseEnv(text);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  assert.fail(`the child never wrote ${path}`);
}

/** Parses `env` output (NAME=value lines) or a JSON object. */
function parseEnv(text: string): Record<string, string> {
  if (text.trim().startsWith("{")) return JSON.parse(text) as Record<string, string>;
  const env: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const eq = line.indexOf("=");
    if (eq > 0) env[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return env;
}

function assertNoSecrets(env: Record<string, string>, who: string): void {
  for (const name of Object.keys(SECRETS)) {
    assert.equal(env[name], undefined, `${who} must not see ${name}`);
  }
  const all = Object.values(env).join("\n");
  assert.doesNotMatch(all, /hunter2|secret-path|c2VjcmV0/, `${who} sees a secret value`);
  assert.ok(env.PATH !== undefined, `${who} still gets PATH`);
}

Deno.test({
  name: "the terminal starts with a cleared environment: no secret key, no store URI",
  ignore: Deno.build.os === "windows",
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "riskguard-terminal-env-" });
    try {
      // A stand-in terminal64.exe: a real program that records its environment, then waits.
      const envFile = `${dir}/env.txt`;
      await Deno.writeTextFile(
        `${dir}/terminal64.exe`,
        `#!/bin/sh\nenv > "${envFile}.tmp" && mv "${envFile}.tmp" "${envFile}"\nexec sleep 60\n`,
      );
      await Deno.chmod(`${dir}/terminal64.exe`, 0o755);
      await withSecrets(async () => {
        const handle = await launchTerminal({
          path: dir,
          login: 1,
          password: "account-password",
          server: "S",
          port: 6100,
          token: "tok",
          restart: false,
        });
        try {
          assert.equal(typeof handle.pid, "number");
          const env = await readJsonWhenWritten(envFile);
          assertNoSecrets(env, "the terminal");
          assert.doesNotMatch(Object.values(env).join("\n"), /account-password/);
        } finally {
          await handle.stop();
        }
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
if (Deno.build.os === "windows") {
  console.log("skipped the terminal environment case: it runs a /bin/sh stand-in terminal");
}

Deno.test("the simulator child starts with a cleared environment plus its token", async () => {
  const dir = await Deno.makeTempDir({ prefix: "riskguard-sim-env-" });
  try {
    // Under `deno run` the child runs this script instead of main.ts: it records its environment.
    const envFile = `${dir}/env.json`;
    const script = `${dir}/record_env.ts`;
    await Deno.writeTextFile(
      script,
      `await Deno.writeTextFile(${JSON.stringify(`${envFile}.tmp`)}, ` +
        `JSON.stringify(Deno.env.toObject()));\n` +
        `await Deno.rename(${JSON.stringify(`${envFile}.tmp`)}, ${JSON.stringify(envFile)});\n` +
        `await new Promise((resolve) => setTimeout(resolve, 60_000));\n`,
    );
    await withSecrets(async () => {
      const sim = await startSimulator({
        scenario: "calm",
        port: 6200,
        token: "sim-token-123",
        mode: "child_process",
        mainPath: script,
      });
      try {
        assert.equal(typeof sim.pid, "number");
        const env = await readJsonWhenWritten(envFile);
        assertNoSecrets(env, "the simulator");
        assert.equal(env[SIM_TOKEN_ENV], "sim-token-123", "the simulator gets its token");
      } finally {
        await sim.stop();
      }
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
