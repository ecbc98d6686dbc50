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
export async function runModeOnly(argv: readonly string[], ctx: CliContext): Promise<number> {
  // A command word beside `--mode` (`riskguard elements list --mode admin`) is the full command
  // line's to judge, as it would be without this shortcut: this program knows no command. (A
  // program of its own for that look: parsing leaves the options' values on the program.)
  if (modesProgram(ctx).parseOptions([...argv]).operands.length > 0) {
    return await (await import("./mod.ts")).runCli(argv, ctx);
  }
  return await runProgram(modesProgram(ctx), argv, ctx);
}

function modesProgram(ctx: CliContext) {
  const program = newProgram(ctx);
  registerModes(program, ctx);
  return finishProgram(program, ctx);
}
