/**
 * A risk child started by admin must stay small (issue 16: <= 45 MB RSS), and the first npm
 * package a Deno process loads costs it about 5 MB (npm resolution), a library more. So what
 * such a child runs (the program's entry on its lean path, the risk mode, the channel
 * store, the configuration) must not import npm packages when it loads. Checked on the module
 * graph `deno info` reports: imports that run when a module loads are followed; `import type`
 * (erased) and dynamic `import()` (loaded only when used: the full command line, the JSONC
 * config reader) are not. Nor does it load the simulator's code (loaded when the simulator runs
 * in the risk process, not for a terminal of its own: a real one, or a simulator with
 * `process=child`) or the plugin host's (an account without plugins).
 *
 * @module
 */
import assert from "node:assert/strict";

const ROOT = new URL("../../", import.meta.url);

/** What a child started by admin loads. */
const CHILD_MODULES = [
  "main.ts",
  "src/risk/mod.ts",
  "src/store/channel_store.ts",
  "src/shared/config.ts",
];

interface InfoDependency {
  code?: { specifier: string };
  isDynamic?: boolean;
}

interface InfoModule {
  specifier: string;
  kind?: string;
  npmPackage?: string;
  dependencies?: InfoDependency[];
}

/** What imports that run at load reach from `roots`. */
interface LoadGraph {
  /** Every npm package, with the module importing it. */
  npm: Map<string, string>;
  /** Every module of this repository, as a path from its root. */
  files: Set<string>;
}

/** Every npm package reached by imports that run at load, with the module importing it. */
async function npmImportsAtLoad(roots: string[]): Promise<Map<string, string>> {
  return (await graphAtLoad(roots)).npm;
}

/** The modules and npm packages imports that run at load reach from `roots`. */
async function graphAtLoad(roots: string[]): Promise<LoadGraph> {
  const probe = await Deno.makeTempFile({ suffix: ".ts" });
  try {
    await Deno.writeTextFile(
      probe,
      roots.map((path) => `import ${JSON.stringify(new URL(path, ROOT).href)};\n`).join(""),
    );
    const output = await new Deno.Command(Deno.execPath(), {
      args: ["info", "--json", probe],
      cwd: ROOT.pathname,
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.ok(output.success, new TextDecoder().decode(output.stderr));
    const info = JSON.parse(new TextDecoder().decode(output.stdout)) as {
      roots: string[];
      modules: InfoModule[];
      redirects?: Record<string, string>;
    };
    const modules = new Map(info.modules.map((module) => [module.specifier, module]));
    const found = new Map<string, string>();
    const seen = new Set<string>();
    const stack = info.roots.map((root) => ({ specifier: root, from: "(probe)" }));
    while (stack.length > 0) {
      const { specifier: given, from } = stack.pop()!;
      const specifier = info.redirects?.[given] ?? given;
      const module = modules.get(specifier);
      if (specifier.startsWith("npm:") || module?.kind === "npm") {
        found.set(module?.npmPackage ?? specifier, from);
        continue;
      }
      if (seen.has(specifier) || module === undefined) continue;
      seen.add(specifier);
      for (const dependency of module.dependencies ?? []) {
        if (dependency.code === undefined || dependency.isDynamic) continue;
        stack.push({
          specifier: dependency.code.specifier,
          from: specifier.replace(ROOT.href, ""),
        });
      }
    }
    const files = new Set(
      [...seen].filter((specifier) => specifier.startsWith(ROOT.href)).map((specifier) =>
        specifier.replace(ROOT.href, "")
      ),
    );
    return { npm: found, files };
  } finally {
    await Deno.remove(probe);
  }
}

Deno.test("child graph: the entry, the risk mode, the channel store and the config load no npm package", async () => {
  const found = [...await npmImportsAtLoad(CHILD_MODULES)];
  assert.deepEqual(found, [], `npm packages imported at load (by): ${JSON.stringify(found)}`);
});

Deno.test("child graph: the check sees an npm package where there is one", async () => {
  // The command line's program loads its parser; the JSONC reader loads its parser.
  const found = await npmImportsAtLoad(["src/cli/program.ts", "src/shared/config_file.ts"]);
  const names = [...found.keys()].join(", ");
  assert.match(names, /commander@/);
  assert.match(names, /jsonc-parser@/);
  assert.equal([...found].find(([name]) => name.includes("commander@"))?.[1], "src/cli/program.ts");
});

Deno.test("child graph: the store with its schemas loads no npm package (admin, issue 16)", async () => {
  const found = [...await npmImportsAtLoad(["src/store/mod.ts"])];
  assert.deepEqual(found, [], `npm packages imported at load (by): ${JSON.stringify(found)}`);
});

/**
 * The simulator's and the plugin host's code: loaded only by an account that uses them. All of
 * `src/mt5/sim/` but the launcher and the pathway parser (with the scenario names it checks), and
 * every file of the plugin host.
 */
const LOADED_WHEN_USED =
  /^src\/(mt5\/sim\/(?!(launch|pathway|scenarios)\.ts$)\w+|rules\/(plugins|_plugin_\w+|_context_\w+))\.ts$/;

Deno.test("child graph: a child loads the simulator and the plugin host only when it uses them", async () => {
  const loaded = [...(await graphAtLoad(CHILD_MODULES)).files];
  assert.ok(loaded.includes("src/risk/runner.ts"), `the graph was not followed: ${loaded}`);
  assert.deepEqual(loaded.filter((path) => LOADED_WHEN_USED.test(path)), []);
  // And the check sees them where they load: the in-process simulator, the plugin command.
  const used = [...(await graphAtLoad(["src/mt5/sim/in_process.ts", "src/cli/rules.ts"])).files];
  const expected = [
    "src/mt5/sim/_prng.ts",
    "src/mt5/sim/_raw_link.ts",
    "src/mt5/sim/close_order.ts",
    "src/mt5/sim/ea.ts",
    "src/mt5/sim/filling.ts",
    "src/mt5/sim/in_process.ts",
    "src/mt5/sim/market.ts",
    "src/mt5/sim/simulator.ts",
    "src/mt5/sim/truth_log.ts",
    "src/rules/_context_delta.ts",
    "src/rules/_context_feed.ts",
    "src/rules/_plugin_process.ts",
    "src/rules/plugins.ts",
  ];
  assert.deepEqual(used.filter((path) => LOADED_WHEN_USED.test(path)).sort(), expected);
});
