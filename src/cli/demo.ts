/**
 * `riskguard demo`: a simulated account guarded end to end on the embedded store.
 *
 * @module
 */
import type { Command } from "commander";
import { NotImplementedError } from "../shared/errors.ts";
import { type CliContext, startCommand } from "./context.ts";

/** Adds the `demo` command. */
export function registerDemo(program: Command, ctx: CliContext): void {
  program.command("demo")
    .description("guard simulated accounts end to end with no MongoDB and no MT5")
    .option("--duration <seconds>", "stop after this many seconds (default: until Ctrl+C)")
    .action(async (_options: unknown, command: Command) => {
      await startCommand(ctx, command);
      throw new NotImplementedError("demo");
    });
}
