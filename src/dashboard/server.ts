/**
 * `serveDashboard`: the dashboard on `Deno.serve`, for `riskguard dashboard` and for admin
 * mode (`--dashboard <addr>`). One {@link FleetHub} (one store feed) per call.
 *
 * @module
 */
import type { Store } from "../store/mod.ts";
import { ConfigError } from "../shared/errors.ts";
import { logger } from "../shared/logging.ts";
import { dashboardApp } from "./app.ts";
import { DASHBOARD_TOKEN_ENV, isLoopbackHost, parseListen } from "./listen.ts";
import { FleetHub } from "./fleet_hub.ts";

/** Shortest accepted token. */
const MIN_TOKEN_LENGTH = 16;

/** Options of {@link serveDashboard}. */
export interface ServeDashboardOptions {
  /** The store every page reads. */
  store: Store;
  /** `host:port` (`127.0.0.1:8787`, `[::1]:8787`, `0.0.0.0:8787`; port 0 picks a free one). */
  listen: string;
  /** Action token; required when `listen` is not loopback. Without it the dashboard is
   * read-only. */
  token?: string | undefined;
  /** Stops the server (and its streams and feed). */
  signal: AbortSignal;
  /** A ping older than this is marked stale, ms (default 60 000). */
  staleMs?: number;
  /** How often figures are re-read from the store, ms (default 1 000). */
  refreshMs?: number;
}

/** A running dashboard. */
export interface DashboardServer {
  /** Where to open it, e.g. `http://127.0.0.1:8787/`. */
  url: string;
  /** Resolves when the server and its feed have stopped (after `signal` aborted). */
  finished: Promise<void>;
}

/**
 * Starts the dashboard; resolves once it listens.
 *
 * @throws {ConfigError} for a bad address, a missing token on a non-loopback address, or a
 * token shorter than 16 characters.
 */
export async function serveDashboard(options: ServeDashboardOptions): Promise<DashboardServer> {
  const address = parseListen(options.listen);
  const token = options.token === "" ? undefined : options.token;
  if (token !== undefined && token.length < MIN_TOKEN_LENGTH) {
    throw new ConfigError(
      `${DASHBOARD_TOKEN_ENV} is too short: use at least ${MIN_TOKEN_LENGTH} characters`,
    );
  }
  if (!address.loopback && token === undefined) {
    throw new ConfigError(
      `${DASHBOARD_TOKEN_ENV} is required when the dashboard listens on ${options.listen} ` +
        "(not a loopback address): anyone who can reach it could otherwise see the fleet",
    );
  }
  const log = logger("dashboard");
  const hub = new FleetHub(options.store, {
    ...(options.refreshMs === undefined ? {} : { refreshMs: options.refreshMs }),
  });
  const hubDone = hub.run(options.signal);
  const app = dashboardApp({
    store: options.store,
    hub,
    token,
    signal: options.signal,
    ...(options.staleMs === undefined ? {} : { staleMs: options.staleMs }),
  });
  let server: Deno.HttpServer<Deno.NetAddr>;
  const listening = Promise.withResolvers<Deno.NetAddr>();
  try {
    server = Deno.serve({
      hostname: address.hostname,
      port: address.port,
      signal: options.signal,
      onListen: (addr) => listening.resolve(addr),
    }, (request, info) => {
      // On loopback, only loopback host names: a page whose DNS name is rebound to 127.0.0.1
      // must not read the dashboard.
      if (address.loopback && !isLoopbackHost(new URL(request.url).hostname)) {
        return new Response("Host not allowed", { status: 403 });
      }
      return app.fetch(request, { remoteAddr: info.remoteAddr });
    });
  } catch (error) {
    throw new ConfigError(
      `Cannot listen on ${options.listen}: ${(error as Error).message}`,
      { cause: error },
    );
  }
  const addr = await listening.promise;
  const host = addr.hostname.includes(":") ? `[${addr.hostname}]` : addr.hostname;
  const shown = host === "0.0.0.0" || host === "[::]" ? "127.0.0.1" : host;
  const url = `http://${shown}:${addr.port}/`;
  log.info("Dashboard on {url} ({mode})", {
    url,
    mode: token === undefined ? "read-only" : "actions with token",
  });
  return { url, finished: Promise.all([server.finished, hubDone]).then(() => {}) };
}
