/**
 * The lean entry of a risk child started by admin: `--mode risk --element_id <id> --pathway
 * <path> --instance <id>` with admin's store channel in its environment, exactly as
 * `src/admin/supervisor.ts` spawns it. It goes straight to {@link runRiskMode} without the
 * command-line parser and the other commands, so that the child loads no npm package: on a VPS
 * with 50 accounts, every megabyte of a child is 50 megabytes (issue 16).
 *
 * Any other command line (run by hand, `--help`, more flags, no channel) goes through the full
 * command line (`src/cli/mod.ts`), which accepts this one too: the routing saves memory and
 * changes nothing else.
 *
 * @module
 */
import { CONTROL_DIR_ENV, ControlDir } from "../shared/control_dir.ts";
import { ExitCode } from "../shared/errors.ts";
import { shutdownLogging } from "../shared/logging.ts";
import { CHANNEL_ADDRESS_ENV } from "../store/channel_store.ts";
import { type CliContext, reportFailure, startWithConfig } from "./context.ts";
import type { RiskModeOptions } from "./risk_mode.ts";

/** The flags admin passes to a child, each with a value. */
const CHILD_FLAGS = ["--element_id", "--pathway", "--instance"] as const;

/**
 * The risk options of a command line that admin wrote for a child (see the module doc), or
 * `undefined` when `args` or `env` are anything else.
 */
export function adminChildOptions(
  args: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): RiskModeOptions | undefined {
  if (!env[CHANNEL_ADDRESS_ENV]) return undefined;
  if (args.length !== 8 || args[0] !== "--mode" || args[1] !== "risk") return undefined;
  const values = new Map<string, string>();
  for (let i = 2; i < args.length; i += 2) {
    const flag = args[i]!;
    const value = args[i + 1]!;
    if (!(CHILD_FLAGS as readonly string[]).includes(flag) || values.has(flag)) return undefined;
    // A blank value is refused as a missing one is: the full command line says why.
    if (value.trim() === "" || value.startsWith("-")) return undefined;
    values.set(flag, value);
  }
  return {
    elementId: values.get("--element_id")!,
    pathway: values.get("--pathway"),
    instance: values.get("--instance"),
    dryRun: false,
    rules: [],
  };
}

/**
 * Runs the child with `risk` (from {@link adminChildOptions}) and returns its exit code, as
 * `runCli` would for the same command line.
 */
export async function runRiskChild(risk: RiskModeOptions, ctx: CliContext): Promise<number> {
  try {
    // Once admin is gone, nothing reads this child's stderr: its lines go to a file in admin's
    // control folder instead, which the next admin names when it adopts the child.
    const controlDir = ctx.env[CONTROL_DIR_ENV];
    const orphanFile = controlDir
      ? new ControlDir(controlDir).orphanLog(risk.elementId)
      : undefined;
    const config = await startWithConfig(ctx, {}, { orphanFile });
    // Imported here, not at the top: main.ts imports this file in every process, and admin
    // (and every other command) must not load the risk runtime it never runs.
    const { runRiskMode } = await import("./risk_mode.ts");
    await runRiskMode(ctx, risk, config);
    return ExitCode.Ok;
  } catch (error) {
    return reportFailure(ctx, error);
  } finally {
    await shutdownLogging();
  }
}
