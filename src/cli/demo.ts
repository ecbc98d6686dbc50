/**
 * `riskguard demo`: admin guarding simulated accounts, live, with nothing installed but the
 * program itself (see `src/demo/`).
 *
 * @module
 */
import type { Command } from "commander";
import { DEFAULT_DEMO_OPTIONS, MAX_DEMO_ACCOUNTS, parseDemoOptions, runDemo } from "../demo/mod.ts";
import { type CliContext, startCommand } from "./context.ts";

/** Adds the `demo` command. */
export function registerDemo(program: Command, ctx: CliContext): void {
  program.command("demo")
    .description(
      "admin guards simulated accounts (calm, losing_day, big_position) on a temporary SQLite " +
        "store, shown live; no MongoDB and no MT5 needed",
    )
    .option(
      "--accounts <n>",
      `number of accounts, 1 to ${MAX_DEMO_ACCOUNTS}; scenarios cycle (default ${DEFAULT_DEMO_OPTIONS.accounts})`,
    )
    .option("--duration <seconds>", "stop after this many seconds (default: until Ctrl+C)")
    .option(
      "--seed <number>",
      `simulator seed: the same seed gives the same trades (default ${DEFAULT_DEMO_OPTIONS.seed})`,
    )
    .option(
      "--speed <factor>",
      `simulated time per real time; 2 plays the market twice as fast (default ${DEFAULT_DEMO_OPTIONS.speed})`,
    )
    .action(async (raw: Record<string, string | undefined>, command: Command) => {
      const options = parseDemoOptions(raw);
      const config = await startCommand(ctx, command);
      const tty = isTerminal();
      const noColor = (ctx.env.NO_COLOR ?? "") !== "";
      await runDemo(
        { stdout: ctx.stdout, stopSignal: ctx.stopSignal, tty, color: tty && !noColor },
        options,
        config.host,
      );
    });
}

function isTerminal(): boolean {
  try {
    return Deno.stdout.isTerminal();
  } catch {
    return false;
  }
}
