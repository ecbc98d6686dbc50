/**
 * riskguard entry point: parses the command line and dispatches to a mode or a command.
 *
 * @module
 */
import { processContext, runCli } from "./src/cli/mod.ts";

if (import.meta.main) {
  const code = await runCli(Deno.args, processContext());
  Deno.exit(code);
}
