/**
 * Parses `tcp://host:port` endpoints.
 *
 * @module
 */
import { ZmtpError } from "./errors.ts";

/** A parsed TCP endpoint. */
export interface TcpEndpoint {
  /** Host name or address (brackets of IPv6 literals removed). */
  hostname: string;
  /** Port (0 asks the OS for a free port when binding). */
  port: number;
}

/**
 * Parses `tcp://host:port`; `*` stands for every interface, and an empty host (`tcp://:5555`)
 * for 127.0.0.1.
 */
export function parseEndpoint(endpoint: string): TcpEndpoint {
  const match = /^tcp:\/\/(\[[^\]]+\]|[^:/\]]*):(\d+)$/.exec(endpoint);
  if (match === null) {
    throw new ZmtpError(
      "INPUT_INVALID",
      `Invalid endpoint ${JSON.stringify(endpoint)}: expected tcp://host:port`,
    );
  }
  const port = Number(match[2]);
  if (!Number.isInteger(port) || port > 65535) {
    throw new ZmtpError("INPUT_INVALID", `Invalid port in endpoint ${JSON.stringify(endpoint)}`);
  }
  let hostname = match[1]!;
  if (hostname.startsWith("[")) hostname = hostname.slice(1, -1);
  if (hostname === "*") hostname = "0.0.0.0";
  if (hostname === "") hostname = "127.0.0.1";
  return { hostname, port };
}

/** Whether a host name is a loopback address. */
export function isLoopback(hostname: string): boolean {
  return hostname === "localhost" || hostname === "::1" || /^127\.\d+\.\d+\.\d+$/.test(hostname);
}
