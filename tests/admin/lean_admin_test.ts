/**
 * Admin takes the modes' command line alone (`src/cli/mode_only.ts`, issue 16: admin's memory):
 * with every npm package of the project poisoned but the parser (commander), `riskguard --mode
 * admin` on SQLite starts and stops cleanly (the store's schemas are hand-written). The full
 * command line (`riskguard status`, same poison) loads more (the dashboard's web framework): the poison
 * stops it, which shows the check can fail.
 *
 * @module
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { selfCommand } from "../../src/shared/self_command.ts";
import { poisonedConfig } from "../store/_poisoned_config.ts";
import { childOutput } from "../support/child_output.ts";
import { forEachLine } from "../../src/shared/lines.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
/** What admin needs from npm on SQLite. */
const NEEDED = ["commander"];
const NPM_LOADED = /POISON: \S+ was loaded|does not provide an export named|_poison\/\S+"?/;

Deno.test("admin runs without loading the other commands' npm packages", async () => {
  const dir = await Deno.makeTempDir({ prefix: "riskguard-lean-admin-" });
  const poison = await poisonedConfig("all");
  try {
    const project = JSON.parse(await Deno.readTextFile(`${ROOT}deno.json`));
    const config = JSON.parse(await Deno.readTextFile(poison.config));
    for (const name of NEEDED) config.imports[name] = project.imports[name];
    await Deno.writeTextFile(poison.config, JSON.stringify(config));
    const run = (args: string[]) => {
      const command = selfCommand([...args, "--store", `sqlite:${dir}/store.db`, "--host", "h"], {
        standalone: false,
        denoFlags: ["-A", "--no-lock", "--config", poison.config],
      });
      return new Deno.Command(command.path, {
        args: command.args,
        cwd: ROOT,
        env: { NO_COLOR: "1", RISKGUARD_CONTROL_DIR: `${dir}/control` },
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
    };

    const full = run(["status"]);
    const [fullStatus, fullText] = await Promise.all([full.status, childOutput(full)]);
    assert.ok(!fullStatus.success, `the full command line must load more:\n${fullText}`);
    assert.match(fullText, NPM_LOADED);

    const admin = run(["--mode", "admin"]);
    const lines: string[] = [];
    let onStarted: () => void = () => {};
    const started = new Promise<void>((resolve) => onStarted = resolve);
    const onLine = (line: string) => {
      lines.push(line);
      if (/admin started for host h/.test(line)) onStarted();
    };
    const read = Promise.all([
      forEachLine(admin.stdout, onLine),
      forEachLine(admin.stderr, onLine),
    ]);
    // Stopped (Ctrl+C) once it says it runs, or when it ends first.
    await Promise.race([started, admin.status]);
    try {
      admin.kill("SIGINT");
    } catch {
      // it ended: its output says why
    }
    const status = await admin.status;
    await read;
    const text = lines.join("\n");
    assert.match(text, /admin started for host h/);
    assert.doesNotMatch(text, NPM_LOADED);
    assert.equal(status.code, 0, text);
  } finally {
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(poison.dir, { recursive: true });
  }
});
