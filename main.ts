/**
 * riskguard entry point: parses the command line and dispatches to a mode or a command.
 *
 * A risk child started by admin takes a lean path (`src/cli/risk_child.ts`): it never loads the
 * full command line (`src/cli/mod.ts`: the parser and every other command), which is imported
 * only when needed. Admin (any `--mode` command line) takes the modes' command line alone
 * (`src/cli/mode_only.ts`): the same parser and options, without the other commands. (Under `deno run`, `selfCommand` starts children with
 * `--unstable-lazy-dynamic-imports` so that an import not taken costs nothing, as in the
 * compiled executable.)
 *
 * @module
 */
import { processContext } from "./src/cli/context.ts";
import { adminChildOptions, runRiskChild } from "./src/cli/risk_child.ts";

if (import.meta.main) {
  const ctx = processContext();
  const child = adminChildOptions(Deno.args, ctx.env);
  const code = child !== undefined
    ? await runRiskChild(child, ctx)
    : isModeCommandLine(Deno.args)
    ? await (await import("./src/cli/mode_only.ts")).runModeOnly(Deno.args, ctx)
    : await (await import("./src/cli/mod.ts")).runCli(Deno.args, ctx);
  Deno.exit(code);
}

/**
 * True when `argv` runs a mode (`--mode`, admin above all) without asking for help or the
 * version: the modes' command line alone (`src/cli/mode_only.ts`) serves it, without loading
 * every other command.
 */
function isModeCommandLine(argv: readonly string[]): boolean {
  const mode = argv.some((arg) => arg === "--mode" || arg.startsWith("--mode="));
  const asks = argv.some((arg) => ["-h", "--help", "-V", "--version", "help"].includes(arg));
  return mode && !asks;
}
