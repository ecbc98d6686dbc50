/**
 * Packaging check for `deno compile`, runnable without internet access.
 *
 * `deno compile` normally downloads its runtime (`denort`). Pointing `DENORT_BIN` at the
 * running deno binary lets the whole packaging step run offline: module graph, `--include`d
 * files and npm packages are all resolved and embedded. The output is not a working riskguard
 * binary (the embedded runtime is the full deno CLI), so it is written to a temp folder and
 * deleted; only the success of packaging is checked. Only the Linux target can be checked this
 * way: the Windows target needs the real Windows `denort`.
 *
 * Usage: `deno task compile:check` (exit code 0 when packaging succeeds).
 *
 * @module
 */
import { COMPILE_INCLUDES } from "./compile_includes.ts";
import { v8FlagsArgument } from "../src/shared/v8_flags.ts";

/** Runs the packaging step and returns its combined output and success. */
export async function checkCompile(): Promise<{ success: boolean; output: string }> {
  const root = new URL("..", import.meta.url).pathname;
  const outDir = await Deno.makeTempDir({ prefix: "riskguard-compile-" });
  try {
    const args = [
      "compile",
      "-A",
      v8FlagsArgument(),
      "--target",
      "x86_64-unknown-linux-gnu",
      ...COMPILE_INCLUDES.flatMap((path) => ["--include", path]),
      "--output",
      `${outDir}/riskguard`,
      "main.ts",
    ];
    const result = await new Deno.Command(Deno.execPath(), {
      args,
      cwd: root,
      env: { DENORT_BIN: Deno.execPath(), NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const decoder = new TextDecoder();
    const output = decoder.decode(result.stdout) + decoder.decode(result.stderr);
    const produced = await Deno.stat(`${outDir}/riskguard`).then(() => true, () => false);
    return { success: result.success && produced, output };
  } finally {
    await Deno.remove(outDir, { recursive: true });
  }
}

if (import.meta.main) {
  const { success, output } = await checkCompile();
  console.log(output.trim());
  console.log(success ? "compile check: packaging succeeded" : "compile check: FAILED");
  Deno.exit(success ? 0 : 1);
}
