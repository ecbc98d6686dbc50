/**
 * `riskguard status`: one row per element with its lease, trading state and metrics.
 *
 * @module
 */
import type { Command } from "commander";
import { NotImplementedError } from "../shared/errors.ts";
import { type CliContext, startCommand } from "./context.ts";

/** Adds the `status` command. */
export function registerStatus(program: Command, ctx: CliContext): void {
  program.command("status")
    .description("show every account: status, trading state, instance, last ping, equity, P/L")
    .option("--json", "print JSON for scripts")
    .action(async (_options: Record<string, unknown>, command: Command) => {
      await startCommand(ctx, command);
      throw new NotImplementedError("status");
    });
}
