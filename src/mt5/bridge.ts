/**
 * The agent side of the bridge: binds PULL on `port` (messages from the EA) and PUSH on
 * `port + 1` (commands to the EA) on 127.0.0.1 with PLAIN authentication (user `riskguard`, a
 * per-launch token), validates every message, delivers commands with ids, acks, timeouts and
 * retries, and watches the session (stale data, EA restarts, protocol mismatch).
 *
 * ```ts
 * const token = makeToken();
 * const bridge = await Bridge.open({ port: 5555, token });
 * bridge.on((event) => {
 *   if (event.type === "snapshot") console.log(event.snapshot.account.equity);
 * });
 * const ack = await bridge.send({ type: "lock", reason: "daily loss", until: 0 });
 * await bridge.close();
 * ```
 *
 * Malformed, oversized, multi-part and unknown messages are dropped and counted in
 * {@link Bridge.stats}; they never end the session. The token never appears in logs or errors.
 *
 * @module
 */
import { type Clock, systemClock } from "../shared/clock.ts";
import { describeError, RiskGuardError } from "../shared/errors.ts";
import { logger } from "../shared/logging.ts";
import {
  type Ack,
  type Command,
  decodeEaMessage,
  encodeMessage,
  type Heartbeat,
  type Hello,
  MAX_MESSAGE_SIZE,
  PLAIN_USERNAME,
  PROTOCOL_VERSION,
  readCommand,
  type Snapshot,
} from "./protocol.ts";
import { PullSocket, PushSocket, type SocketStats, type ZmtpLogger } from "./zmtp/mod.ts";

type WithoutId<T> = T extends unknown ? Omit<T, "id"> : never;

/** A command without its id: the bridge assigns one. */
export type CommandInput = WithoutId<Command>;

/** Error of the bridge (codes PROTOCOL, TIMEOUT, BRIDGE_LOST, CLOSED, AUTH_FAILED). */
export class BridgeError extends RiskGuardError {}

/**
 * Makes a per-launch PLAIN token: 32 random bytes (crypto.getRandomValues), base64url without
 * padding: 43 printable ASCII characters, safe in a `.set` file and on a command line.
 */
export function makeToken(bytes = 32): string {
  const raw = new Uint8Array(bytes);
  crypto.getRandomValues(raw);
  let text = "";
  for (const byte of raw) text += String.fromCharCode(byte);
  return btoa(text).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

/** Drops one trailing NUL character (a C string terminator sent by some bindings). */
function withoutTrailingNul(text: string): string {
  return text.endsWith("\0") ? text.slice(0, -1) : text;
}

/** Options of {@link Bridge.open}. */
export interface BridgeOptions {
  /** Base port: PULL binds `port`, PUSH binds `port + 1`. 0 picks two free ports (tests). */
  port: number;
  /** PLAIN password of this launch (see {@link makeToken}). */
  token: string;
  /** Loopback host to bind (default `127.0.0.1`). */
  host?: string;
  /** Account number the EA must report; a `hello` for another login is refused. */
  expectedLogin?: number;
  /** Time source; staleness is measured on its monotonic reading (default: the system clock). */
  clock?: Clock;
  /** How long to wait for an ack before resending (default 5000 ms). */
  ackTimeoutMs?: number;
  /** Resends after the first attempt before `send` rejects (default 2). */
  retries?: number;
  /** Silence after which the session is stale (default 5000 ms). */
  staleAfterMs?: number;
  /** How often staleness is checked (default 250 ms). */
  checkIntervalMs?: number;
  /** Largest message accepted, bytes (default {@link MAX_MESSAGE_SIZE}). */
  maxMessageSize?: number;
  /** PLAIN handshake timeout (default 5000 ms). */
  handshakeTimeoutMs?: number;
  /**
   * A message partly received for this long, from its first byte, closes the connection
   * (default 5000 ms): a peer that declares a large message and stalls does not keep its buffer.
   */
  messageTimeoutMs?: number;
  /** Prefix of command ids (default: random per bridge). */
  idPrefix?: string;
  /** Minimum ms between two `ping {hello: true}` requests (default 2000). */
  helloRequestIntervalMs?: number;
}

/** Why a message was dropped. */
export type DropReason =
  | "oversized"
  | "multipart"
  | "not_utf8"
  | "not_json"
  | "unknown_type"
  | "invalid"
  | "out_of_order"
  | "wrong_account"
  | "refused_session";

/** Everything the bridge reports. */
export type BridgeEvent =
  | { type: "hello"; hello: Hello; restart: boolean }
  | { type: "snapshot"; snapshot: Snapshot }
  | { type: "heartbeat"; heartbeat: Heartbeat }
  | {
    type: "ack";
    ack: Ack; /** Arrived after `send` had rejected with `TIMEOUT`. */
    late?: boolean;
  }
  | { type: "stale"; silentMs: number }
  | { type: "fresh" }
  | { type: "protocol_mismatch"; protocol: number }
  | { type: "wrong_account"; login: number }
  | { type: "dropped"; reason: DropReason; detail: string }
  | { type: "auth_failure"; socket: "pull" | "push" }
  | { type: "protocol_error"; socket: "pull" | "push"; reason: string }
  | { type: "connect"; socket: "pull" | "push" }
  | { type: "disconnect"; socket: "pull" | "push" };

/** Counters of a bridge. */
export interface BridgeStats {
  /** Messages received (valid or not). */
  received: number;
  hellos: number;
  snapshots: number;
  heartbeats: number;
  acks: number;
  /** Messages dropped, by reason. */
  dropped: Record<DropReason, number>;
  /** Acks whose id no command was waiting for. */
  unknownAcks: number;
  /** Acks that arrived after their command timed out (see `onLateAck` of `send`). */
  lateAcks: number;
  /** Acks marked `duplicate` by the EA. */
  duplicateAcks: number;
  /** Snapshots or heartbeats received before any `hello`. */
  beforeHello: number;
  /** Commands sent (first attempts). */
  commandsSent: number;
  /** Resends after a timeout or a new hello. */
  retries: number;
  /** Commands that got no ack after every attempt. */
  timeouts: number;
  /** Commands refused before sending because they break the protocol (a bug; logged). */
  invalidCommands: number;
  /** Transitions to stale. */
  staleEvents: number;
  /** PLAIN credentials refused on either socket. */
  authFailures: number;
  /**
   * Connections closed for breaking the protocol (a message beyond the transport limit, a bad
   * frame); each is logged with its reason.
   */
  protocolErrors: number;
  /** Transport counters of each socket (evictions, timeouts such as a stalled message, ...). */
  transport: { pull: Readonly<SocketStats>; push: Readonly<SocketStats> };
}

interface Pending {
  command: Command;
  bytes: Uint8Array;
  attempts: number;
  maxAttempts: number;
  timeoutMs: number;
  timer: ReturnType<typeof setTimeout> | undefined;
  /** Deliveries so far (first send, timeout resends and resends after a new hello). */
  deliveries: number;
  onResend: ((command: Command, delivery: number) => void) | undefined;
  onLateAck: ((ack: Ack) => void) | undefined;
  resolve: (ack: Ack) => void;
  reject: (error: Error) => void;
}

const KNOWN_TYPES = new Set(["hello", "snapshot", "ack", "heartbeat"]);
/**
 * Commands given up on (timed out) whose late ack is still awaited, newest kept: an EA busy
 * with a long queue answers after the timeout, and that answer is still an action to record.
 */
const MAX_GIVEN_UP = 1_024;
const log = logger("mt5", "bridge");
const zmtpLog = logger("mt5", "zmtp");
/**
 * The transport's own lines under `mt5.zmtp`: why a connection was closed (protocol error, a
 * stalled message), evictions at debug level. They never hold a secret. Refused credentials
 * are logged by the bridge itself, once.
 */
const transportLog: ZmtpLogger = {
  debug: (message, properties = {}) => zmtpLog.debug(message, properties),
  warn: (message, properties = {}) => {
    if (message === "zmtp authentication failed") return;
    const why = "reason" in properties ? ": {reason}" : "";
    const what = message.replace(/^zmtp /, "");
    zmtpLog.warn(`EA connection: ${what} (peer {remote} on {endpoint})${why}`, properties);
  },
};

/** The agent side of one EA connection. */
export class Bridge {
  #options: Required<Omit<BridgeOptions, "expectedLogin" | "clock">>;
  #expectedLogin: number | undefined;
  #clock: Clock;
  #pull: PullSocket;
  #push: PushSocket;
  #listeners = new Set<(event: BridgeEvent) => void>();
  #pending = new Map<string, Pending>();
  /** Ids of timed-out commands whose late ack someone wants, oldest first. */
  readonly #givenUp = new Map<string, (ack: Ack) => void>();
  #counter = 0;
  #closed = false;
  #loop: Promise<void> | undefined;
  #checker: ReturnType<typeof setInterval> | undefined;
  #lastMessageAt: number;
  #stale = false;
  #hello: Hello | undefined;
  #refused = false;
  #lastSeq = 0;
  #lastSnapshot: Snapshot | undefined;
  #lastHelloRequest = -Infinity;
  #stats: Omit<BridgeStats, "transport"> = {
    received: 0,
    hellos: 0,
    snapshots: 0,
    heartbeats: 0,
    acks: 0,
    dropped: {
      oversized: 0,
      multipart: 0,
      not_utf8: 0,
      not_json: 0,
      unknown_type: 0,
      invalid: 0,
      out_of_order: 0,
      wrong_account: 0,
      refused_session: 0,
    },
    unknownAcks: 0,
    lateAcks: 0,
    duplicateAcks: 0,
    beforeHello: 0,
    commandsSent: 0,
    retries: 0,
    timeouts: 0,
    invalidCommands: 0,
    staleEvents: 0,
    authFailures: 0,
    protocolErrors: 0,
  };
  /**
   * One queue per running {@link Bridge.events} iterator, and only while it runs: events are
   * queued for a reader, never for nobody (the risk process listens with {@link Bridge.on}, and
   * a queue kept for no reader held the last 10 000 events, snapshots included, for good).
   */
  #readers = new Set<EventReader>();

  private constructor(options: BridgeOptions) {
    const token = options.token;
    if (token.length === 0) throw new BridgeError("INPUT_INVALID", "Bridge token is empty");
    this.#options = {
      port: options.port,
      token,
      host: options.host ?? "127.0.0.1",
      ackTimeoutMs: options.ackTimeoutMs ?? 5_000,
      retries: options.retries ?? 2,
      staleAfterMs: options.staleAfterMs ?? 5_000,
      checkIntervalMs: options.checkIntervalMs ?? 250,
      maxMessageSize: options.maxMessageSize ?? MAX_MESSAGE_SIZE,
      handshakeTimeoutMs: options.handshakeTimeoutMs ?? 5_000,
      messageTimeoutMs: options.messageTimeoutMs ?? 5_000,
      idPrefix: options.idPrefix ?? makeToken(6),
      helloRequestIntervalMs: options.helloRequestIntervalMs ?? 2_000,
    };
    this.#expectedLogin = options.expectedLogin;
    this.#clock = options.clock ?? systemClock;
    this.#lastMessageAt = this.#clock.monotonic();
    // MQL5 ZeroMQ bindings set string socket options with their C terminator, so a libzmq EA
    // may send "riskguard\0" and "<token>\0": one trailing NUL is not part of the credential.
    const authenticate = (username: string, password: string) =>
      withoutTrailingNul(username) === PLAIN_USERNAME &&
      constantTimeEqual(withoutTrailingNul(password), token);
    const transport = {
      mechanism: { type: "plain" as const, role: "server" as const, authenticate },
      // The transport drops the connection only far beyond our limit; between the two the
      // message is received and dropped here, so one bad message does not cut the session.
      maxMessageSize: Math.max(4 * this.#options.maxMessageSize, 4 * 1024 * 1024),
      handshakeTimeoutMs: this.#options.handshakeTimeoutMs,
      messageTimeoutMs: this.#options.messageTimeoutMs,
      logger: transportLog,
    };
    this.#pull = new PullSocket(transport);
    this.#push = new PushSocket(transport);
    for (const [name, socket] of [["pull", this.#pull], ["push", this.#push]] as const) {
      socket.on("auth_failure", () => {
        this.#stats.authFailures++;
        log.warn("EA authentication refused on {socket} socket", { socket: name });
        this.#emit({ type: "auth_failure", socket: name });
      });
      socket.on("protocol_error", (event) => {
        // The socket has closed the connection (e.g. a message far beyond our limit): say why.
        // The transport logs the line with the reason (see transportLog).
        this.#stats.protocolErrors++;
        this.#emit({ type: "protocol_error", socket: name, reason: event.reason });
      });
      socket.on("connect", () => this.#emit({ type: "connect", socket: name }));
      socket.on("disconnect", () => this.#emit({ type: "disconnect", socket: name }));
    }
  }

  /** Binds both sockets and starts receiving. */
  static async open(options: BridgeOptions): Promise<Bridge> {
    const bridge = new Bridge(options);
    await bridge.#bind();
    return bridge;
  }

  /** The PULL port (the base port). */
  get port(): number {
    return this.#pull.port;
  }

  /** The PUSH port (normally `port + 1`). */
  get commandPort(): number {
    return this.#push.port;
  }

  /** A copy of the counters. */
  get stats(): BridgeStats {
    return {
      ...this.#stats,
      dropped: { ...this.#stats.dropped },
      transport: { pull: this.#pull.stats, push: this.#push.stats },
    };
  }

  /** The last accepted `hello`, if any. */
  get hello(): Hello | undefined {
    return this.#hello;
  }

  /** The last accepted snapshot, if any. */
  get lastSnapshot(): Snapshot | undefined {
    return this.#lastSnapshot;
  }

  /** Whether nothing arrived for `staleAfterMs`. */
  get stale(): boolean {
    return this.#stale;
  }

  /** Commands waiting for their ack. */
  get pendingCommands(): number {
    return this.#pending.size;
  }

  /** Subscribes to every event; returns a function that unsubscribes. */
  on(listener: (event: BridgeEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * Iterates over events until the bridge is closed, from the first `next()` on: an iterator
   * nobody reads holds nothing. Events are buffered (up to {@link MAX_QUEUED_EVENTS}; the oldest
   * are dropped beyond) while the consumer is busy; leaving the loop ends the buffering.
   */
  async *events(): AsyncGenerator<BridgeEvent> {
    const reader: EventReader = { queue: [], wake: undefined };
    this.#readers.add(reader);
    try {
      while (true) {
        const event = reader.queue.shift();
        if (event !== undefined) {
          yield event;
          continue;
        }
        if (this.#closed) return;
        await new Promise<void>((resolve) => reader.wake = resolve);
        reader.wake = undefined;
      }
    } finally {
      this.#readers.delete(reader);
    }
  }

  /**
   * Sends a command and resolves with its ack. The bridge assigns the id (unless the command
   * has one), resends the same command (same id) when no ack comes within the timeout or when
   * the EA says hello again, and rejects with a `TIMEOUT` error after the last attempt, or with
   * `CLOSED` when the bridge closes. An ack with `ok: false` resolves normally. `onResend`
   * hears of every same-id resend with its delivery number (2 for the first resend), so the
   * audit trail can record it. `onLateAck` hears of an ack that arrives after `send` rejected
   * with `TIMEOUT` (the command was done after all).
   */
  send(
    command: CommandInput | Command,
    options: {
      timeoutMs?: number;
      retries?: number;
      onResend?: (command: Command, delivery: number) => void;
      onLateAck?: (ack: Ack) => void;
    } = {},
  ): Promise<Ack> {
    if (this.#closed) {
      return Promise.reject(
        new BridgeError("CLOSED", `Cannot send ${command.type}: bridge closed`),
      );
    }
    const id = "id" in command && typeof command.id === "string"
      ? command.id
      : `${this.#options.idPrefix}-${++this.#counter}`;
    const full = { ...command, id } as Command;
    if (this.#pending.has(id)) {
      return Promise.reject(
        new BridgeError("INPUT_INVALID", `Cannot send ${full.type}: id ${id} is already waiting`),
      );
    }
    // Every command is checked against the protocol before it leaves: an EA drops a command
    // that breaks it without an ack, so a bug here would silently cost a lock or a close.
    // Refusing it makes the bug loud (the sender records the error) and blocks nothing else.
    const checked = readCommand(full);
    if (!checked.ok) {
      const why = checked.error;
      this.#stats.invalidCommands++;
      log.error("Refused to send an invalid {type} command (a bug): {why}", {
        type: full.type,
        why,
      });
      return Promise.reject(
        new BridgeError("PROTOCOL", `Cannot send ${full.type}: it breaks the protocol (${why})`),
      );
    }
    return new Promise<Ack>((resolve, reject) => {
      const pending: Pending = {
        command: full,
        bytes: encodeMessage(full),
        attempts: 0,
        maxAttempts: 1 + Math.max(0, options.retries ?? this.#options.retries),
        timeoutMs: options.timeoutMs ?? this.#options.ackTimeoutMs,
        timer: undefined,
        deliveries: 0,
        onResend: options.onResend,
        onLateAck: options.onLateAck,
        resolve,
        reject,
      };
      this.#pending.set(id, pending);
      this.#stats.commandsSent++;
      this.#transmit(pending);
    });
  }

  /**
   * Sends one raw frame to the EA, bypassing ids and acks: for diagnostics and protocol tests
   * (e.g. proving that an EA survives a malformed command).
   */
  sendRaw(frame: Uint8Array): Promise<void> {
    if (this.#closed) {
      return Promise.reject(new BridgeError("CLOSED", "Cannot send: bridge closed"));
    }
    return this.#push.send(frame);
  }

  /** Closes both sockets; commands still waiting reject with `CLOSED`. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#checker !== undefined) clearInterval(this.#checker);
    for (const pending of this.#pending.values()) {
      if (pending.timer !== undefined) clearTimeout(pending.timer);
      pending.reject(
        new BridgeError(
          "CLOSED",
          `Command ${pending.command.type} ${pending.command.id}: bridge closed`,
        ),
      );
    }
    this.#pending.clear();
    this.#givenUp.clear();
    await Promise.all([this.#pull.close(), this.#push.close()]);
    await this.#loop;
    for (const reader of this.#readers) reader.wake?.();
  }

  async #bind(): Promise<void> {
    const { host, port } = this.#options;
    try {
      await this.#pull.bind(`tcp://${host}:${port}`);
      const commandPort = port === 0 ? 0 : port + 1;
      await this.#push.bind(`tcp://${host}:${commandPort}`);
    } catch (error) {
      await Promise.all([this.#pull.close(), this.#push.close()]);
      const why = describeError(error);
      throw new BridgeError(
        "BRIDGE_LOST",
        `Cannot bind bridge on ${host}:${port} and ${port + 1} (is another process using the ` +
          `instance's ports?): ${why}`,
        { cause: error },
      );
    }
    this.#lastMessageAt = this.#clock.monotonic();
    this.#loop = this.#receiveLoop();
    this.#checker = setInterval(() => this.#checkStale(), this.#options.checkIntervalMs);
  }

  async #receiveLoop(): Promise<void> {
    try {
      for await (const frames of this.#pull) {
        try {
          this.#onMessage(frames);
        } catch (error) {
          // A listener threw: report it, keep the session alive.
          log.error("Bridge listener failed: {error}", { error });
        }
      }
    } catch (error) {
      if (!this.#closed) log.error("Bridge receive loop ended: {error}", { error });
    }
  }

  #onMessage(frames: Uint8Array[]): void {
    this.#stats.received++;
    // Only a message the session can use proves the data is current (see #touch): a stream of
    // invalid snapshots must still end up stale.
    if (frames.length !== 1) {
      return this.#drop("multipart", `${frames.length} frames`);
    }
    const frame = frames[0]!;
    if (frame.length > this.#options.maxMessageSize) {
      return this.#drop("oversized", `${frame.length} bytes`);
    }
    const decoded = decodeEaMessage(frame);
    if (!decoded.ok) {
      if (decoded.reason === "invalid" && !hasKnownType(frame)) {
        return this.#drop("unknown_type", decoded.error);
      }
      return this.#drop(decoded.reason, decoded.error);
    }
    const message = decoded.value;
    switch (message.type) {
      case "hello":
        return this.#onHello(message);
      case "snapshot":
        return this.#onSnapshot(message);
      case "heartbeat":
        return this.#onHeartbeat(message);
      case "ack":
        return this.#onAck(message);
    }
  }

  #onHello(hello: Hello): void {
    if (hello.protocol !== PROTOCOL_VERSION) {
      this.#refused = true;
      log.error("EA speaks protocol {protocol}, agent speaks {ours}: session refused", {
        protocol: hello.protocol,
        ours: PROTOCOL_VERSION,
      });
      this.#emit({ type: "protocol_mismatch", protocol: hello.protocol });
      return this.#drop("refused_session", `protocol ${hello.protocol}`);
    }
    if (this.#expectedLogin !== undefined && hello.login !== this.#expectedLogin) {
      this.#refused = true;
      this.#emit({ type: "wrong_account", login: hello.login });
      return this.#drop("wrong_account", `login ${hello.login}`);
    }
    const restart = this.#hello !== undefined;
    this.#refused = false;
    this.#touch();
    this.#hello = hello;
    this.#lastSeq = 0;
    this.#stats.hellos++;
    this.#emit({ type: "hello", hello, restart });
    // The EA may have restarted before executing what is waiting: resend (same ids). Before
    // the first hello, waiting commands are still queued in the PUSH socket: no resend needed.
    if (!restart) return;
    for (const pending of this.#pending.values()) {
      if (pending.attempts > 0) {
        this.#stats.retries++;
        this.#transmit(pending, false);
      }
    }
  }

  #onSnapshot(snapshot: Snapshot): void {
    if (this.#refused) return this.#drop("refused_session", "snapshot");
    if (this.#expectedLogin !== undefined && snapshot.account.login !== this.#expectedLogin) {
      return this.#drop("wrong_account", `login ${snapshot.account.login}`);
    }
    if (this.#hello === undefined) {
      this.#stats.beforeHello++;
      this.#requestHello();
    } else if (snapshot.seq <= this.#lastSeq) {
      return this.#drop("out_of_order", `seq ${snapshot.seq} after ${this.#lastSeq}`);
    }
    this.#touch();
    this.#lastSeq = snapshot.seq;
    this.#lastSnapshot = snapshot;
    this.#stats.snapshots++;
    this.#emit({ type: "snapshot", snapshot });
  }

  #onHeartbeat(heartbeat: Heartbeat): void {
    if (this.#refused) return this.#drop("refused_session", "heartbeat");
    this.#touch();
    if (this.#hello === undefined) {
      this.#stats.beforeHello++;
      this.#requestHello();
    }
    this.#stats.heartbeats++;
    this.#emit({ type: "heartbeat", heartbeat });
  }

  #onAck(ack: Ack): void {
    this.#touch();
    this.#stats.acks++;
    if (ack.duplicate === true) this.#stats.duplicateAcks++;
    const pending = this.#pending.get(ack.id);
    const givenUp = this.#givenUp.get(ack.id);
    if (pending === undefined && givenUp !== undefined) {
      this.#givenUp.delete(ack.id);
      this.#stats.lateAcks++;
      this.#emit({ type: "ack", ack, late: true });
      givenUp(ack);
      return;
    }
    if (pending === undefined) {
      this.#stats.unknownAcks++;
      log.debug("Ack for unknown command id {id} ignored", { id: ack.id });
      return;
    }
    if (pending.timer !== undefined) clearTimeout(pending.timer);
    this.#pending.delete(ack.id);
    this.#emit({ type: "ack", ack });
    pending.resolve(ack);
  }

  #requestHello(): void {
    const now = this.#clock.monotonic();
    if (now - this.#lastHelloRequest < this.#options.helloRequestIntervalMs) return;
    this.#lastHelloRequest = now;
    this.send({ type: "ping", hello: true }, { retries: 0 }).catch(() => {});
  }

  #transmit(pending: Pending, countAttempt = true): void {
    if (countAttempt) pending.attempts++;
    pending.deliveries++;
    if (pending.deliveries > 1) pending.onResend?.(pending.command, pending.deliveries);
    if (pending.timer !== undefined) clearTimeout(pending.timer);
    pending.timer = setTimeout(() => this.#onTimeout(pending), pending.timeoutMs);
    this.#push.send(pending.bytes).catch((error) => {
      if (this.#closed) return;
      log.warn("Cannot queue command {type}: {error}", { type: pending.command.type, error });
    });
  }

  #onTimeout(pending: Pending): void {
    pending.timer = undefined;
    if (this.#pending.get(pending.command.id) !== pending) return;
    if (pending.attempts < pending.maxAttempts) {
      this.#stats.retries++;
      log.warn("No ack for {type} {id} after {ms} ms: resending", {
        type: pending.command.type,
        id: pending.command.id,
        ms: pending.timeoutMs,
      });
      this.#transmit(pending);
      return;
    }
    this.#pending.delete(pending.command.id);
    this.#stats.timeouts++;
    if (pending.onLateAck !== undefined) {
      this.#givenUp.set(pending.command.id, pending.onLateAck);
      if (this.#givenUp.size > MAX_GIVEN_UP) {
        this.#givenUp.delete(this.#givenUp.keys().next().value!);
      }
    }
    pending.reject(
      new BridgeError(
        "TIMEOUT",
        `No ack for ${pending.command.type} ${pending.command.id} after ${pending.attempts} attempts of ${pending.timeoutMs} ms`,
      ),
    );
  }

  #touch(): void {
    this.#lastMessageAt = this.#clock.monotonic();
    if (this.#stale) {
      this.#stale = false;
      this.#emit({ type: "fresh" });
    }
  }

  #checkStale(): void {
    const silent = Math.round(this.#clock.monotonic() - this.#lastMessageAt);
    if (!this.#stale && silent >= this.#options.staleAfterMs) {
      this.#stale = true;
      this.#stats.staleEvents++;
      log.warn("No message from the EA for {ms} ms: data is stale", { ms: silent });
      this.#emit({ type: "stale", silentMs: silent });
    }
  }

  #drop(reason: DropReason, detail: string): void {
    this.#stats.dropped[reason]++;
    log.debug("Dropped EA message ({reason}): {detail}", { reason, detail });
    this.#emit({ type: "dropped", reason, detail });
  }

  #emit(event: BridgeEvent): void {
    for (const listener of [...this.#listeners]) {
      try {
        listener(event);
      } catch (error) {
        log.error("Bridge listener failed: {error}", { error });
      }
    }
    for (const reader of this.#readers) {
      reader.queue.push(event);
      if (reader.queue.length > MAX_QUEUED_EVENTS) reader.queue.shift();
      reader.wake?.();
    }
  }
}

/** Events one {@link Bridge.events} iterator may have waiting before the oldest are dropped. */
const MAX_QUEUED_EVENTS = 10_000;

/** A running {@link Bridge.events} iterator: its waiting events and how to wake it. */
interface EventReader {
  queue: BridgeEvent[];
  wake: (() => void) | undefined;
}

function hasKnownType(frame: Uint8Array): boolean {
  try {
    const value = JSON.parse(new TextDecoder().decode(frame)) as { type?: unknown };
    return typeof value?.type === "string" && KNOWN_TYPES.has(value.type);
  } catch {
    return false;
  }
}

/** Compares two strings without an early exit on the first difference. */
function constantTimeEqual(a: string, b: string): boolean {
  const x = new TextEncoder().encode(a);
  const y = new TextEncoder().encode(b);
  let diff = x.length ^ y.length;
  for (let i = 0; i < Math.max(x.length, y.length); i++) diff |= (x[i] ?? 0) ^ (y[i] ?? 0);
  return diff === 0;
}
