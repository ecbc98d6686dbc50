/**
 * The sans-IO ZMTP connection: greeting, the NULL or PLAIN handshake, socket-type check, then
 * traffic (messages, PING/PONG, SUBSCRIBE/CANCEL). Bytes go in through {@link
 * ZmtpConnection.receive}, events come out, and the bytes to send are collected with {@link
 * ZmtpConnection.takeOutput}. Timers (handshake timeout, heartbeats) belong to the caller.
 *
 * @module
 */
import {
  Decoder,
  type DecoderOptions,
  DEFAULT_MAX_MESSAGE_SIZE,
  encodeCommand,
  encodeErrorCommand,
  encodeGreeting,
  encodeLibzmq43PlainError,
  encodeMessageParts,
  encodeMetadata,
  encodePing,
  encodePong,
  encodeReady,
  type Greeting,
  type Metadata,
  negotiateVersion,
  parseErrorReason,
  parseMetadata,
  parsePing,
} from "./codec.ts";
import {
  encodeHello,
  isMechanismServer,
  isValidPeer,
  type Mechanism,
  mechanismName,
  parseHello,
  type SocketType,
} from "./mechanism.ts";

/** The reason libzmq's PLAIN server puts in ERROR when credentials are refused (ZAP 400). */
export const AUTH_FAILED_REASON = "400";

/** What a connection knows about its peer once the handshake is done. */
export interface PeerInfo {
  /** The peer's socket type from its metadata, e.g. `PUSH`. */
  socketType: string;
  /** The negotiated ZMTP version. */
  version: { major: number; minor: number };
  /** The PLAIN username the peer authenticated with (servers only). */
  username?: string;
  /** Every metadata property the peer sent (names lowercase). */
  metadata: Metadata;
}

/** Why a connection failed: what the socket counts. */
export type FailureKind = "protocol" | "auth" | "socket_type" | "peer_error";

/** Events of a {@link ZmtpConnection}. */
export type ConnectionEvent =
  | { type: "ready"; peer: PeerInfo }
  | { type: "message"; frames: Uint8Array[] }
  | { type: "ping"; ttlMs: number }
  | { type: "pong" }
  | { type: "subscribe"; topic: Uint8Array }
  | { type: "cancel"; topic: Uint8Array }
  | { type: "failed"; kind: FailureKind; reason: string; handshake: boolean };

/** Options of a {@link ZmtpConnection}. */
export interface ConnectionOptions {
  /** Our socket type. */
  socketType: SocketType;
  /** Our security mechanism. */
  mechanism: Mechanism;
  /** Largest message accepted; larger is a protocol error. */
  maxMessageSize?: number;
  /** Passed to the {@link Decoder}: false lets message bodies be views into received chunks. */
  copyBodies?: boolean;
}

const GREETING = 0;
const HANDSHAKE = 1;
const READY = 2;
const FAILED = 3;

/** One ZMTP connection's protocol state, without IO. */
export class ZmtpConnection {
  #options: ConnectionOptions;
  #decoder: Decoder;
  #out: Uint8Array[] = [];
  #state = GREETING;
  #step = "";
  #version = { major: 3, minor: 1 };
  #username: string | undefined;
  #handshakeBytes = 0;

  /** Creates the connection and queues our greeting (the whole 64 bytes at once). */
  constructor(options: ConnectionOptions) {
    this.#options = options;
    const decoderOptions: DecoderOptions = {};
    if (options.maxMessageSize !== undefined) {
      decoderOptions.maxMessageSize = options.maxMessageSize;
    }
    if (options.copyBodies !== undefined) decoderOptions.copyBodies = options.copyBodies;
    this.#decoder = new Decoder(decoderOptions);
    this.#out.push(
      encodeGreeting({
        mechanism: mechanismName(options.mechanism),
        asServer: isMechanismServer(options.mechanism),
      }),
    );
  }

  /** Whether the handshake is complete. */
  get ready(): boolean {
    return this.#state === READY;
  }

  /** Whether the peer's whole greeting arrived (the handshake may still be under way). */
  get greeted(): boolean {
    return this.#state !== GREETING;
  }

  /** Whether the handshake is done and a message (or command) is partly received. */
  get midMessage(): boolean {
    return this.#state === READY && this.#decoder.midMessage;
  }

  /** Whether the connection failed; the caller should flush output and close. */
  get failed(): boolean {
    return this.#state === FAILED;
  }

  /** The negotiated version (valid once the greeting was received). */
  get version(): { major: number; minor: number } {
    return this.#version;
  }

  /** Returns and clears the bytes waiting to be sent. */
  takeOutput(): Uint8Array[] {
    const out = this.#out;
    this.#out = [];
    return out;
  }

  /** Feeds received bytes; returns the events they complete. Never throws. */
  receive(chunk: Uint8Array): ConnectionEvent[] {
    const events: ConnectionEvent[] = [];
    if (this.#state === FAILED) return events;
    if (this.#state !== READY) {
      // Before the handshake ends a peer has proven nothing: it may not make us buffer more
      // than a handshake needs (checked before decoding, so nothing is kept for it).
      this.#handshakeBytes += chunk.length;
      if (this.#handshakeBytes > this.#handshakeLimit()) {
        this.#fail(
          events,
          "protocol",
          `${this.#handshakeBytes} bytes before the handshake ended (limit ${this.#handshakeLimit()})`,
          false,
        );
        return events;
      }
    }
    for (const event of this.#decoder.decode(chunk)) {
      if (this.#state === FAILED) break;
      switch (event.type) {
        case "error":
          this.#fail(events, "protocol", event.reason, false);
          break;
        case "greeting":
          this.#onGreeting(event.greeting, events);
          break;
        case "command":
          if (this.#state === READY) this.#onTrafficCommand(event.name, event.data, events);
          else this.#onHandshakeCommand(event.name, event.data, events);
          break;
        case "message":
          if (this.#state === READY) events.push(event);
          else this.#fail(events, "protocol", "message frame before the handshake ended", false);
          break;
      }
    }
    return events;
  }

  /**
   * Bytes a peer may send before the handshake ends. A PLAIN client may send nothing but
   * greeting, HELLO and INITIATE before our READY; with NULL (and as a client) the peer's first
   * message may follow its READY in the same segment, so one message more is allowed.
   */
  #handshakeLimit(): number {
    const mechanism = this.#options.mechanism;
    const handshake = 64 * 1024;
    if (mechanism.type === "plain" && mechanism.role === "server") return handshake;
    return handshake + (this.#options.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE);
  }

  /** Encodes a message for sending; returns the parts (headers and the caller's bodies). */
  encodeMessage(frames: readonly Uint8Array[]): Uint8Array[] {
    return encodeMessageParts(frames);
  }

  /** Queues a PING telling the peer to drop us after `ttlMs` of silence (0: no TTL). */
  ping(ttlMs: number): void {
    if (this.#state === READY) this.#out.push(encodePing(ttlMs / 100));
  }

  #fail(events: ConnectionEvent[], kind: FailureKind, reason: string, sendError: boolean): void {
    const handshake = this.#state !== READY;
    if (sendError) {
      this.#out.push(this.#errorCommand(kind === "auth" ? AUTH_FAILED_REASON : reason));
    }
    this.#state = FAILED;
    events.push({ type: "failed", kind, reason, handshake });
  }

  /**
   * ERROR in the form the peer understands: a PLAIN peer announcing ZMTP 3.1 is taken to be
   * libzmq 4.3, whose PLAIN client only recognises its own malformed ERROR (see
   * `LIBZMQ43_PLAIN_ERROR_PREFIX`); everyone else gets the RFC 23 form.
   */
  #errorCommand(reason: string): Uint8Array {
    if (this.#options.mechanism.type === "plain" && this.#version.minor >= 1) {
      return encodeLibzmq43PlainError(reason);
    }
    return encodeErrorCommand(reason);
  }

  #onGreeting(greeting: Greeting, events: ConnectionEvent[]): void {
    const mechanism = this.#options.mechanism;
    const ours = mechanismName(mechanism);
    if (greeting.mechanism !== ours) {
      return this.#fail(
        events,
        "protocol",
        `peer mechanism ${JSON.stringify(greeting.mechanism)} does not match ours (${ours})`,
        false,
      );
    }
    // The peer's as-server flag is not checked: libzmq always sends 0 (zmtp_engine.cpp), so
    // roles follow our own configuration, as in libzmq.
    this.#version = negotiateVersion(greeting);
    this.#state = HANDSHAKE;
    if (mechanism.type === "null") {
      this.#out.push(encodeReady(this.#metadata()));
      this.#step = "READY";
    } else if (mechanism.role === "client") {
      let hello: Uint8Array;
      try {
        hello = encodeHello(mechanism.username, mechanism.password);
      } catch (error) {
        return this.#fail(events, "auth", (error as Error).message, false);
      }
      this.#out.push(hello);
      this.#step = "WELCOME";
    } else {
      this.#step = "HELLO";
    }
  }

  #metadata(): [string, string][] {
    return [["Socket-Type", this.#options.socketType]];
  }

  #onHandshakeCommand(name: string, data: Uint8Array, events: ConnectionEvent[]): void {
    if (this.#state === GREETING) {
      return this.#fail(events, "protocol", `command ${name} before the greeting`, false);
    }
    if (name === "ERROR") {
      const reason = parseErrorReason(data);
      const kind = this.#options.mechanism.type === "plain" ? "auth" : "peer_error";
      return this.#fail(events, kind, `peer sent ERROR: ${reason}`, false);
    }
    if (name === "WELCOME" && this.#step === "HELLO") {
      // libzmq 4.3.0 and 4.3.1 PLAIN clients name their HELLO "WELCOME" (libzmq issue #3500).
      name = "HELLO";
    }
    if (name !== this.#step) {
      return this.#fail(
        events,
        "protocol",
        `unexpected command ${JSON.stringify(name)} while waiting for ${this.#step}`,
        false,
      );
    }
    const mechanism = this.#options.mechanism;
    switch (name) {
      case "HELLO": {
        if (mechanism.type !== "plain" || mechanism.role !== "server") return;
        const hello = parseHello(data);
        if (typeof hello === "string") return this.#fail(events, "protocol", hello, false);
        let accepted = false;
        try {
          accepted = mechanism.authenticate(hello.username, hello.password) === true;
        } catch {
          accepted = false;
        }
        if (!accepted) {
          return this.#fail(
            events,
            "auth",
            `credentials refused for user ${JSON.stringify(hello.username)}`,
            true,
          );
        }
        this.#username = hello.username;
        this.#out.push(encodeCommand("WELCOME"));
        this.#step = "INITIATE";
        return;
      }
      case "WELCOME":
        this.#out.push(encodeCommand("INITIATE", encodeMetadata(this.#metadata())));
        this.#step = "READY";
        return;
      case "INITIATE":
        if (!this.#acceptMetadata(data, events)) return;
        this.#out.push(encodeReady(this.#metadata()));
        return this.#becomeReady(data, events);
      case "READY":
        if (!this.#acceptMetadata(data, events)) return;
        return this.#becomeReady(data, events);
    }
  }

  /** Checks the peer's metadata (socket type); fails the connection if it is not acceptable. */
  #acceptMetadata(data: Uint8Array, events: ConnectionEvent[]): boolean {
    const metadata = parseMetadata(data);
    if (typeof metadata === "string") {
      this.#fail(events, "protocol", metadata, false);
      return false;
    }
    const type = new TextDecoder().decode(metadata.get("socket-type") ?? new Uint8Array(0));
    if (!isValidPeer(this.#options.socketType, type)) {
      this.#fail(
        events,
        "socket_type",
        `peer socket type ${JSON.stringify(type)} cannot talk to ${this.#options.socketType}`,
        true,
      );
      return false;
    }
    return true;
  }

  #becomeReady(data: Uint8Array, events: ConnectionEvent[]): void {
    const metadata = parseMetadata(data) as Metadata;
    const socketType = new TextDecoder().decode(metadata.get("socket-type"));
    this.#state = READY;
    const peer: PeerInfo = { socketType, version: this.#version, metadata };
    if (this.#username !== undefined) peer.username = this.#username;
    events.push({ type: "ready", peer });
  }

  #onTrafficCommand(name: string, data: Uint8Array, events: ConnectionEvent[]): void {
    switch (name) {
      case "PING": {
        const ping = parsePing(data);
        if (typeof ping === "string") return this.#fail(events, "protocol", ping, false);
        this.#out.push(encodePong(ping.context));
        events.push({ type: "ping", ttlMs: ping.ttl * 100 });
        return;
      }
      case "PONG":
        // ZMTP 3.0 peers (libzmq 4.2) may answer without the context: accept any body.
        events.push({ type: "pong" });
        return;
      case "SUBSCRIBE":
        events.push({ type: "subscribe", topic: data });
        return;
      case "CANCEL":
        events.push({ type: "cancel", topic: data });
        return;
      case "ERROR":
        return this.#fail(
          events,
          "peer_error",
          `peer sent ERROR: ${parseErrorReason(data)}`,
          false,
        );
      default:
        // Unknown commands after the handshake are ignored (forward compatibility).
        return;
    }
  }
}
