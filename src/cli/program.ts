/**
 * The root of the command line, shared by the full CLI (`mod.ts`) and the lean one for the
 * modes (`mode_only.ts`): the program with its global options, the settings every command gets,
 * and running it to an exit code.
 *
 * @module
 */
import { Command, CommanderError, Option } from "commander";
import { ExitCode } from "../shared/errors.ts";
import { shutdownLogging } from "../shared/logging.ts";
import { DEFAULT_STALE_MS } from "../shared/stale.ts";
import { VERSION_LINE } from "../shared/version.ts";
import { type CliContext, reportFailure } from "./context.ts";

/** The program `riskguard` with its global options and no command yet. */
export function newProgram(ctx: CliContext): Command {
  const program = new Command("riskguard")
    .description(
      "Guards MetaTrader 5 accounts: enforces loss, risk and profit limits, locks accounts and " +
        "closes positions the moment a limit is crossed.",
    )
    .version(VERSION_LINE, "-V, --version", "print the version and the commit it was built from")
    .helpOption("-h, --help", "show help")
    .showSuggestionAfterError(true)
    .configureOutput({
      writeOut: (text) => ctx.stdout(text),
      writeErr: (text) => ctx.stderr(text),
    })
    .exitOverride();

  addGlobalOptions(program);
  return program;
}

/** Gives every command of `program` its help and output settings; returns `program`. */
export function finishProgram(program: Command, ctx: CliContext): Command {
  applyToAll(program, (command) => {
    command.configureHelp({ showGlobalOptions: true });
    command.exitOverride().configureOutput({
      writeOut: (text) => ctx.stdout(text),
      writeErr: (text) => ctx.stderr(text),
    });
  });
  return program;
}

/**
 * Runs `program` with `argv` (without the executable) and returns the process exit code:
 * 0 ok, 1 crash, 2 configuration or input error.
 */
export async function runProgram(
  program: Command,
  argv: readonly string[],
  ctx: CliContext,
): Promise<number> {
  try {
    await program.parseAsync([...argv], { from: "user" });
    return ExitCode.Ok;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version are "errors" to commander; real parse errors were already printed.
      return error.exitCode === 0 ? ExitCode.Ok : ExitCode.InvalidInput;
    }
    return reportFailure(ctx, error);
  } finally {
    await shutdownLogging();
  }
}

function addGlobalOptions(program: Command): void {
  program
    .option("--config <file>", "JSONC config file (env RISKGUARD_CONFIG)")
    .option(
      "--store <uri>",
      "mongodb://..., mongodb+srv://..., sqlite:<path> or a file path (env RISKGUARD_STORE or " +
        "MONGODB_URI; default sqlite:riskguard.db)",
    )
    .option("--db <name>", "MongoDB database name (env RISKGUARD_DB; default riskguard)")
    .option(
      "--host <name>",
      "this machine's name in the store (env RISKGUARD_HOST; default hostname)",
    )
    .addOption(
      new Option(
        "--log-level <level>",
        "lowest level logged (env RISKGUARD_LOG_LEVEL; default info)",
      ),
    )
    .option(
      "--log-file <path>",
      "also write JSON lines to this rotating file (env RISKGUARD_LOG_FILE)",
    )
    .option("--webhook-url <url>", "POST breach/lock/error events here (env RISKGUARD_WEBHOOK_URL)")
    .option(
      "--stale-after <seconds>",
      `ping age after which a lease is reaped (default ${DEFAULT_STALE_MS / 1_000})`,
    )
    .option("--ping-interval <seconds>", "seconds between pings of a risk process (default 10)");
}

function applyToAll(command: Command, visit: (command: Command) => void): void {
  visit(command);
  for (const child of command.commands) applyToAll(child, visit);
}
