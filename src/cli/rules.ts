/**
 * `riskguard rules check <file>`: loads a rule plugin the way the risk process does (its own
 * process, deadline), validates its shape and options, runs it on sample snapshots and prints
 * the actions it asks for. Also the hidden `riskguard rules serve-plugin`, the plugin process
 * of the compiled executable.
 *
 * @module
 */
import type { Command } from "commander";
import { RiskGuardError } from "../shared/errors.ts";
import type { Action, RuleContext, RuleError } from "../rules/rule.ts";
import { DEFAULT_SETTINGS } from "../rules/settings.ts";
import { formatLoadError, PluginHost } from "../rules/plugins.ts";
import { sampleScenarios } from "../rules/samples.ts";
import { servePlugin } from "../rules/_plugin_process.ts";
import { prepareContext } from "../risk/engine.ts";
import { type CliContext, startCommand } from "./context.ts";

interface CheckOptions {
  options?: string;
  now?: string;
  hours?: string;
  deadline?: string;
}

/** Adds the `rules` command group. */
export function registerRules(program: Command, ctx: CliContext): void {
  const rules = program.command("rules").description("work with rule plugins");
  rules.command("check <file>")
    .description(
      "load a rule plugin, validate it and its options, run it on sample snapshots (named " +
        "scenarios at --now, then a 5-minute sweep of --hours), print its actions",
    )
    .option("--options <json>", "options passed to the rule, as JSON")
    .option("--now <time>", "ISO 8601 time of the samples (default: now)")
    .option("--hours <n>", "length of the 5-minute sweep in hours, 0 to skip (default 24)")
    .option("--deadline <ms>", "per-snapshot deadline of the plugin in ms (default 1000)")
    .action(async (file: string, options: CheckOptions, command: Command) => {
      await startCommand(ctx, command);
      await checkPlugin(ctx, file, options);
    });
  rules.command("serve-plugin", { hidden: true })
    .description("internal: the process one rule plugin runs in (stdin/stdout JSON lines)")
    .action(async () => {
      await servePlugin();
    });
}

function parseNumber(text: string | undefined, name: string, fallback: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isFinite(value) || value < 0) {
    throw new RiskGuardError("INPUT_INVALID", `--${name} must be a number >= 0, got "${text}"`);
  }
  return value;
}

async function checkPlugin(ctx: CliContext, file: string, flags: CheckOptions): Promise<void> {
  let options: unknown = undefined;
  if (flags.options !== undefined) {
    try {
      options = JSON.parse(flags.options);
    } catch (error) {
      throw new RiskGuardError(
        "INPUT_INVALID",
        `--options is not valid JSON: ${(error as Error).message}`,
      );
    }
  }
  const now = flags.now === undefined ? Date.now() : Date.parse(flags.now);
  if (Number.isNaN(now)) {
    throw new RiskGuardError("INPUT_INVALID", `--now is not an ISO 8601 time: "${flags.now}"`);
  }
  const hours = Math.min(parseNumber(flags.hours, "hours", 24), 24 * 14);
  const deadlineMs = parseNumber(flags.deadline, "deadline", 1000);
  const out = (line = "") => ctx.stdout(`${line}\n`);

  const host = await PluginHost.start([{ module: file, options }], { deadlineMs });
  try {
    const loadError = host.loadErrors[0];
    if (loadError !== undefined) {
      throw new RiskGuardError(
        "PLUGIN_LOAD",
        `rule plugin failed to load: ${formatLoadError(loadError)}`,
      );
    }
    const rule = host.rules[0]!;
    out(`rule ${rule.id}: ${rule.description || "(no description)"}`);
    out(`file ${rule.file}`);
    out(`options ${JSON.stringify(rule.options)}`);
    out();

    const errors: RuleError[] = [];
    let evaluations = 0;
    let withActions = 0;
    const run = async (context: RuleContext): Promise<Action[]> => {
      const outcome = await host.evaluate(context);
      evaluations++;
      errors.push(...outcome.errors);
      if (outcome.actions.length > 0) withActions++;
      for (const error of outcome.errors) {
        out(
          `  ! ${error.kind}: ${error.message}${
            error.line === undefined ? "" : ` (line ${error.line})`
          }`,
        );
      }
      return outcome.actions;
    };

    out(`scenarios at ${iso(now)}:`);
    for (const { name, snapshot } of sampleScenarios(now)) {
      const { context } = prepareContext({ snapshot, settings: DEFAULT_SETTINGS, state: {}, now });
      const actions = await run(context);
      out(`  ${name.padEnd(16)}${actions.length === 0 ? "no actions" : ""}`);
      for (const action of actions) out(`    ${formatAction(action)}`);
    }

    if (hours > 0) {
      out();
      out(`sweep: scenario fresh_position every 5 min for ${hours} h from ${iso(now)}:`);
      const step = 5 * 60_000;
      let open: { from: number; to: number; key: string; actions: Action[] } | undefined;
      const flush = () => {
        if (open === undefined) return;
        out(`  ${iso(open.from)} .. ${iso(open.to)}`);
        for (const action of open.actions) out(`    ${formatAction(action)}`);
        open = undefined;
      };
      let printed = 0;
      for (let at = now; at <= now + hours * 3_600_000; at += step) {
        const scenario = sampleScenarios(at).find((item) => item.name === "fresh_position")!;
        const { context } = prepareContext({
          snapshot: scenario.snapshot,
          settings: DEFAULT_SETTINGS,
          state: {},
          now: at,
        });
        const actions = await run(context);
        const key = actions.map((action) => `${action.type}:${action.reason}`).join("|");
        if (open !== undefined && key === open.key) {
          open.to = at;
          continue;
        }
        flush();
        if (actions.length > 0) {
          open = { from: at, to: at, key, actions };
          printed++;
        }
      }
      flush();
      if (printed === 0) out("  no actions");
    }
    out();
    const status = host.status()[0]!;
    out(
      `checked ${evaluations} snapshots: ${withActions} with actions, ${errors.length} errors ` +
        `(${status.timeouts} timeouts)`,
    );
    if (errors.length > 0) {
      throw new RiskGuardError(
        "PLUGIN_RUNTIME",
        `rule ${rule.id} failed on ${errors.length} of ${evaluations} snapshots: ${
          errors[0]!.message
        }`,
      );
    }
  } finally {
    await host.close();
  }
}

function iso(ms: number): string {
  return new Date(ms).toISOString().slice(0, 16) + "Z";
}

/** One line per action: `lock day until 2026-11-24T13:35Z: reason`. */
export function formatAction(action: Action): string {
  switch (action.type) {
    case "lock":
      return action.scope === "permanent"
        ? `lock permanently: ${action.reason}`
        : `lock until ${iso(action.until)}: ${action.reason}`;
    case "close_position":
      return `close_position ${action.ticket}${
        action.volume === undefined ? "" : ` (${action.volume} lots)`
      }: ${action.reason}`;
    case "notify":
      return `notify ${action.level}${
        action.once === undefined ? "" : ` once[${action.once}]`
      }: ${action.reason}`;
    default:
      return `${action.type}: ${action.reason}`;
  }
}
