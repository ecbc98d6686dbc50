/**
 * The command line: `riskguard --mode admin|risk ...` and the subcommands. Parsing, validation
 * and help live here; each command's work lives in its own module.
 *
 * @module
 */
import { Command, CommanderError, Option } from "commander";
import { ExitCode } from "../shared/errors.ts";
import { shutdownLogging } from "../shared/logging.ts";
import { VERSION_LINE } from "../shared/version.ts";
import { type CliContext, reportFailure } from "./context.ts";
import { registerModes } from "./modes.ts";
import { registerStatus } from "./status.ts";
import { registerElements } from "./elements.ts";
import { registerInstances } from "./instances.ts";
import { registerRules } from "./rules.ts";
import { registerSim } from "./sim.ts";
import { registerDemo } from "./demo.ts";
import { DEFAULT_STALE_MS } from "../shared/stale.ts";
import { registerEvents } from "./events.ts";
import { registerDashboard } from "./dashboard.ts";

export type { CliContext } from "./context.ts";
export { processContext } from "./context.ts";

/** Builds the full command tree. */
function buildProgram(ctx: CliContext): Command {
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
  registerModes(program, ctx);
  registerStatus(program, ctx);
  registerElements(program, ctx);
  registerInstances(program, ctx);
  registerRules(program, ctx);
  registerSim(program, ctx);
  registerDemo(program, ctx);
  registerEvents(program, ctx);
  registerDashboard(program, ctx);
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
 * Runs the CLI with `argv` (without the executable) and returns the process exit code:
 * 0 ok, 1 crash, 2 configuration or input error.
 */
export async function runCli(argv: readonly string[], ctx: CliContext): Promise<number> {
  const program = buildProgram(ctx);
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
