/**
 * `--mode risk`: guards one account until stopped. Reached from the full command line (run by
 * hand, with `--help`, flags and a config file) and from {@link runRiskChild}, the lean entry of
 * a child started by admin; both end here.
 *
 * This module and what it imports at load time hold no npm package and no store adapter: a
 * child started by admin reaches the store through admin's channel, and its memory is the
 * runtime, our code and its own state (issue 16: <= 45 MB). The store adapters (the fallback
 * should admin die, or a risk process run by hand) and the login lookup are loaded by `import()`
 * when they are needed.
 *
 * @module
 */
import type { Config } from "../shared/config.ts";
import { logger } from "../shared/logging.ts";
import { CONTROL_DIR_ENV, ControlDir, registerChild } from "../shared/control_dir.ts";
import { defaultJournalDir, runRisk, WebhookNotifier } from "../risk/mod.ts";
import { CHANNEL_ADDRESS_ENV, CHANNEL_TOKEN_ENV, ChannelStore } from "../store/channel_store.ts";
import type { Store } from "../store/types.ts";
import type { CliContext } from "./context.ts";
import { riskDrillHooks } from "./_risk_drill_env.ts";

/** Options of the risk mode, as parsed from the command line. */
export interface RiskModeOptions {
  /** The element (account) to guard. */
  elementId: string;
  /** Terminal folder, or `sim:<scenario>` for the simulator. */
  pathway?: string | undefined;
  /** The instance to run on. */
  instance?: string | undefined;
  /** Evaluate and log actions without sending commands. */
  dryRun: boolean;
  /** Extra rule plugin files. */
  rules: string[];
}

/** Guards the account of `risk` with `config` until the process is asked to stop. */
export async function runRiskMode(
  ctx: CliContext,
  risk: RiskModeOptions,
  config: Config,
): Promise<void> {
  const drill = riskDrillHooks(ctx.env);
  const store = await openRiskStore(config, ctx.env);
  // Run by hand, the account may be named by its login; admin always passes the id.
  const controlDir = ctx.env[CONTROL_DIR_ENV];
  if (controlDir === undefined || controlDir === "") {
    try {
      const { resolveElement } = await import("./_element_ref.ts");
      risk.elementId = (await resolveElement(store, risk.elementId, undefined, {
        serverFlag: false,
      })).id;
    } catch (error) {
      await store.close();
      throw error;
    }
  }
  const notifier = config.webhook_url === undefined
    ? undefined
    : new WebhookNotifier(config.webhook_url, { log: logger("risk", "webhook") });
  // Run by admin: stop requests arrive through the control folder (src/shared/control_dir.ts).
  const stopAsked = new AbortController();
  const child = controlDir === undefined || controlDir === "" ? undefined : await registerChild(
    new ControlDir(controlDir),
    {
      pid: Deno.pid,
      element_id: risk.elementId,
      instance_id: risk.instance ?? null,
      started_at: Date.now(),
    },
    AbortSignal.any([ctx.stopSignal, stopAsked.signal]),
  );
  void child?.stopped.then(() => {
    // `stopped` also resolves once this process stops for its own reasons: only a request is news.
    const requested = !ctx.stopSignal.aborted && !stopAsked.signal.aborted;
    if (requested) logger("risk").info("admin asked this process to stop");
    stopAsked.abort();
  });
  try {
    await runRisk({
      store,
      elementId: risk.elementId,
      host: config.host,
      pathway: risk.pathway,
      instanceId: risk.instance,
      dryRun: risk.dryRun,
      ruleFiles: risk.rules,
      secretKey: config.secret_key,
      signal: AbortSignal.any([ctx.stopSignal, stopAsked.signal]),
      notifier,
      journalDir: defaultJournalDir(ctx.env, store.description, config.db),
      logFile: config.log_file,
      timing: {
        pingIntervalMs: config.ping_interval_s * 1_000,
        leaseStaleMs: config.stale_after_s * 1_000,
        ...drill.timing,
      },
      ...(drill.clock === undefined ? {} : { clock: drill.clock }),
    });
    // Only a clean end removes the child record: a restarted admin reads a record left
    // behind by a process that is gone as a crash.
    await child?.done();
  } finally {
    stopAsked.abort();
    await notifier?.close();
    await store.close();
  }
}

/**
 * The store of a risk process. A child started by admin finds admin's store channel in its
 * environment and reaches the store through admin (one database client per VPS), with its own
 * configuration as the fallback should admin die; a risk process started by hand opens the
 * store itself, as does a child whose admin offers no channel.
 */
async function openRiskStore(
  config: { store: string; db: string },
  env: Readonly<Record<string, string | undefined>>,
): Promise<Store> {
  const own = async () => {
    const { openStore } = await import("../store/open_store.ts");
    return await openStore(config.store, { db: config.db });
  };
  const address = env[CHANNEL_ADDRESS_ENV];
  const token = env[CHANNEL_TOKEN_ENV];
  if (address === undefined || token === undefined) return await own();
  // The token is this child's alone: nothing it starts may see it (children get a cleared
  // environment anyway).
  try {
    Deno.env.delete(CHANNEL_TOKEN_ENV);
  } catch {
    // No env permission: nothing can read it either.
  }
  return await ChannelStore.connect({ address, token, fallback: own });
}
