/**
 * `riskguard dashboard [--listen 127.0.0.1:8787]`: serves the web dashboard over the store
 * until Ctrl+C.
 *
 * @module
 */
import type { Command } from "commander";
import { openStore } from "../store/mod.ts";
// The web server (Hono, pages, assets) is loaded only when this command runs: every other
// command and mode starts without it.
import { DASHBOARD_TOKEN_ENV, DEFAULT_DASHBOARD_LISTEN, parseListen } from "../dashboard/listen.ts";
import { type CliContext, startCommand } from "./context.ts";

/** Adds the `dashboard` command. */
export function registerDashboard(program: Command, ctx: CliContext): void {
  program.command("dashboard")
    .description(
      "serve the web dashboard: every account live, equity curves against their limits, " +
        `events; actions (unlock, disable, enable) only with ${DASHBOARD_TOKEN_ENV}`,
    )
    .option(
      "--listen <host:port>",
      `address to listen on (env RISKGUARD_DASHBOARD_LISTEN; default ${DEFAULT_DASHBOARD_LISTEN}; ` +
        `any address other than loopback needs ${DASHBOARD_TOKEN_ENV})`,
    )
    .action(async (options: { listen?: string }, command: Command) => {
      const listen = options.listen ?? ctx.env.RISKGUARD_DASHBOARD_LISTEN ??
        DEFAULT_DASHBOARD_LISTEN;
      parseListen(listen); // a bad address fails before the store is opened
      const config = await startCommand(ctx, command);
      const store = await openStore(config.store, { db: config.db });
      try {
        const { serveDashboard } = await import("../dashboard/mod.ts");
        const server = await serveDashboard({
          store,
          listen,
          token: ctx.env[DASHBOARD_TOKEN_ENV],
          signal: ctx.stopSignal,
          // Three missed pings: the same margin the CLI enforces against the reaper.
          staleMs: config.ping_interval_s * 3_000,
        });
        ctx.stdout(`riskguard dashboard: ${server.url} (store ${store.description})\n`);
        await server.finished;
      } finally {
        await store.close();
      }
    });
}
