/**
 * What a plugin can reach (issue 11 item 12): its own folder, nothing else. A hostile plugin
 * probes every door at load time (top level and a timer, as the attack did) and reports what
 * happened through `notify` reasons. Run twice: with the development command and with every
 * permission granted to the plugin process (`riskguard rules serve-plugin` under `-A`, which
 * is what `deno compile -A` bakes into the executable), so the sandbox cannot depend on the
 * process's own flags.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { PluginHost } from "../../src/rules/plugins.ts";
import type { PluginCommand } from "../../src/rules/plugins.ts";
import { sampleScenarios } from "../../src/rules/samples.ts";
import { evaluateSnapshot } from "../../src/risk/engine.ts";
import { settings } from "./_support.ts";

const NOW = Date.parse("2026-11-24T12:00:00Z");
const MAIN = fileURLToPath(new URL("../../main.ts", import.meta.url));

/** The hostile plugin: each probe reports `name: ok <value>` or `name: denied <error name>`. */
const HOSTILE = `
const results: string[] = [];
async function probe(name: string, run: () => unknown): Promise<void> {
  try {
    const value = await run();
    const text = typeof value === "object" && value !== null ? "(an object)" : String(value);
    results.push(\`\${name}: ok \${text.slice(0, 40)}\`);
  } catch (error) {
    const text = \`\${(error as Error).name} \${(error as Error).message}\`;
    results.push(\`\${name}: denied \${text.slice(0, 160)}\`);
  }
}
const where = JSON.parse(Deno.readTextFileSync(new URL("./where.json", import.meta.url)));
await probe("own folder", () => Deno.readTextFileSync(new URL("./own_data.txt", import.meta.url)));
await probe("outside", () => Deno.readTextFileSync(where.outside));
await probe("store file", () => Deno.readFileSync(where.store).length);
await probe("import outside", () => import(where.outsideModule).then((m) => m.default));
await probe("net connect", () => Deno.connect({ hostname: "127.0.0.1", port: where.port }));
await probe("net fetch", () => fetch(\`http://127.0.0.1:\${where.port}/\`).then((r) => r.status));
await probe("remote import", () => import(where.remote));
await probe("npm import", () => import(where.npm));
await probe("env", () => Deno.env.get("RISKGUARD_SECRET_KEY") ?? "(unset)");
await probe("env list", () => Object.keys(Deno.env.toObject()).length);
await probe("write", () => Deno.writeTextFileSync(new URL("./written.txt", import.meta.url), "x"));
await probe("run", () => new Deno.Command("true").outputSync().code);
await new Promise<void>((done) =>
  setTimeout(() => probe("timer outside", () => Deno.readTextFileSync(where.outside)).then(done), 10)
);
export default {
  id: "hostile",
  evaluate() {
    return results.map((reason) => ({ type: "notify", level: "info", reason }));
  },
};
`;

interface Setup {
  dir: string;
  module: string;
  listener: Deno.TcpListener;
  accepted: { count: number };
}

async function setup(): Promise<Setup> {
  const dir = await Deno.makeTempDir({ prefix: "riskguard-sandbox-" });
  const pluginDir = `${dir}/plugins`;
  await Deno.mkdir(pluginDir);
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted = { count: 0 };
  void (async () => {
    for await (const conn of listener) {
      accepted.count++;
      conn.close();
    }
  })().catch(() => {});
  await Deno.writeTextFile(`${dir}/terminal.ini`, "[Common]\nPassword=mt5-password-in-clear\n");
  await Deno.writeTextFile(`${dir}/riskguard.db`, "SQLite format 3\0 store with passwords");
  await Deno.writeTextFile(`${dir}/outside.ts`, "export default 'outside module';\n");
  await Deno.writeTextFile(`${pluginDir}/own_data.txt`, "the plugin's own data");
  await Deno.writeTextFile(
    `${pluginDir}/where.json`,
    JSON.stringify({
      outside: `${dir}/terminal.ini`,
      store: `${dir}/riskguard.db`,
      outsideModule: `file://${dir}/outside.ts`,
      port: listener.addr.port,
      remote: "https://example.com/mod.ts",
      npm: "npm:left-pad@1.3.0",
    }),
  );
  await Deno.writeTextFile(`${pluginDir}/hostile.ts`, HOSTILE);
  return { dir, module: `${pluginDir}/hostile.ts`, listener, accepted };
}

async function probeResults(command: PluginCommand | undefined): Promise<Map<string, string>> {
  const env = await setup();
  Deno.env.set("RISKGUARD_SECRET_KEY", "the-secret-key-value");
  const options: Parameters<typeof PluginHost.start>[1] = {
    deadlineMs: 10_000,
    loadTimeoutMs: 30_000,
  };
  if (command !== undefined) options.command = command;
  const host = await PluginHost.start([{ module: env.module }], options);
  try {
    assert.deepEqual(host.loadErrors, []);
    const snapshot = sampleScenarios(NOW).find((item) => item.name === "calm")!.snapshot;
    const context = evaluateSnapshot({ snapshot, settings: settings(), state: {}, now: NOW })
      .context;
    const outcome = await host.evaluate(context);
    assert.deepEqual(outcome.errors, []);
    const results = new Map<string, string>();
    for (const action of outcome.actions) {
      if (action.type !== "notify") continue;
      const at = action.reason.indexOf(": ");
      results.set(action.reason.slice(0, at), action.reason.slice(at + 2));
    }
    assert.equal(env.accepted.count, 0, "the plugin reached the network");
    assert.equal(
      await Deno.stat(`${env.dir}/plugins/written.txt`).then(() => true, () => false),
      false,
      "the plugin wrote a file",
    );
    return results;
  } finally {
    await host.close();
    Deno.env.delete("RISKGUARD_SECRET_KEY");
    env.listener.close();
    await Deno.remove(env.dir, { recursive: true });
  }
}

function assertSandboxed(results: Map<string, string>, npmDenied = true): void {
  assert.equal(results.get("own folder"), "ok the plugin's own data");
  const denied = (name: string, pattern: RegExp) => {
    const result = results.get(name);
    assert.ok(result !== undefined, `probe ${name} did not report`);
    assert.match(result, /^denied /, `${name}: ${result}`);
    assert.match(result, pattern, `${name}: ${result}`);
  };
  denied("outside", /NotCapable Requires read access/);
  denied("timer outside", /NotCapable Requires read access/);
  denied("store file", /NotCapable Requires read access/);
  denied("import outside", /Requires read access/);
  denied("net connect", /NotCapable Requires net access/);
  denied("net fetch", /Requires net access/);
  denied("remote import", /Requires import access to "example\.com:443"/);
  if (npmDenied) denied("npm import", /--no-npm/);
  denied("env", /NotCapable Requires env access/);
  denied("env list", /NotCapable Requires env access/);
  denied("write", /NotCapable Requires write access/);
  denied("run", /NotCapable Requires run access/);
  for (const [name, result] of results) {
    assert.ok(!result.includes("mt5-password-in-clear"), `${name} leaked the terminal password`);
    assert.ok(!result.includes("the-secret-key-value"), `${name} leaked the secret key`);
  }
}

Deno.test("plugin sandbox: only its own folder, under the development command", async () => {
  assertSandboxed(await probeResults(undefined));
});

Deno.test("plugin sandbox: only its own folder, with a plugin process that has every permission (the compiled executable)", async () => {
  const results = await probeResults({
    path: Deno.execPath(),
    args: ["run", "-A", "--no-lock", MAIN, "rules", "serve-plugin"],
  });
  // npm: specifiers are not a permission in Deno 2.9: this `deno run` resolves them from its
  // cache, while a compiled executable resolves them only against the packages embedded in it.
  // Whatever it imports, the Worker's permissions still apply (no network, no env).
  assertSandboxed(results, false);
});
