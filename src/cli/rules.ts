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
import {
  DEFAULT_PLUGIN_DEADLINE_MS,
  formatLoadError,
  PluginHost,
  servePlugin,
} from "../rules/plugins.ts";
import { sampleScenarios } from "../rules/samples.ts";
import { prepareContext } from "../risk/mod.ts";
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
    .option(
      "--deadline <ms>",
      "per-snapshot deadline of the plugin in ms (default 1000, generous for a first check; the " +
        `risk process allows ${DEFAULT_PLUGIN_DEADLINE_MS} ms), e.g. --deadline 50`,
    )
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

    const sweepSteps = hours > 0 ? Math.floor(hours * 12) + 1 : 0;
    const tally = {
      planned: sampleScenarios(now).length + sweepSteps,
      evaluated: 0,
      withActions: 0,
      errors: [] as RuleError[],
      notEvaluated: 0,
      stopped: undefined as string | undefined,
      answered: 0,
      slowestMs: 0,
    };
    /**
     * Evaluates one snapshot, or `undefined` when it was not evaluated. A plugin restarting after
     * a timeout or crash is waited for (the check wants every snapshot evaluated); once it is
     * suspended or failed the check stops: the remaining snapshots are counted, not faked.
     */
    const run = async (context: RuleContext): Promise<Action[] | undefined> => {
      if (tally.stopped === undefined) tally.stopped = await waitUntilReady(host);
      if (tally.stopped !== undefined) {
        tally.notEvaluated++;
        return undefined;
      }
      const started = performance.now();
      const outcome = await host.evaluate(context);
      if (outcome.skipped.length > 0) {
        tally.notEvaluated++;
        tally.stopped = `plugin ${outcome.skipped[0]!.reason}`;
        return undefined;
      }
      tally.evaluated++;
      if (!outcome.errors.some((error) => error.kind === "timeout")) {
        tally.answered++;
        tally.slowestMs = Math.max(tally.slowestMs, performance.now() - started);
      }
      tally.errors.push(...outcome.errors);
      if (outcome.actions.length > 0) tally.withActions++;
      for (const error of outcome.errors) {
        out(
          `  ! ${error.kind}: ${error.message}${
            error.line === undefined ? "" : ` (line ${error.line})`
          }`,
        );
      }
      return outcome.errors.length > 0 && outcome.actions.length === 0
        ? undefined
        : outcome.actions;
    };
    const verdict = (actions: Action[] | undefined, before: number): string => {
      if (actions !== undefined) return actions.length === 0 ? "no actions" : "";
      return tally.errors.length > before ? "failed (see above)" : "not evaluated";
    };

    out(`scenarios at ${iso(now)}:`);
    for (const { name, snapshot } of sampleScenarios(now)) {
      const { context } = prepareContext({ snapshot, settings: DEFAULT_SETTINGS, state: {}, now });
      const before = tally.errors.length;
      const actions = await run(context);
      out(`  ${name.padEnd(16)}${verdict(actions, before)}`);
      for (const action of actions ?? []) out(`    ${formatAction(action)}`);
    }

    if (sweepSteps > 0) {
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
      let sweepEvaluated = 0;
      for (let index = 0; index < sweepSteps; index++) {
        const at = now + index * step;
        const scenario = sampleScenarios(at).find((item) => item.name === "fresh_position")!;
        const { context } = prepareContext({
          snapshot: scenario.snapshot,
          settings: DEFAULT_SETTINGS,
          state: {},
          now: at,
        });
        const actions = await run(context);
        if (actions === undefined) {
          flush();
          continue;
        }
        sweepEvaluated++;
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
      if (printed === 0 && sweepEvaluated > 0) out("  no actions");
      if (sweepEvaluated < sweepSteps) {
        out(`  ${sweepSteps - sweepEvaluated} of ${sweepSteps} sweep snapshots not evaluated`);
      }
    }
    out();
    const status = host.status()[0]!;
    out(
      `checked ${tally.evaluated} of ${tally.planned} snapshots: ${tally.withActions} with ` +
        `actions, ${tally.errors.length} ${tally.errors.length === 1 ? "error" : "errors"} ` +
        `(${status.timeouts} timeouts)${
          tally.notEvaluated === 0
            ? ""
            : `, ${tally.notEvaluated} not evaluated (stopped: ${tally.stopped ?? "skipped"})`
        }`,
    );
    if (tally.answered > 0) {
      const slowest = Math.ceil(tally.slowestMs);
      out(
        `slowest answer ${slowest} ms (deadline here ${deadlineMs} ms; the risk process allows ` +
          `${DEFAULT_PLUGIN_DEADLINE_MS} ms per snapshot${
            slowest > DEFAULT_PLUGIN_DEADLINE_MS ? ": it would time out there" : ""
          })`,
      );
    }
    if (tally.errors.length > 0 || tally.notEvaluated > 0) {
      const first = tally.errors[0];
      throw new RiskGuardError(
        "PLUGIN_RUNTIME",
        `rule ${rule.id} failed on ${tally.errors.length} of ${tally.evaluated} snapshots ` +
          `evaluated${tally.notEvaluated === 0 ? "" : `, ${tally.notEvaluated} not evaluated`}: ${
            first?.message ?? tally.stopped
          }`,
      );
    }
  } finally {
    await host.close();
  }
}

/**
 * Waits while the plugin restarts after a timeout or crash. Returns why the check must stop
 * (suspended after too many failures in a row, failed to reload), or `undefined` when ready.
 */
async function waitUntilReady(host: PluginHost): Promise<string | undefined> {
  // The restart includes a reload, bounded by the host's load timeout (5 s).
  const giveUp = performance.now() + 10_000;
  while (true) {
    const status = host.status()[0]!;
    switch (status.state) {
      case "ready":
        return undefined;
      case "suspended":
        return `plugin suspended after ${status.timeouts + status.crashes} timeouts or crashes; ` +
          "the risk process would retry it after a backoff of 1 s, doubling up to 60 s";
      case "failed":
        return "plugin failed to reload after a timeout or crash";
      case "closed":
        return "plugin closed";
    }
    if (performance.now() > giveUp) return `plugin still ${status.state} after 10 s`;
    await new Promise((resolve) => setTimeout(resolve, 10));
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
