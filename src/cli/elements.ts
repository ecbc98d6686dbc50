/**
 * `riskguard elements add|list|show|enable|disable|remove`.
 *
 * @module
 */
import type { Command } from "commander";
import { NotImplementedError } from "../shared/errors.ts";
import { type CliContext, startCommand } from "./context.ts";

/** Adds the `elements` command group. */
export function registerElements(program: Command, ctx: CliContext): void {
  const elements = program.command("elements").description("manage trading accounts (elements)");
  const pending = (name: string) => async (...args: unknown[]) => {
    await startCommand(ctx, args.at(-1) as Command);
    throw new NotImplementedError(`elements ${name}`);
  };
  elements.command("add").description("add an account (prompts for the password when not given)")
    .requiredOption("--server <name>", "MT5 trade server")
    .requiredOption("--login <number>", "MT5 account number")
    .option("--password <password>", "account password (prompted when omitted; never echoed)")
    .option("--max-daily-loss <limit>", "money, or percent of the day's baseline like 5%")
    .option("--max-position-risk <limit>", "money, or percent of balance like 1%")
    .option("--max-profit <limit>", "money, or percent of the day's baseline")
    .action(pending("add"));
  elements.command("list").description("list accounts").option("--json", "print JSON").action(
    pending("list"),
  );
  elements.command("show <id>").description("show one account (password masked)").action(
    pending("show"),
  );
  elements.command("enable <id>").description("allow the agent to manage an account").action(
    pending("enable"),
  );
  elements.command("disable <id>").description("stop managing an account (status DISABLED)")
    .action(pending("disable"));
  elements.command("remove <id>").description("delete an account").action(pending("remove"));
}
