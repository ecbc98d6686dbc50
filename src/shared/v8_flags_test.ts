import assert from "node:assert/strict";
import { V8_FLAGS, v8FlagsArgument } from "./v8_flags.ts";

Deno.test("v8 flags: the compile tasks bake in the flags selfCommand gives children", async () => {
  const config = JSON.parse(
    await Deno.readTextFile(new URL("../../deno.json", import.meta.url)),
  ) as { tasks: Record<string, string> };
  for (const task of ["compile", "compile:linux"]) {
    assert.ok(
      config.tasks[task]!.split(" ").includes(v8FlagsArgument()),
      `task ${task} lacks ${v8FlagsArgument()}: ${config.tasks[task]}`,
    );
  }
});

Deno.test("v8 flags: a process started with them keeps its young generation small", async () => {
  // Churn short-lived objects, then read how large the young generation has grown.
  const script = "import v8 from 'node:v8'; let keep = [];" +
    "for (let i = 0; i < 2e6; i++) { keep.push({ i, s: 'x' + i }); if (keep.length > 5e4) keep = []; }" +
    "console.log(v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size)";
  const newSpace = async (flags: string[]) => {
    const output = await new Deno.Command(Deno.execPath(), {
      args: ["eval", ...flags, script],
      stdout: "piped",
    }).output();
    assert.ok(output.success);
    return Number(new TextDecoder().decode(output.stdout).trim());
  };
  assert.ok(V8_FLAGS.includes("--max-semi-space-size=1"));
  const small = await newSpace([v8FlagsArgument()]);
  const usual = await newSpace([]);
  // 1 MiB semi-spaces: V8 reports the new space as about two of them plus page rounding
  // (2.25 MiB measured), against 16-64 MiB with its defaults.
  assert.ok(small <= 4 * 1024 * 1024, `young generation ${small} bytes with the flags`);
  assert.ok(usual >= 4 * small, `without the flags ${usual} bytes, with ${small}`);
});
