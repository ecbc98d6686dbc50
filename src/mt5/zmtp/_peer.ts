/**
 * One TCP connection of a socket: wraps a `Deno.TcpConn` around the sans-IO
 * {@link ZmtpConnection}, with the handshake timeout, heartbeats and a batching writer.
 *
 * @module
 */
import { type ConnectionEvent, type PeerInfo, ZmtpConnection } from "./connection.ts";
import type { Mechanism, SocketType } from "./mechanism.ts";
import { OutQueue } from "./_out_queue.ts";

/** Why a peer went away. */
export interface PeerFailure {
  /** What happened. */
  kind: "protocol" | "auth" | "socket_type" | "peer_error" | "timeout" | "closed" | "local";
  /** Human-readable reason (never holds a password). */
  reason: string;
  /** Whether it happened before the handshake completed. */
  handshake: boolean;
}

/** What a peer tells its socket. */
export interface PeerHandlers {
  /** The handshake completed. */
  ready(peer: Peer): void;
  /** A message arrived. */
  message(peer: Peer, frames: Uint8Array[]): void;
  /** The write queue fell below the low-water mark. */
  drained(peer: Peer): void;
  /** The connection ended (after the TCP connection is closed). */
  closed(peer: Peer, failure: PeerFailure): void;
  /** Returns a promise when the socket wants reads paused (receive queue full). */
  readGate(): Promise<void> | undefined;
}

/** Timing and limits of a peer. */
export interface PeerOptions {
  socketType: SocketType;
  mechanism: Mechanism;
  maxMessageSize: number;
  greetingTimeoutMs: number;
  handshakeTimeoutMs: number;
  messageTimeoutMs: number;
  heartbeatIntervalMs: number;
  heartbeatTimeoutMs: number;
}

/** Bytes a peer may have queued before the socket stops giving it messages. */
export const PEER_WRITE_HIGH = 512 * 1024;
const READ_BUFFER = 256 * 1024;
const MIN_READ = 16 * 1024;
/**
 * Read buffer of a connection that has not finished its handshake: enough for a greeting and
 * the handshake commands. An unauthenticated connection costs this much, not {@link READ_BUFFER},
 * which keeps a flood of junk connections cheap to accept and to evict.
 */
const HANDSHAKE_READ = 2 * 1024;

/** A live connection to one remote socket. */
export class Peer {
  /** `host:port` of the remote end. */
  readonly remote: string;
  /** The endpoint this connection belongs to (bound or connected). */
  readonly endpoint: string;
  /** Peer details, once ready. */
  info: PeerInfo | undefined;
  #conn: Deno.TcpConn;
  #zmtp: ZmtpConnection;
  #options: PeerOptions;
  #handlers: PeerHandlers;
  #out = new OutQueue();
  #writing: Promise<void> | undefined;
  #reading: Promise<void> | undefined;
  #closed = false;
  #failure: PeerFailure | undefined;
  #handshakeTimer: ReturnType<typeof setTimeout> | undefined;
  #greetingTimer: ReturnType<typeof setTimeout> | undefined;
  #messageTimer: ReturnType<typeof setTimeout> | undefined;
  #heartbeatTimer: ReturnType<typeof setInterval> | undefined;
  #heartbeatTick = 0;
  /** Monotonic ms of the last bytes received (a wall clock jump is not silence). */
  #lastReceived = performance.now();
  #peerTtlMs = 0;
  #closing: Promise<void> | undefined;
  #done: Promise<void>;
  #resolveDone!: () => void;

  /** Wraps an open connection; call {@link start} next. */
  constructor(
    conn: Deno.TcpConn,
    endpoint: string,
    options: PeerOptions,
    handlers: PeerHandlers,
  ) {
    this.#conn = conn;
    this.endpoint = endpoint;
    this.#options = options;
    this.#handlers = handlers;
    this.#done = new Promise((resolve) => this.#resolveDone = resolve);
    const addr = conn.remoteAddr;
    this.remote = `${addr.hostname}:${addr.port}`;
    try {
      conn.setNoDelay(true);
    } catch {
      // Not fatal: only latency suffers.
    }
    this.#zmtp = new ZmtpConnection({
      socketType: options.socketType,
      mechanism: options.mechanism,
      maxMessageSize: options.maxMessageSize,
      copyBodies: false,
    });
  }

  /** Resolves once the connection is closed and the socket was told. */
  get done(): Promise<void> {
    return this.#done;
  }

  /** Whether the handshake completed and the connection is open. */
  get ready(): boolean {
    return this.#zmtp.ready && this.#failure === undefined;
  }

  /** Whether the peer's whole greeting arrived. */
  get greeted(): boolean {
    return this.#zmtp.greeted;
  }

  /** Whether the connection is failing or closed (it no longer counts as a pending handshake). */
  get closing(): boolean {
    return this.#failure !== undefined;
  }

  /** Whether the socket may hand this peer another message now. */
  get writable(): boolean {
    return this.ready && this.#out.bytes < PEER_WRITE_HIGH;
  }

  /** Messages queued here and not yet written. */
  get queuedMessages(): number {
    return this.#out.messages;
  }

  /** Sends the greeting and starts reading, the greeting and handshake timers and heartbeats. */
  start(): void {
    if (this.#options.greetingTimeoutMs > 0) {
      // A real peer sends its greeting at once; one that trickles it holds a handshake slot.
      this.#greetingTimer = setTimeout(() => {
        this.#greetingTimer = undefined;
        if (this.#zmtp.greeted) return;
        this.#fail({
          kind: "timeout",
          reason: `greeting not received within ${this.#options.greetingTimeoutMs} ms`,
          handshake: true,
        });
      }, this.#options.greetingTimeoutMs);
    }
    if (this.#options.handshakeTimeoutMs > 0) {
      this.#handshakeTimer = setTimeout(() => {
        this.#handshakeTimer = undefined;
        this.#fail({
          kind: "timeout",
          reason: `handshake not finished within ${this.#options.handshakeTimeoutMs} ms`,
          handshake: true,
        });
      }, this.#options.handshakeTimeoutMs);
    }
    this.#flushProtocolOutput();
    this.#reading = this.#readLoop();
  }

  /** Queues a message (the socket checked {@link writable}). */
  send(frames: readonly Uint8Array[]): void {
    if (this.#failure !== undefined) return;
    this.#out.appendMessage(frames);
    this.#kick();
  }

  /** Closes the connection; resolves once every pending IO has settled. */
  close(reason = "socket closed"): Promise<void> {
    this.#fail({ kind: "local", reason, handshake: !this.#zmtp.ready });
    return this.#closing ?? Promise.resolve();
  }

  /** Resolves when every message queued so far has been handed to the OS, or on close. */
  async flushed(): Promise<void> {
    while (!this.#closed && (this.#writing !== undefined || !this.#out.empty)) {
      await this.#writing;
    }
  }

  #onReady(): void {
    if (this.#handshakeTimer !== undefined) clearTimeout(this.#handshakeTimer);
    if (this.#greetingTimer !== undefined) clearTimeout(this.#greetingTimer);
    this.#handshakeTimer = undefined;
    this.#greetingTimer = undefined;
    this.#startHeartbeat();
    this.#handlers.ready(this);
  }

  #startHeartbeat(): void {
    const interval = this.#options.heartbeatIntervalMs;
    const timeout = this.#options.heartbeatTimeoutMs;
    // The watchdog runs when we ping, when we drop silent peers, or when the peer set a TTL.
    const watch = timeout > 0 ? timeout : this.#peerTtlMs;
    const tick = interval > 0 ? interval : watch > 0 ? Math.max(10, watch / 4) : 0;
    if (tick <= 0 || tick === this.#heartbeatTick) return;
    // A new TTL from the peer changes how often silence must be checked: re-arm the watchdog.
    if (this.#heartbeatTimer !== undefined) clearInterval(this.#heartbeatTimer);
    this.#heartbeatTick = tick;
    this.#heartbeatTimer = setInterval(() => this.#heartbeat(), tick);
  }

  #heartbeat(): void {
    if (this.#closed) return;
    const silent = Math.round(performance.now() - this.#lastReceived);
    const limit = this.#options.heartbeatTimeoutMs > 0
      ? this.#options.heartbeatTimeoutMs
      : this.#options.heartbeatIntervalMs > 0
      ? this.#options.heartbeatIntervalMs * 3
      : 0;
    const effective = this.#peerTtlMs > 0 && (limit === 0 || this.#peerTtlMs < limit)
      ? this.#peerTtlMs
      : limit;
    if (effective > 0 && silent > effective) {
      this.#fail({
        kind: "timeout",
        reason: `peer silent for ${silent} ms (limit ${effective} ms)`,
        handshake: false,
      });
      return;
    }
    if (this.#options.heartbeatIntervalMs > 0) {
      this.#zmtp.ping(limit);
      this.#flushProtocolOutput();
    }
  }

  async #readLoop(): Promise<void> {
    // Bodies are views into the read buffer (no per-message copy), so a region is never read
    // into twice: each read goes after the previous one, and a fresh buffer starts when little
    // room is left. The old buffer lives on only as long as messages still reference it.
    let buffer = new Uint8Array(HANDSHAKE_READ);
    let offset = 0;
    try {
      while (this.#failure === undefined) {
        const gate = this.#handlers.readGate();
        if (gate !== undefined) {
          await gate;
          continue;
        }
        const ready = this.#zmtp.ready;
        if (buffer.length - offset < (ready ? MIN_READ : 1)) {
          buffer = new Uint8Array(ready ? READ_BUFFER : HANDSHAKE_READ);
          offset = 0;
        }
        const n = await this.#conn.read(buffer.subarray(offset));
        if (this.#failure !== undefined) break;
        if (n === null) {
          this.#fail({
            kind: "closed",
            reason: "peer closed the connection",
            handshake: !this.#zmtp.ready,
          });
          break;
        }
        this.#lastReceived = performance.now();
        const events = this.#zmtp.receive(buffer.subarray(offset, offset + n));
        offset += n;
        for (const event of events) this.#onEvent(event);
        this.#flushProtocolOutput();
        this.#watchPartialMessage();
      }
    } catch (error) {
      if (this.#failure === undefined) {
        this.#fail({
          kind: "closed",
          reason: `read failed: ${(error as Error).message}`,
          handshake: !this.#zmtp.ready,
        });
      }
    }
  }

  /**
   * Gives a partly received message a deadline from the moment it started: a peer that
   * declares a large message and stalls must not keep its buffer forever.
   */
  #watchPartialMessage(): void {
    const limit = this.#options.messageTimeoutMs;
    if (limit <= 0 || this.#failure !== undefined) return;
    if (!this.#zmtp.midMessage) {
      if (this.#messageTimer !== undefined) clearTimeout(this.#messageTimer);
      this.#messageTimer = undefined;
      return;
    }
    this.#messageTimer ??= setTimeout(() => {
      this.#messageTimer = undefined;
      if (!this.#zmtp.midMessage) return;
      this.#fail({
        kind: "timeout",
        reason: `message incomplete after ${limit} ms`,
        handshake: false,
      });
    }, limit);
  }

  #onEvent(event: ConnectionEvent): void {
    if (this.#failure !== undefined) return;
    switch (event.type) {
      case "message":
        this.#handlers.message(this, event.frames);
        return;
      case "ready":
        // Our last handshake command must precede any message the socket queues now.
        this.#flushProtocolOutput();
        this.info = event.peer;
        this.#onReady();
        return;
      case "ping":
        if (event.ttlMs > 0 && event.ttlMs !== this.#peerTtlMs) {
          this.#peerTtlMs = event.ttlMs;
          this.#startHeartbeat();
        }
        return;
      case "failed":
        this.#flushProtocolOutput();
        this.#fail({ kind: event.kind, reason: event.reason, handshake: event.handshake });
        return;
      default:
        return;
    }
  }

  #flushProtocolOutput(): void {
    const output = this.#zmtp.takeOutput();
    if (output.length === 0) return;
    for (const bytes of output) this.#out.appendRaw(bytes);
    this.#kick();
  }

  #kick(): void {
    if (this.#writing === undefined && !this.#out.empty) this.#writing = this.#writeLoop();
  }

  async #writeLoop(): Promise<void> {
    try {
      for (;;) {
        const chunk = this.#out.take();
        if (chunk === undefined) break;
        let data = chunk.data.subarray(0, chunk.used);
        while (data.length > 0) {
          const n = await this.#conn.write(data);
          data = data.subarray(n);
        }
        this.#out.recycle(chunk);
        if (this.#failure === undefined && this.#out.bytes < PEER_WRITE_HIGH / 2) {
          this.#handlers.drained(this);
        }
      }
    } catch (error) {
      if (this.#failure === undefined) {
        this.#fail({
          kind: "closed",
          reason: `write failed: ${(error as Error).message}`,
          handshake: !this.#zmtp.ready,
        });
      }
    } finally {
      this.#writing = undefined;
    }
    // Appended while the last write was in flight.
    if (!this.#closed && !this.#out.empty) this.#kick();
  }

  #fail(failure: PeerFailure): void {
    if (this.#failure !== undefined) return;
    this.#failure = failure;
    if (this.#handshakeTimer !== undefined) clearTimeout(this.#handshakeTimer);
    if (this.#greetingTimer !== undefined) clearTimeout(this.#greetingTimer);
    this.#greetingTimer = undefined;
    if (this.#heartbeatTimer !== undefined) clearInterval(this.#heartbeatTimer);
    this.#handshakeTimer = undefined;
    this.#heartbeatTimer = undefined;
    this.#closing = this.#shutdown(failure);
  }

  async #shutdown(failure: PeerFailure): Promise<void> {
    // Let an ERROR command (auth failure, socket-type mismatch) reach the peer first.
    const lingering = failure.kind !== "local" && failure.kind !== "closed";
    if (lingering && this.#writing !== undefined) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        this.#writing,
        new Promise<void>((resolve) => timer = setTimeout(resolve, 500)),
      ]);
      clearTimeout(timer);
    }
    this.#closed = true;
    try {
      this.#conn.close();
    } catch {
      // Already closed.
    }
    await Promise.allSettled([this.#reading, this.#writing]);
    try {
      this.#handlers.closed(this, failure);
    } finally {
      this.#resolveDone();
    }
  }
}
