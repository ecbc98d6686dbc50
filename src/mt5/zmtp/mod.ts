/**
 * ZeroMQ transport in TypeScript: ZMTP 3.0/3.1 (RFC 23, RFC 37) with the NULL and PLAIN
 * (RFC 24) mechanisms and PUSH/PULL sockets over Deno TCP, interoperable with libzmq 4.2 and
 * 4.3. See the "Transport: ZMTP implementation" section of docs/protocol.md.
 *
 * ```ts
 * import { PullSocket, PushSocket } from "./mod.ts";
 *
 * const pull = new PullSocket({
 *   mechanism: { type: "plain", role: "server", authenticate: (u, p) => u === "riskguard" && p === token },
 * });
 * await pull.bind("tcp://127.0.0.1:0");
 * const push = new PushSocket({
 *   mechanism: { type: "plain", role: "client", username: "riskguard", password: token },
 * });
 * push.connect(`tcp://127.0.0.1:${pull.port}`);
 * await push.send(["header", "body"]);
 * const [header, body] = await pull.receive();
 * ```
 *
 * The sans-IO codec ({@link Decoder}, {@link ZmtpConnection}) is exported for tests and tools.
 *
 * @module
 */
export { PushSocket, toFrames } from "./push.ts";
export type { FrameInput, MessageInput } from "./push.ts";
export { PullSocket } from "./pull.ts";
export { ZmtpSocket } from "./socket.ts";
export type {
  PeerAddress,
  SocketEventMap,
  SocketEventName,
  SocketOptions,
  SocketStats,
  ZmtpLogger,
} from "./socket.ts";
export type { Mechanism, SocketType } from "./mechanism.ts";
export { isValidPeer } from "./mechanism.ts";
export { ZmtpError } from "./errors.ts";
export type { ZmtpErrorCode } from "./errors.ts";
export { AUTH_FAILED_REASON, ZmtpConnection } from "./connection.ts";
export type { ConnectionEvent, ConnectionOptions, FailureKind, PeerInfo } from "./connection.ts";
export {
  Decoder,
  encodeCommand,
  encodeFrame,
  encodeGreeting,
  encodeMessage,
  GREETING_SIZE,
  parseGreeting,
  ZMTP_VERSION,
} from "./codec.ts";
export type { DecoderEvent, DecoderOptions, Greeting, GreetingInit, Metadata } from "./codec.ts";
