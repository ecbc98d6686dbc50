/**
 * What PUSH and PULL sockets share: options, statistics, events, binding (accepting many
 * peers), connecting (with reconnect and backoff) and closing.
 *
 * @module
 */
import { DEFAULT_MAX_MESSAGE_SIZE } from "./codec.ts";
import type { PeerInfo } from "./connection.ts";
import { ZmtpError } from "./errors.ts";
import type { Mechanism, SocketType } from "./mechanism.ts";
import { isLoopback, parseEndpoint } from "./_endpoint.ts";
import { Peer, type PeerFailure, type PeerOptions } from "./_peer.ts";
import { exponentialBackoff } from "../../shared/backoff.ts";

/** A logger the transport may write to (riskguard's `Logger` fits). Secrets are never passed. */
export interface ZmtpLogger {
  /** Detailed diagnostics. */
  debug(message: string, properties?: Record<string, unknown>): void;
  /** Something went wrong with one peer; the socket carries on. */
  warn(message: string, properties?: Record<string, unknown>): void;
}

/**
 * Connections a bound socket lets handshake at once (the memory bound of unauthenticated
 * peers). A new connection beyond it evicts a pending one (see `#evictPending`), so a flood of
 * stalled connections can never lock the real peer out.
 */
const MAX_PENDING_HANDSHAKES = 32;

/** Options of a {@link PushSocket} or {@link PullSocket}. Every field is optional. */
export interface SocketOptions {
  /** Security mechanism; default NULL. */
  mechanism?: Mechanism;
  /**
   * Largest message (sum of its frames, bytes) accepted from a peer; a larger frame or message is
   * a protocol error: the peer is dropped and counted in `protocolErrors`. Default 16 MiB.
   */
  maxMessageSize?: number;
  /**
   * A peer whose 64-byte greeting has not fully arrived within this many milliseconds is
   * dropped and counted in `handshakeFailures`/`timeouts` (a real peer sends it at once; a
   * slowloris trickles it). 0 turns the check off. Default 1 000.
   */
  greetingTimeoutMs?: number;
  /**
   * A peer that has not completed the greeting and security handshake within this many
   * milliseconds is dropped and counted in `handshakeFailures`/`timeouts`. Default 10 000.
   */
  handshakeTimeoutMs?: number;
  /**
   * A message (or command) partly received for this many milliseconds, counted from its first
   * byte, drops the peer (counted in `timeouts`): a peer that declares a large message and stalls
   * must not keep its buffer. 0 turns it off. Default 30 000.
   */
  messageTimeoutMs?: number;
  /** Send a PING this often (ms) once a peer is ready; 0 (default) sends none. */
  heartbeatIntervalMs?: number;
  /**
   * Drop a ready peer that sent nothing for this long (ms). Default: twice the heartbeat interval
   * when heartbeats are on, otherwise off. A peer's own PING TTL is honoured too.
   */
  heartbeatTimeoutMs?: number;
  /** First delay before reconnecting (connecting side), ms. Default 100. */
  reconnectIntervalMs?: number;
  /** The reconnect delay doubles after each failed attempt up to this, ms. Default 5 000. */
  reconnectMaxIntervalMs?: number;
  /**
   * PUSH: messages the socket queues while no peer can take them. When full, `send()` waits
   * for room (the libzmq PUSH policy: block, never drop); see `sendTimeoutMs`. Default 1 000.
   */
  sendHighWaterMark?: number;
  /** PUSH: how long `send()` may wait for room before it rejects with TIMEOUT; default forever. */
  sendTimeoutMs?: number;
  /**
   * PULL: messages queued before the socket stops reading from its peers (TCP then pushes back
   * on the senders). Default 1 000.
   */
  receiveHighWaterMark?: number;
  /** PUSH: how long `close()` waits for queued messages to be written, ms. Default 0. */
  lingerMs?: number;
  /** Allow binding on a non-loopback address. Default false: only 127.0.0.0/8, ::1, localhost. */
  allowNonLoopback?: boolean;
  /** Optional logger. */
  logger?: ZmtpLogger;
}

/** Counters of a socket; a fresh snapshot on every read of `stats`. */
export interface SocketStats {
  /** Peers with a completed handshake right now. */
  peers: number;
  /** TCP connections opened or accepted in total. */
  connections: number;
  /** Connections that failed before the handshake completed (any reason, evictions too). */
  handshakeFailures: number;
  /**
   * Pending handshakes closed to make room for a newer connection (more than 32 pending at
   * once: a flood of stalled or junk connections).
   */
  evictions: number;
  /** PLAIN credentials refused (server) or ERROR received during PLAIN (client). */
  authFailures: number;
  /** Protocol violations (bad signature or version, malformed or oversized frames, ...). */
  protocolErrors: number;
  /** Peers dropped for a handshake timeout or heartbeat silence. */
  timeouts: number;
  /** Ready peers that went away. */
  disconnects: number;
  /** Messages received (PULL). */
  messagesIn: number;
  /** Messages handed to a peer connection (PUSH). */
  messagesOut: number;
  /** Messages lost: queued for a peer that went away, or still queued at close. */
  dropped: number;
  /** Messages waiting in the socket queue (PUSH: not yet given to a peer; PULL: unread). */
  queued: number;
}

/** Where a connection is: the endpoint and the remote `host:port`. */
export interface PeerAddress {
  /** The endpoint bound or connected, e.g. `tcp://127.0.0.1:5555`. */
  endpoint: string;
  /** The remote `host:port`. */
  remote: string;
}

/** Event payloads, by event name. */
export interface SocketEventMap {
  /** A peer completed the handshake. */
  connect: PeerAddress & { peer: PeerInfo };
  /** A ready peer went away. */
  disconnect: PeerAddress & { reason: string };
  /** PLAIN credentials were refused (server) or ours were (client). No password is included. */
  auth_failure: PeerAddress & { reason: string };
  /** A peer broke the protocol and was dropped. */
  protocol_error: PeerAddress & { reason: string; handshake: boolean };
  /** A peer failed before the handshake completed for another reason (timeout, socket type). */
  handshake_failure: PeerAddress & { reason: string; kind: string };
}

/** Names of the events a socket emits. */
export type SocketEventName = keyof SocketEventMap;

/** Settings after defaults were applied. */
export interface ResolvedOptions extends PeerOptions {
  reconnectIntervalMs: number;
  reconnectMaxIntervalMs: number;
  sendHighWaterMark: number;
  sendTimeoutMs: number;
  receiveHighWaterMark: number;
  lingerMs: number;
  allowNonLoopback: boolean;
  logger: ZmtpLogger | undefined;
}

function checkMechanism(mechanism: Mechanism): Mechanism {
  if (mechanism.type === "plain" && mechanism.role === "client") {
    const encoder = new TextEncoder();
    const user = encoder.encode(mechanism.username).length;
    const pass = encoder.encode(mechanism.password).length;
    if (user > 255 || pass > 255) {
      throw new ZmtpError(
        "INPUT_INVALID",
        `PLAIN username and password must be at most 255 bytes (got ${user} and ${pass})`,
      );
    }
  }
  return mechanism;
}

function resolveOptions(type: SocketType, options: SocketOptions): ResolvedOptions {
  const interval = nonNegative("heartbeatIntervalMs", options.heartbeatIntervalMs, 0);
  return {
    socketType: type,
    mechanism: checkMechanism(options.mechanism ?? { type: "null" }),
    maxMessageSize: positive("maxMessageSize", options.maxMessageSize, DEFAULT_MAX_MESSAGE_SIZE),
    greetingTimeoutMs: nonNegative("greetingTimeoutMs", options.greetingTimeoutMs, 1_000),
    handshakeTimeoutMs: nonNegative("handshakeTimeoutMs", options.handshakeTimeoutMs, 10_000),
    messageTimeoutMs: nonNegative("messageTimeoutMs", options.messageTimeoutMs, 30_000),
    heartbeatIntervalMs: interval,
    heartbeatTimeoutMs: nonNegative("heartbeatTimeoutMs", options.heartbeatTimeoutMs, interval * 2),
    reconnectIntervalMs: positive("reconnectIntervalMs", options.reconnectIntervalMs, 100),
    reconnectMaxIntervalMs: positive(
      "reconnectMaxIntervalMs",
      options.reconnectMaxIntervalMs,
      5_000,
    ),
    sendHighWaterMark: positive("sendHighWaterMark", options.sendHighWaterMark, 1_000),
    sendTimeoutMs: nonNegative("sendTimeoutMs", options.sendTimeoutMs, Number.POSITIVE_INFINITY),
    receiveHighWaterMark: positive("receiveHighWaterMark", options.receiveHighWaterMark, 1_000),
    lingerMs: nonNegative("lingerMs", options.lingerMs, 0),
    allowNonLoopback: options.allowNonLoopback ?? false,
    logger: options.logger,
  };
}

function positive(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!(value > 0)) throw new ZmtpError("INPUT_INVALID", `${name} must be > 0, got ${value}`);
  return value;
}

function nonNegative(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!(value >= 0)) throw new ZmtpError("INPUT_INVALID", `${name} must be >= 0, got ${value}`);
  return value;
}

interface Sleeper {
  timer: ReturnType<typeof setTimeout>;
  resolve: () => void;
}

/**
 * Base of {@link PushSocket} and {@link PullSocket}: endpoints, peers, statistics and events.
 * Listen with `on(name, listener)` (typed, returns an unsubscribe function) or with
 * `addEventListener(name, event => (event as CustomEvent).detail)`.
 */
export abstract class ZmtpSocket extends EventTarget {
  /** Resolved options (internal). */
  protected readonly options: ResolvedOptions;
  /** Live counters (internal); read {@link stats} instead. */
  protected readonly counters: SocketStats = {
    peers: 0,
    connections: 0,
    handshakeFailures: 0,
    evictions: 0,
    authFailures: 0,
    protocolErrors: 0,
    timeouts: 0,
    disconnects: 0,
    messagesIn: 0,
    messagesOut: 0,
    dropped: 0,
    queued: 0,
  };
  /** Every open connection, ready or not (internal). */
  protected readonly connections = new Set<Peer>();
  /** Ready connections in the order they became ready (internal). */
  protected readonly readyPeers: Peer[] = [];
  #listeners: Deno.TcpListener[] = [];
  #tasks = new Set<Promise<void>>();
  #sleepers = new Set<Sleeper>();
  #closed = false;
  #closing: Promise<void> | undefined;
  #port = 0;

  /** Creates a socket of the given type. */
  protected constructor(type: SocketType, options: SocketOptions) {
    super();
    this.options = resolveOptions(type, options);
  }

  /** The port of the first bound endpoint (useful after binding `tcp://127.0.0.1:0`), or 0. */
  get port(): number {
    return this.#port;
  }

  /** Whether {@link close} was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /** A snapshot of the counters. */
  get stats(): Readonly<SocketStats> {
    return { ...this.counters, peers: this.readyPeers.length, queued: this.queueSize() };
  }

  /** Subscribes to an event; returns a function that unsubscribes. */
  on<K extends SocketEventName>(
    name: K,
    listener: (detail: SocketEventMap[K]) => void,
  ): () => void {
    const wrapped = (event: Event) => {
      try {
        listener((event as CustomEvent<SocketEventMap[K]>).detail);
      } catch (error) {
        // A listener's bug must not become an uncaught exception that ends the process.
        this.options.logger?.warn("zmtp event listener failed", {
          event: name,
          error: (error as Error).message,
        });
      }
    };
    this.addEventListener(name, wrapped);
    return () => this.removeEventListener(name, wrapped);
  }

  /**
   * Binds `tcp://host:port` (port 0 picks a free port, see {@link port}) and accepts any number
   * of peers. Only loopback hosts unless `allowNonLoopback` is set.
   */
  bind(endpoint: string): Promise<void> {
    this.#assertOpen();
    const { hostname, port } = parseEndpoint(endpoint);
    if (!isLoopback(hostname) && !this.options.allowNonLoopback) {
      return Promise.reject(
        new ZmtpError(
          "INPUT_INVALID",
          `Refusing to bind ${endpoint}: not a loopback address (set allowNonLoopback)`,
        ),
      );
    }
    let listener: Deno.TcpListener;
    try {
      listener = Deno.listen({ hostname, port, transport: "tcp" });
    } catch (error) {
      return Promise.reject(
        new ZmtpError("INPUT_INVALID", `Cannot bind ${endpoint}: ${(error as Error).message}`, {
          cause: error,
        }),
      );
    }
    const bound = listener.addr.port;
    if (this.#port === 0) this.#port = bound;
    this.#listeners.push(listener);
    const name = `tcp://${listener.addr.hostname}:${bound}`;
    this.#track(this.#accept(listener, name));
    this.options.logger?.debug("zmtp bound", { endpoint: name, type: this.options.socketType });
    return Promise.resolve();
  }

  /**
   * Connects to `tcp://host:port` in the background and keeps the connection up: after a
   * refused connection or a disconnect it retries, waiting `reconnectIntervalMs` and doubling the
   * wait after each failure up to `reconnectMaxIntervalMs`.
   */
  connect(endpoint: string): void {
    this.#assertOpen();
    const target = parseEndpoint(endpoint);
    this.#track(this.#dial(endpoint, target.hostname, target.port));
  }

  /** Closes every connection and listener; pending calls reject with a CLOSED error. */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    await this.beforeClose();
    this.#closed = true;
    this.afterClose();
    for (const listener of this.#listeners) {
      try {
        listener.close();
      } catch {
        // Already closed.
      }
    }
    this.#listeners = [];
    for (const sleeper of this.#sleepers) {
      clearTimeout(sleeper.timer);
      sleeper.resolve();
    }
    this.#sleepers.clear();
    await Promise.all([...this.connections].map((peer) => peer.close()));
    while (this.#tasks.size > 0) await Promise.allSettled([...this.#tasks]);
  }

  /** Called first by {@link close} (PUSH lingers here). */
  protected beforeClose(): Promise<void> {
    return Promise.resolve();
  }

  /** Called by {@link close} once closed is set: reject waiters, count dropped messages. */
  protected abstract afterClose(): void;
  /** Messages in the socket queue. */
  protected abstract queueSize(): number;
  /** A peer completed its handshake. */
  protected abstract peerReady(peer: Peer): void;
  /** A message arrived from a peer. */
  protected abstract peerMessage(peer: Peer, frames: Uint8Array[]): void;
  /** A peer's write queue drained. */
  protected abstract peerDrained(peer: Peer): void;
  /** A ready peer went away. */
  protected abstract peerGone(peer: Peer): void;
  /** Returns a promise while reads should pause. */
  protected abstract readGate(): Promise<void> | undefined;

  /** Dispatches an event (internal). */
  protected emit<K extends SocketEventName>(name: K, detail: SocketEventMap[K]): void {
    this.dispatchEvent(new CustomEvent(name, { detail }));
  }

  #assertOpen(): void {
    if (this.#closed) throw new ZmtpError("CLOSED", "Socket is closed");
  }

  #track(task: Promise<void>): void {
    this.#tasks.add(task);
    task.finally(() => this.#tasks.delete(task));
  }

  async #accept(listener: Deno.TcpListener, endpoint: string): Promise<void> {
    while (!this.#closed) {
      let conn: Deno.TcpConn;
      try {
        conn = await listener.accept();
      } catch (error) {
        if (this.#closed || error instanceof Deno.errors.BadResource) return;
        // E.g. too many open files: keep accepting once descriptors are free again.
        this.options.logger?.warn("zmtp accept failed, retrying", {
          endpoint,
          error: (error as Error).message,
        });
        await this.#sleep(100);
        continue;
      }
      if (this.#closed) {
        conn.close();
        continue;
      }
      this.#evictPending(endpoint);
      this.#startPeer(conn, endpoint);
    }
  }

  /**
   * Makes room for one more pending handshake when {@link MAX_PENDING_HANDSHAKES} are open:
   * closes the oldest that has not even sent its greeting (a slowloris or an idle junk
   * connection), else the oldest. Refusing the newest instead would let stalled connections
   * lock out the real peer reconnecting; evicting the oldest lets it in, since it finishes its
   * handshake in milliseconds while the attacker's connections wait for their turn to go.
   */
  #evictPending(endpoint: string): void {
    let pending = 0;
    let oldest: Peer | undefined;
    let oldestSilent: Peer | undefined;
    for (const peer of this.connections) {
      if (peer.ready || peer.closing) continue;
      pending++;
      oldest ??= peer;
      if (!peer.greeted) oldestSilent ??= peer;
    }
    if (pending < MAX_PENDING_HANDSHAKES) return;
    const victim = oldestSilent ?? oldest!;
    this.counters.evictions++;
    this.counters.handshakeFailures++;
    this.options.logger?.debug("zmtp pending handshake evicted", {
      endpoint,
      remote: victim.remote,
      greeted: victim.greeted,
    });
    void victim.close("evicted: too many pending handshakes");
  }

  async #dial(endpoint: string, hostname: string, port: number): Promise<void> {
    const backoff = {
      baseMs: this.options.reconnectIntervalMs,
      maxMs: Math.max(this.options.reconnectIntervalMs, this.options.reconnectMaxIntervalMs),
    };
    /** Failed attempts since the last connection that completed its handshake. */
    let failures = 0;
    while (!this.#closed) {
      let conn: Deno.TcpConn | undefined;
      try {
        conn = await Deno.connect({ hostname, port, transport: "tcp" });
      } catch (error) {
        this.options.logger?.debug("zmtp connect failed", {
          endpoint,
          error: (error as Error).message,
        });
      }
      if (conn !== undefined) {
        if (this.#closed) {
          conn.close();
          break;
        }
        const peer = this.#startPeer(conn, endpoint);
        await peer.done;
        if (peer.info !== undefined) failures = 0;
      }
      if (this.#closed) break;
      await this.#sleep(exponentialBackoff(failures++, backoff));
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const sleeper: Sleeper = {
        timer: setTimeout(() => {
          this.#sleepers.delete(sleeper);
          resolve();
        }, ms),
        resolve,
      };
      this.#sleepers.add(sleeper);
    });
  }

  #startPeer(conn: Deno.TcpConn, endpoint: string): Peer {
    this.counters.connections++;
    const peer = new Peer(conn, endpoint, this.options, {
      ready: (p) => {
        this.readyPeers.push(p);
        this.options.logger?.debug("zmtp peer ready", { endpoint, remote: p.remote });
        this.peerReady(p);
        this.emit("connect", { endpoint, remote: p.remote, peer: p.info! });
      },
      message: (p, frames) => this.peerMessage(p, frames),
      drained: (p) => this.peerDrained(p),
      readGate: () => this.readGate(),
      closed: (p, failure) => this.#peerClosed(p, failure),
    });
    this.connections.add(peer);
    peer.start();
    return peer;
  }

  #peerClosed(peer: Peer, failure: PeerFailure): void {
    this.connections.delete(peer);
    const address = { endpoint: peer.endpoint, remote: peer.remote };
    const index = this.readyPeers.indexOf(peer);
    if (index >= 0) {
      this.readyPeers.splice(index, 1);
      this.counters.disconnects++;
      this.counters.dropped += peer.queuedMessages;
      this.peerGone(peer);
    }
    if (failure.handshake && failure.kind !== "local") this.counters.handshakeFailures++;
    switch (failure.kind) {
      case "auth":
        this.counters.authFailures++;
        this.options.logger?.warn("zmtp authentication failed", {
          ...address,
          reason: failure.reason,
        });
        this.emit("auth_failure", { ...address, reason: failure.reason });
        break;
      case "protocol":
        this.counters.protocolErrors++;
        this.options.logger?.warn("zmtp protocol error", { ...address, reason: failure.reason });
        this.emit("protocol_error", {
          ...address,
          reason: failure.reason,
          handshake: failure.handshake,
        });
        break;
      case "timeout":
        this.counters.timeouts++;
        if (!failure.handshake) {
          this.options.logger?.warn("zmtp peer dropped", { ...address, reason: failure.reason });
        }
        if (failure.handshake) {
          this.emit("handshake_failure", {
            ...address,
            reason: failure.reason,
            kind: failure.kind,
          });
        }
        break;
      case "socket_type":
      case "peer_error":
        if (failure.handshake) {
          this.emit("handshake_failure", {
            ...address,
            reason: failure.reason,
            kind: failure.kind,
          });
        }
        break;
      default:
        break;
    }
    if (index >= 0) this.emit("disconnect", { ...address, reason: failure.reason });
  }
}
