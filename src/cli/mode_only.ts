/**
 * The command line of the modes alone (`riskguard --mode admin|risk ...`): the same program,
 * global options, checks and messages as the full CLI (`mod.ts`), without the other commands.
 * main.ts takes it for a command line with `--mode` (and no help or version flag), so that admin
 * does not load every command's modules (the simulator, the dashboard pages, the element import,
 * ...) that it never runs: their sources and compiled code would stay in its heap.
 *
 * @module
 */
import type { CliContext } from "./context.ts";
import { registerModes } from "./modes.ts";
import { finishProgram, newProgram, runProgram } from "./program.ts";

/** Runs a mode's command line; the exit code as `runCli` would return it. */
export function runModeOnly(argv: readonly string[], ctx: CliContext): Promise<number> {
  const program = newProgram(ctx);
  registerModes(program, ctx);
  return runProgram(finishProgram(program, ctx), argv, ctx);
}
