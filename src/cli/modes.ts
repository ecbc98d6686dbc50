/**
 * `riskguard --mode admin` and `riskguard --mode risk --element_id <id> ...`.
 *
 * @module
 */
import { type Command, Option } from "commander";
import { ConfigError, describeError } from "../shared/errors.ts";
import type { Config } from "../shared/config.ts";
import { logger } from "../shared/logging.ts";
import { childEnv } from "../shared/process.ts";
import {
  CHANNEL_ADDRESS_ENV,
  CHANNEL_TOKEN_ENV,
  newChannelToken,
  openStore,
  StoreChannelServer,
} from "../store/mod.ts";
import {
  adminTimingFromEnv,
  CONTROL_DIR_ENV,
  ControlDir,
  defaultControlDir,
  retryStore,
  runAdmin,
} from "../admin/mod.ts";
import { defaultJournalDir, JOURNAL_DIR_ENV } from "../risk/state_journal.ts";
import { type CliContext, startCommand } from "./context.ts";
import type { RiskModeOptions } from "./risk_mode.ts";
// The web server is loaded only when admin serves the dashboard (--dashboard).
import { DASHBOARD_TOKEN_ENV, parseListen } from "../dashboard/listen.ts";
import type { DashboardServer, ServeDashboardOptions } from "../dashboard/mod.ts";

/** Admin-only options, as parsed from the command line. */
interface AdminModeExtras {
  /** Serve the dashboard in-process on this address. */
  dashboard: string | undefined;
  /** Equity samples kept this long (default: the store's 30 days). */
  sampleRetentionMs: number | undefined;
}

/** Parses `--sample-retention <days>` (a whole number of days from 1 to 3650). */
function sampleRetentionMs(text: string | undefined): number | undefined {
  if (text === undefined || text === "") return undefined;
  const days = Number(text);
  if (!Number.isInteger(days) || days < 1 || days > 3650) {
    throw new ConfigError(
      `Invalid value for --sample-retention: ${JSON.stringify(text)}; expected whole days from 1 ` +
        "to 3650",
    );
  }
  return days * 24 * 60 * 60 * 1000;
}

/** Adds the mode options and the root action to the program. */
export function registerModes(program: Command, ctx: CliContext): void {
  program
    .addOption(new Option("--mode <mode>", "run as supervisor or as one account's guard").choices([
      "admin",
      "risk",
    ]))
    .option(
      "--element_id <id>",
      "risk mode: the element (account) to guard: its id, or its login when run by hand",
    )
    .option("--pathway <path>", "risk mode: terminal folder, or sim:<scenario> for the simulator")
    .option("--instance <id>", "risk mode: the instance (terminal) to run on")
    .option("--dry-run", "risk mode: evaluate rules and log actions without sending them", false)
    .option(
      "--rules <file>",
      "risk mode: extra rule plugin file (repeatable)",
      (value: string, previous: string[]) => [...previous, value],
      [] as string[],
    )
    .option(
      "--dashboard <host:port>",
      "admin mode: also serve the web dashboard here, e.g. 127.0.0.1:8787 (actions need " +
        `${DASHBOARD_TOKEN_ENV}; any address other than loopback needs it)`,
    )
    .option(
      "--sample-retention <days>",
      "admin mode: days of equity samples kept for the dashboard's curves (env " +
        "RISKGUARD_SAMPLE_RETENTION_DAYS; default 30)",
    )
    .addHelpText(
      "after",
      `
Modes:
  riskguard --mode admin                     supervise every account on this host
  riskguard --mode risk --element_id <id>    guard one account (run by admin, or by hand)

Exit codes: 0 ok, 1 crash (a supervisor may restart), 2 configuration or input error.`,
    )
    .allowExcessArguments(true)
    .action(async (options: Record<string, unknown>, command: Command) => {
      const [unknown] = command.args;
      if (unknown !== undefined && options.mode !== undefined) {
        // `--rules a.ts b.ts`: a second value is no command, though it stands where one would.
        throw new ConfigError(
          `Unexpected argument '${unknown}' with --mode ${options.mode}: each option takes one ` +
            "value (repeat --rules for each plugin file); see riskguard --help",
        );
      }
      if (unknown !== undefined) {
        const commands = program.commands.map((c) => c.name());
        const near = commands.find((name) => name.startsWith(unknown.slice(0, 3)));
        // Never in the modes' command line alone: it sends a command word to the full one.
        throw new ConfigError(
          `Unknown command '${unknown}'${near === undefined ? "" : ` (did you mean ${near}?)`}; ` +
            `commands: ${commands.join(", ")}; see riskguard --help`,
        );
      }
      const mode = options.mode as "admin" | "risk" | undefined;
      if (mode === undefined) {
        throw new ConfigError(
          "Missing --mode or a command; run `riskguard --help` for the list",
        );
      }
      // Flags of one account's guard: admin's children take none of them (a dry run or extra
      // plugins per account are for a risk process run by hand).
      const riskOnly = [
        ...["element_id", "pathway", "instance"].filter((name) => options[name] !== undefined),
        ...(options.dryRun === true ? ["dry-run"] : []),
        ...((options.rules as string[]).length > 0 ? ["rules"] : []),
      ];
      const adminOnly = ["dashboard", "sampleRetention"].filter((name) =>
        options[name] !== undefined
      );
      if (mode === "risk" && adminOnly.length > 0) {
        const flag = adminOnly[0] === "dashboard" ? "--dashboard" : "--sample-retention";
        throw new ConfigError(
          `Option ${flag} is only valid with --mode admin, not with --mode risk`,
        );
      }
      if (mode === "admin") {
        if (riskOnly.length > 0) {
          throw new ConfigError(
            `Option --${riskOnly[0]} is only valid with --mode risk, not with --mode admin`,
          );
        }
        const extras: AdminModeExtras = {
          dashboard: options.dashboard as string | undefined,
          sampleRetentionMs: sampleRetentionMs(
            (options.sampleRetention as string | undefined) ??
              ctx.env.RISKGUARD_SAMPLE_RETENTION_DAYS,
          ),
        };
        // A bad address fails before anything starts.
        if (extras.dashboard !== undefined) parseListen(extras.dashboard);
        const config = await startCommand(ctx, command);
        await runAdminMode(ctx, config, extras);
        return;
      }
      const elementId = options.element_id;
      if (typeof elementId !== "string" || elementId.trim() === "") {
        throw new ConfigError("--mode risk needs --element_id <id>");
      }
      const risk: RiskModeOptions = {
        elementId,
        pathway: options.pathway as string | undefined,
        instance: options.instance as string | undefined,
        dryRun: options.dryRun === true,
        rules: options.rules as string[],
      };
      const config = await startCommand(ctx, command);
      // Loaded for risk mode only: admin does not carry the risk runtime.
      const { runRiskMode } = await import("./risk_mode.ts");
      await runRiskMode(ctx, risk, config);
    });
}

/**
 * `--mode admin`: supervises every account of this host until Ctrl+C / SIGTERM (Linux) or
 * Ctrl+C / Ctrl+Break (Windows). A store that cannot be reached at start is retried, logged,
 * until it answers or admin is stopped.
 */
async function runAdminMode(
  ctx: CliContext,
  config: Config,
  extras: AdminModeExtras,
): Promise<void> {
  const timing = adminTimingFromEnv(ctx.env);
  const store = await retryStore(
    logger("admin"),
    ctx.stopSignal,
    "start",
    () => openStore(config.store, { db: config.db }),
  );
  if (store === undefined) return;
  let channel: StoreChannelServer | undefined;
  try {
    // The children reach the store through admin (one database client per VPS): a channel on
    // 127.0.0.1 with a token made for this launch, both handed over in their environment.
    const channelToken = newChannelToken();
    // Its children's element feeds are told of changes by admin's watcher (one stream).
    channel = StoreChannelServer.listen(store, { token: channelToken, hinted: true });
    const served = channel;
    const controlPath = ctx.env[CONTROL_DIR_ENV] ||
      defaultControlDir(config.host, store.description, config.db, ctx.env);
    const control = new ControlDir(controlPath);
    // The children's whole configuration, through their environment (never the command line,
    // never logged); nothing else of admin's environment reaches them.
    const env = childEnv({
      RISKGUARD_STORE: config.store,
      RISKGUARD_DB: config.db,
      RISKGUARD_HOST: config.host,
      RISKGUARD_LOG_LEVEL: config.log_level,
      RISKGUARD_STALE_AFTER_S: String(config.stale_after_s),
      RISKGUARD_PING_INTERVAL_S: String(config.ping_interval_s),
      [CONTROL_DIR_ENV]: control.path,
      [CHANNEL_ADDRESS_ENV]: channel.address,
      [CHANNEL_TOKEN_ENV]: channelToken,
      [JOURNAL_DIR_ENV]: defaultJournalDir(ctx.env, store.description, config.db),
      ...(config.secret_key === undefined ? {} : { RISKGUARD_SECRET_KEY: config.secret_key }),
      ...(config.webhook_url === undefined ? {} : { RISKGUARD_WEBHOOK_URL: config.webhook_url }),
    });
    // The dashboard in this process, on admin's store; it ends with admin (same signal).
    const dashboard = extras.dashboard === undefined ? undefined : await serveAdminDashboard({
      store,
      listen: extras.dashboard,
      token: ctx.env[DASHBOARD_TOKEN_ENV],
      signal: ctx.stopSignal,
      staleMs: config.ping_interval_s * 3_000,
    });
    await runAdmin({
      store,
      host: config.host,
      signal: ctx.stopSignal,
      childEnv: env,
      control,
      staleMs: config.stale_after_s * 1_000,
      pingMs: config.ping_interval_s * 1_000,
      timing,
      onElementChange: (change) => served.hint(change),
      ...(extras.sampleRetentionMs === undefined
        ? {}
        : { sampleRetentionMs: extras.sampleRetentionMs }),
    });
    await dashboard?.finished;
  } finally {
    await channel?.close();
    await store.close();
  }
}

/** What admin uses of the dashboard module. */
type DashboardModule = Pick<typeof import("../dashboard/mod.ts"), "serveDashboard">;

/**
 * Serves the dashboard in admin's process, loading its module (the web server) only now. A
 * dashboard that cannot load or start (a module that fails to load, a port taken, no token on a
 * public address) is reported and resolves to undefined: admin guards without it, since a page
 * must never keep accounts unguarded. `load` is a parameter so that a test can make it fail.
 */
export function serveAdminDashboard(
  options: ServeDashboardOptions,
  load: () => Promise<DashboardModule> = () => import("../dashboard/mod.ts"),
): Promise<DashboardServer | undefined> {
  // Loading is inside the chain: a module that fails to load is caught like a failing start.
  return Promise.resolve()
    .then(load)
    .then((module) => module.serveDashboard(options))
    .catch((error) => {
      logger("admin").error("dashboard not served: {error}", { error: describeError(error) });
      return undefined;
    });
}
