/**
 * The account's rule plugins: the element's `rules` plus the `--rules` files, started in a
 * {@link PluginHost} and restarted only when that list changes. Load failures are reported (event,
 * element error, critical notification); the built-in rules never depend on them.
 *
 * @module
 */
import type { Logger } from "../shared/logging.ts";
import type { PluginHost, PluginSpec, ProtectedPath } from "../rules/plugins.ts";
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
    const { ruleFiles, clock, audit, writer, log } = this.#options;
    const specs: PluginSpec[] = [
      ...settings.rules.map((rule) => ({ module: rule.module, options: rule.options })),
      ...ruleFiles.map((module) => ({ module })),
    ];
    const key = JSON.stringify(specs);
    if (key === this.#runningSpecs) return;
    this.#runningSpecs = key;
    const previous = this.#host;
    this.#host = undefined;
    await previous?.close();
    if (specs.length === 0) return;
    // Imported here, not at the top: an account without plugins never loads the plugin host
    // (its process management and context deltas are a fifth of the risk process's code).
    const { formatLoadError, PluginHost } = await import("../rules/plugins.ts");
    this.#host = await PluginHost.start(specs, {
      clock,
      protectedPaths: this.#options.protectedPaths,
    });
    for (const error of this.#host.loadErrors) {
      const message = `rule plugin failed to load: ${formatLoadError(error)}`;
      log.error(message);
      audit.record("error", message, { rule: error.module, detail: { ...error } });
      writer.patch({ error: { code: "PLUGIN_LOAD", message, at: clock.now() } });
      audit.notify("error", "critical", message, error.module);
    }
  }

  /** Stops the plugins. */
  async close(): Promise<void> {
    await this.#host?.close();
  }
}
