/**
 * `riskguard instances add|list|remove`.
 *
 * @module
 */
import type { Command } from "commander";
import { NotImplementedError } from "../shared/errors.ts";
import { type CliContext, startCommand } from "./context.ts";

/** Adds the `instances` command group. */
export function registerInstances(program: Command, ctx: CliContext): void {
  const instances = program.command("instances").description("manage MT5 terminals (instances)");
  const pending = (name: string) => async (...args: unknown[]) => {
    await startCommand(ctx, args.at(-1) as Command);
    throw new NotImplementedError(`instances ${name}`);
  };
  instances.command("add").description("register a terminal folder on this host")
    .requiredOption("--path <folder>", "terminal folder, or sim:<scenario> for the simulator")
    .option("--port <number>", "bridge base port (default: next free one on this host)")
    .action(pending("add"));
  instances.command("list").description("list terminals").option("--json", "print JSON").action(
    pending("list"),
  );
  instances.command("remove <id>").description("remove a terminal").action(pending("remove"));
}
