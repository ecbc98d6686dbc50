/**
 * `riskguard rules check <file>`.
 *
 * @module
 */
import type { Command } from "commander";
import { NotImplementedError } from "../shared/errors.ts";
import { type CliContext, startCommand } from "./context.ts";

/** Adds the `rules` command group. */
export function registerRules(program: Command, ctx: CliContext): void {
  const rules = program.command("rules").description("work with rule plugins");
  rules.command("check <file>")
    .description("load a rule plugin, validate it, run it on sample snapshots, print its actions")
    .option("--options <json>", "options passed to the rule, as JSON")
    .action(async (_file: string, _options: unknown, command: Command) => {
      await startCommand(ctx, command);
      throw new NotImplementedError("rules check");
    });
}
