import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { LAZY_DYNAMIC_IMPORTS, MAIN_MODULE, selfCommand } from "./self_command.ts";
import { v8FlagsArgument } from "./v8_flags.ts";

Deno.test("selfCommand: compiled, the executable itself takes the arguments", () => {
  const command = selfCommand(["--mode", "risk"], { standalone: true, denoFlags: ["--x"] });
  assert.deepEqual(command, { path: Deno.execPath(), args: ["--mode", "risk"] });
});

Deno.test("selfCommand: under deno run, main.ts with the given flags, riskguard's V8 flags and lazy imports", () => {
  const main = fileURLToPath(MAIN_MODULE);
  assert.deepEqual(selfCommand(["sim"], { standalone: false }).args, [
    "run",
    v8FlagsArgument(),
    LAZY_DYNAMIC_IMPORTS,
    "-A",
    main,
    "sim",
  ]);
  const plugin = new URL("../rules/_plugin_process.ts", import.meta.url);
  assert.deepEqual(
    selfCommand([], { standalone: false, denoFlags: ["--allow-read"], script: plugin }).args,
    ["run", v8FlagsArgument(), LAZY_DYNAMIC_IMPORTS, "--allow-read", fileURLToPath(plugin)],
  );
});

Deno.test("selfCommand really starts this program (deno run)", async () => {
  const command = selfCommand(["--version"]);
  const output = await new Deno.Command(command.path, { args: command.args, stdout: "piped" })
    .output();
  assert.deepEqual(output.code, 0);
  assert.deepEqual(/^\d+\.\d+\.\d+/.test(new TextDecoder().decode(output.stdout).trim()), true);
});
