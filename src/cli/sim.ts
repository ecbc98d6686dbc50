/**
 * `riskguard sim`: runs the simulated terminal + EA by hand.
 *
 * @module
 */
import type { Command } from "commander";
import { NotImplementedError } from "../shared/errors.ts";
import { type CliContext, startCommand } from "./context.ts";

/** Adds the `sim` command. */
export function registerSim(program: Command, ctx: CliContext): void {
  program.command("sim")
    .description("run a simulated MT5 terminal + bridge EA that connects to a risk process")
    .requiredOption("--scenario <name>", "calm, losing_day, big_position, winning_day, gap, flaky")
    .requiredOption("--port <number>", "bridge base port of the risk process")
    .requiredOption("--token <token>", "PLAIN password of this launch")
    .option("--seed <number>", "random seed (same seed, same ticks)")
    .action(async (_options: unknown, command: Command) => {
      await startCommand(ctx, command);
      throw new NotImplementedError("sim");
    });
}
