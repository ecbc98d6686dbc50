/**
 * The MongoDB driver is loaded only by a process whose store is MongoDB.
 *
 * Each case runs a real `deno` child with a copy of the project's import map in which
 * `mongodb` names a poison module: a child that loads the driver fails. A child that loads the
 * whole program (the CLI with every mode, risk included) and works on a SQLite store succeeds;
 * the same child pointed at a MongoDB URI fails on the poison, which shows the check can fail.
 * `deno info` shows the driver still in the program's module graph (through the dynamic import),
 * so `deno compile` embeds it.
 *
 * @module
 */
import assert from "node:assert/strict";
import { openStore } from "../../src/store/mod.ts";
import { freePortPair, SIM_LOGIN } from "../support/risk_harness.ts";
import { poisonedConfig } from "./_poisoned_config.ts";
import { childOutput } from "../support/child_output.ts";

const ROOT = new URL("../../", import.meta.url);

/** Runs a script in a child with the poisoned config; returns success and all output. */
async function runChild(
  config: string,
  script: string,
  args: string[],
): Promise<{ success: boolean; output: string }> {
  const result = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--no-lock", "--config", config, script, ...args],
    cwd: new URL(".", ROOT).pathname,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return {
    success: result.success,
    output: decoder.decode(result.stdout) + decoder.decode(result.stderr),
  };
}

/** A child that loads the CLI (every mode) and the store, then works on `spec`. */
function childScript(): string {
  const cli = new URL("src/cli/mod.ts", ROOT).href;
  const store = new URL("src/store/mod.ts", ROOT).href;
  return `
import * as cli from ${JSON.stringify(cli)};
import { openStore } from ${JSON.stringify(store)};
if (typeof cli.runCli !== "function") throw new Error("the CLI did not load");
const store = await openStore(Deno.args[0], { connectAttempts: 1, serverSelectionTimeoutMs: 200 });
try {
  const inserted = await store.insertElement({ server: "S", login: 7, password: "p" });
  if (!inserted.ok) throw new Error("insert refused");
  const listed = await store.listElements();
  console.log("STORE-OK " + store.kind + " " + listed.length);
} finally {
  await store.close();
}
`;
}

Deno.test("a process on SQLite loads the whole program without the MongoDB driver", async () => {
  const { dir, config } = await poisonedConfig();
  try {
    const script = `${dir}/child.ts`;
    await Deno.writeTextFile(script, childScript());
    const sqlite = await runChild(config, script, [`sqlite:${dir}/store.db`]);
    assert.ok(sqlite.success, sqlite.output);
    assert.match(sqlite.output, /STORE-OK sqlite 1/);
    assert.doesNotMatch(sqlite.output, /POISON/);

    // The same child on a MongoDB URI loads the driver: the poison stops it.
    const mongo = await runChild(config, script, ["mongodb://127.0.0.1:1/riskguard"]);
    assert.ok(!mongo.success, "a MongoDB store must load the driver");
    assert.match(mongo.output, /POISON: the MongoDB driver was loaded/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a risk process on a SQLite store guards its account without the MongoDB driver", async () => {
  const { dir, config } = await poisonedConfig();
  const spec = `sqlite:${dir}/store.db`;
  const store = await openStore(spec);
  let child: Deno.ChildProcess | undefined;
  try {
    const instance = await store.addInstance({ path: "sim:calm", host: "h", port: freePortPair() });
    const inserted = await store.insertElement({ server: "S", login: SIM_LOGIN, password: "p" });
    assert.ok(inserted.ok);
    const id = inserted.element.id;
    child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "--no-lock",
        "--config",
        config,
        new URL("main.ts", ROOT).pathname,
        "--mode",
        "risk",
        "--element_id",
        id,
        "--instance",
        instance._id,
        "--host",
        "h",
        "--store",
        spec,
        "--ping-interval",
        "1",
      ],
      cwd: new URL(".", ROOT).pathname,
      env: { NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const output = childOutput(child);
    let exited = false;
    child.status.then(() => exited = true);
    // The risk process took the lease and pings: it runs, so it loaded without the driver.
    const deadline = Date.now() + 30_000;
    let pinged = false;
    while (!pinged && !exited && Date.now() < deadline) {
      const element = await store.getElement(id);
      pinged = element?.valid === true && element.element.status === "ACTIVE" &&
        element.element.last_ping !== null;
      if (!pinged) await new Promise((resolve) => setTimeout(resolve, 200));
    }
    child.kill("SIGTERM");
    await child.status;
    const text = await output;
    child = undefined;
    assert.ok(pinged, `the risk process never pinged its element:\n${text}`);
    assert.doesNotMatch(text, /POISON/);
  } finally {
    if (child !== undefined) {
      child.kill("SIGKILL");
      await child.status;
    }
    await store.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the driver stays in the program's module graph for deno compile", async () => {
  const result = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", "main.ts"],
    cwd: new URL(".", ROOT).pathname,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(result.success, new TextDecoder().decode(result.stderr));
  const graph = JSON.parse(new TextDecoder().decode(result.stdout)) as {
    modules: { specifier: string; dependencies?: { specifier: string; isDynamic?: boolean }[] }[];
    npmPackages?: Record<string, unknown>;
  };
  const opener = graph.modules.find((m) => m.specifier.endsWith("/src/store/open_store.ts"));
  const edge = opener?.dependencies?.find((d) => d.specifier === "./mongo_store.ts");
  assert.ok(edge !== undefined, "open_store.ts imports mongo_store.ts");
  assert.equal(edge.isDynamic, true, "through a dynamic import()");
  assert.ok(
    graph.modules.some((m) => m.specifier.includes("/mongo_store.ts")),
    "mongo_store.ts is in the graph",
  );
  assert.ok(
    Object.keys(graph.npmPackages ?? {}).some((name) => name.startsWith("mongodb@")),
    "npm:mongodb is in the graph, so deno compile embeds it",
  );
  // No module reaches the driver statically except the MongoDB adapter itself.
  const staticImporters = graph.modules.filter((m) =>
    m.dependencies?.some((d) => d.specifier === "mongodb" && d.isDynamic !== true)
  ).map((m) => m.specifier.replace(/^.*\/(src|tests)\//, "$1/"));
  assert.deepEqual(staticImporters, ["src/store/mongo_store.ts"]);
});
