/**
 * The account's rule plugins: the element's `rules` plus the `--rules` files, started in a
 * {@link PluginHost} and restarted only when that list changes. Load failures are reported (event,
 * element error, critical notification); the built-in rules never depend on them.
 *
 * @module
 */
import type { Logger } from "../shared/logging.ts";
import type { PluginHost, PluginLoadError, PluginSpec, ProtectedPath } from "../rules/plugins.ts";
import type { RiskSettings } from "../rules/rule.ts";
import type { Clock } from "../shared/clock.ts";
import type { AuditTrail } from "./audit_trail.ts";
import type { LeasedWriter } from "./leased_writer.ts";

/** Options of {@link RulePlugins}. */
export interface RulePluginsOptions {
  /** Extra plugin files (`--rules`), besides the element's `rules`. */
  ruleFiles: readonly string[];
  /** Time source handed to the plugin host. */
  clock: Clock;
  /** Records load failures. */
  audit: AuditTrail;
  /** Stores the load failure as the element's error. */
  writer: LeasedWriter;
  /** The account's logger. */
  log: Logger;
  /** What no plugin may share a folder with (store file, log file, terminal folder). */
  protectedPaths: readonly ProtectedPath[];
}

/** See the module documentation. */
export class RulePlugins {
  readonly #options: RulePluginsOptions;
  #host: PluginHost | undefined;
  /** The plugin list the current host runs (JSON), to restart only on a change. */
  #runningSpecs = "";
  /** Counts the loads: a load overtaken by a newer one (or by {@link close}) stops its host. */
  #generation = 0;
  #closed = false;

  /** Creates the set; nothing runs until {@link load}. */
  constructor(options: RulePluginsOptions) {
    this.#options = options;
  }

  /** The running host; undefined when no plugin is configured. */
  get host(): PluginHost | undefined {
    return this.#host;
  }

  /** Runs the plugins `settings` name (and the `--rules` files); a no-op when unchanged. */
  async load(settings: RiskSettings): Promise<void> {
    const { ruleFiles, clock } = this.#options;
    const specs: PluginSpec[] = [
      ...settings.rules.map((rule) => ({ module: rule.module, options: rule.options })),
      ...ruleFiles.map((module) => ({ module })),
    ];
    const key = JSON.stringify(specs);
    if (this.#closed || key === this.#runningSpecs) return;
    this.#runningSpecs = key;
    const generation = ++this.#generation;
    const previous = this.#host;
    this.#host = undefined;
    await previous?.close();
    if (specs.length === 0) return;
    let host: PluginHost;
    let formatLoadError: (error: PluginLoadError) => string;
    try {
      // Imported here, not at the top: an account without plugins never loads the plugin host
      // (its process management and context deltas: about a tenth of the risk process's code).
      const plugins = await import("../rules/plugins.ts");
      formatLoadError = plugins.formatLoadError;
      host = await plugins.PluginHost.start(specs, {
        clock,
        protectedPaths: this.#options.protectedPaths,
      });
    } catch (error) {
      // Overtaken by a newer load or by the end: that one decides what runs.
      if (this.#closed || generation !== this.#generation) return;
      // Reported as a plugin that failed to load (the built-in rules enforce without it), and
      // tried again at the next change of the configuration.
      this.#runningSpecs = "";
      const reason = error instanceof Error ? error.message : String(error);
      this.#report(`rule plugins could not be started: ${reason}`, specs[0]!.module, {
        modules: specs.map((spec) => spec.module),
      });
      return;
    }
    if (this.#closed || generation !== this.#generation) {
      await host.close(); // a newer load, or the end, came while this one was starting
      return;
    }
    this.#host = host;
    for (const error of host.loadErrors) {
      this.#report(`rule plugin failed to load: ${formatLoadError(error)}`, error.module, {
        ...error,
      });
    }
  }

  /** Records a plugin that cannot run: log, event, the element's error, a critical notice. */
  #report(message: string, rule: string, detail: Record<string, unknown>): void {
    const { clock, audit, writer, log } = this.#options;
    log.error(message);
    audit.record("error", message, { rule, detail });
    writer.patch({ error: { code: "PLUGIN_LOAD", message, at: clock.now() } });
    audit.notify("error", "critical", message, rule);
  }

  /** Stops the plugins; a load still starting stops its host when it is up. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#host?.close();
  }
}
