/**
 * The command line: `riskguard --mode admin|risk ...` and the subcommands. Parsing, validation
 * and help live here; each command's work lives in its own module.
 *
 * @module
 */
import type { Command } from "commander";
import type { CliContext } from "./context.ts";
import { finishProgram, newProgram, runProgram } from "./program.ts";
import { registerModes } from "./modes.ts";
import { registerStatus } from "./status.ts";
import { registerElements } from "./elements.ts";
import { registerInstances } from "./instances.ts";
import { registerRules } from "./rules.ts";
import { registerSim } from "./sim.ts";
import { registerDemo } from "./demo.ts";
import { registerEvents } from "./events.ts";
import { registerDashboard } from "./dashboard.ts";

export type { CliContext } from "./context.ts";
export { processContext } from "./context.ts";

/** Builds the full command tree. */
function buildProgram(ctx: CliContext): Command {
  const program = newProgram(ctx);
  registerModes(program, ctx);
  registerStatus(program, ctx);
  registerElements(program, ctx);
  registerInstances(program, ctx);
  registerRules(program, ctx);
  registerSim(program, ctx);
  registerDemo(program, ctx);
  registerEvents(program, ctx);
  registerDashboard(program, ctx);
  return finishProgram(program, ctx);
}

/**
 * Runs the CLI with `argv` (without the executable) and returns the process exit code:
 * 0 ok, 1 crash, 2 configuration or input error.
 */
export function runCli(argv: readonly string[], ctx: CliContext): Promise<number> {
  return runProgram(buildProgram(ctx), argv, ctx);
}
