/**
 * riskguard entry point: parses the command line and dispatches to a mode or a command.
 *
 * A risk child started by admin takes a lean path (`src/cli/risk_child.ts`): it never loads the
 * full command line (`src/cli/mod.ts`: the parser and every other command), which is imported
 * only when needed. (Under `deno run`, `selfCommand` starts children with
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
  const code = child === undefined
    ? await (await import("./src/cli/mod.ts")).runCli(Deno.args, ctx)
    : await runRiskChild(child, ctx);
  Deno.exit(code);
}
