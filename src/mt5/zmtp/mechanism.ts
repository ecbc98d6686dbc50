/**
 * Security mechanisms: NULL (RFC 23) and PLAIN (RFC 24), the command bodies of PLAIN, and the
 * socket-type compatibility table of RFC 23/37. Pure functions, no IO.
 *
 * @module
 */
import { encodeCommand } from "./codec.ts";

/**
 * The security mechanism of a socket.
 *
 * - `null`: no security (the ZMTP default).
 * - `plain` client: sends `username` and `password` in clear text (RFC 24). Use on loopback only.
 * - `plain` server: checks every client with `authenticate`; a `false` answer gets an ERROR
 *   command with reason `400` (what libzmq sends, its clients report an authentication
 *   failure with status 400) and the connection is closed.
 */
export type Mechanism =
  | { type: "null" }
  | { type: "plain"; role: "client"; username: string; password: string }
  | {
    type: "plain";
    role: "server";
    authenticate: (username: string, password: string) => boolean;
  };

/** The mechanism name a {@link Mechanism} announces in the greeting. */
export function mechanismName(mechanism: Mechanism): "NULL" | "PLAIN" {
  return mechanism.type === "null" ? "NULL" : "PLAIN";
}

/** Whether the side using `mechanism` sets the greeting's as-server flag. */
export function isMechanismServer(mechanism: Mechanism): boolean {
  return mechanism.type === "plain" && mechanism.role === "server";
}

/** ZeroMQ socket types (RFC 23/37 names). */
export type SocketType =
  | "PAIR"
  | "PUB"
  | "SUB"
  | "REQ"
  | "REP"
  | "DEALER"
  | "ROUTER"
  | "PULL"
  | "PUSH"
  | "XPUB"
  | "XSUB";

const VALID_PEERS: Record<SocketType, readonly string[]> = {
  PAIR: ["PAIR"],
  PUB: ["SUB", "XSUB"],
  SUB: ["PUB", "XPUB"],
  XPUB: ["SUB", "XSUB"],
  XSUB: ["PUB", "XPUB"],
  REQ: ["REP", "ROUTER"],
  REP: ["REQ", "DEALER"],
  DEALER: ["REP", "DEALER", "ROUTER"],
  ROUTER: ["REQ", "DEALER", "ROUTER"],
  PUSH: ["PULL"],
  PULL: ["PUSH"],
};

/** Whether a socket of type `ours` may talk to a peer announcing `theirs` (RFC 23 table). */
export function isValidPeer(ours: SocketType, theirs: string): boolean {
  return VALID_PEERS[ours].includes(theirs);
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Encodes the PLAIN HELLO command (username and password of at most 255 bytes each). */
export function encodeHello(username: string, password: string): Uint8Array {
  const user = encoder.encode(username);
  const pass = encoder.encode(password);
  if (user.length > 255 || pass.length > 255) {
    throw new RangeError(
      `PLAIN username and password must be at most 255 bytes (got ${user.length} and ` +
        `${pass.length})`,
    );
  }
  const data = new Uint8Array(2 + user.length + pass.length);
  data[0] = user.length;
  data.set(user, 1);
  data[1 + user.length] = pass.length;
  data.set(pass, 2 + user.length);
  return encodeCommand("HELLO", data);
}

/** Reads the body of a PLAIN HELLO command; a reason string when malformed. */
export function parseHello(data: Uint8Array): { username: string; password: string } | string {
  const userSize = data[0];
  if (userSize === undefined) return "HELLO without a username";
  const passSize = data[1 + userSize];
  if (passSize === undefined) return "HELLO without a password";
  if (data.length !== 2 + userSize + passSize) {
    return `HELLO of ${data.length} bytes does not match its sizes (${userSize}, ${passSize})`;
  }
  return {
    username: decoder.decode(data.subarray(1, 1 + userSize)),
    password: decoder.decode(data.subarray(2 + userSize)),
  };
}
