/**
 * The dashboard's listen address and token variable: what the command line checks before it
 * loads the dashboard itself (admin loads the web server only when `--dashboard` is given).
 *
 * @module
 */
import { ConfigError } from "../shared/errors.ts";

/** The default listen address: loopback only. */
export const DEFAULT_DASHBOARD_LISTEN = "127.0.0.1:8787";

/** The environment variable that holds the action token. */
export const DASHBOARD_TOKEN_ENV = "RISKGUARD_DASHBOARD_TOKEN";

/** A parsed listen address. */
export interface ListenAddress {
  /** Host name or IP to bind. */
  hostname: string;
  /** Port (0: any free one). */
  port: number;
  /** Whether only this machine can connect. */
  loopback: boolean;
}

/** Parses `host:port` (IPv6 in brackets). */
export function parseListen(listen: string): ListenAddress {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\[\]]*)):(\d{1,5})$/.exec(listen.trim());
  const port = match === null ? NaN : Number(match[3]);
  if (match === null || port > 65_535) {
    throw new ConfigError(
      `Invalid value for --listen: "${listen}"; expected host:port, e.g. ${DEFAULT_DASHBOARD_LISTEN}`,
    );
  }
  const hostname = match[1] ?? (match[2] === "" ? "0.0.0.0" : match[2]!);
  return { hostname, port, loopback: isLoopbackHost(hostname) };
}

/** True for `localhost`, `127.x.x.x` and `::1`. */
export function isLoopbackHost(hostname: string): boolean {
  const bare = hostname.replace(/^\[|\]$/g, "").toLowerCase();
  return bare === "localhost" || bare === "::1" || /^127\.\d+\.\d+\.\d+$/.test(bare);
}
