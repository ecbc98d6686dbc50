/**
 * The simulated EA's IO: connects a {@link SimTerminal} to the agent exactly as the real EA
 * does — PUSH connects to `port` and PULL connects to `port + 1`, both PLAIN clients with user
 * `riskguard` and the launch token — sends `hello`, then snapshots when something changed and
 * heartbeats otherwise, executes commands one at a time in arrival order with the configured
 * delay per trade request, and closes whatever is opened while locked.
 *
 * Simulated market time runs `speed` times faster than real time; the EA's timer, heartbeat and
 * execution delays are real milliseconds.
 *
 * Connection faults for drills come from a trigger file ({@link SimEaOptions.faultFile}) that the
 * EA polls on its timer and removes once read, so a drill decides when a fault happens and a
 * restarted simulator does not repeat it. The file holds one fault:
 *
 * | text | what the EA does |
 * |---|---|
 * | `cut` | drops its connection in the middle of a snapshot: closes its sockets, connects again, says hello, writes the first half of a snapshot frame and closes; then reconnects normally |
 * | `garbage` | sends a corrupted frame stream on a new connection: a frame that is not UTF-8, one that is not JSON, an unknown message type, an invalid snapshot, a two-frame message, then bytes that are no ZMTP frame; then reconnects normally |
 * | `silent <ms>` | sends nothing at all (no snapshot, heartbeat or ack) for `<ms>` real ms, connected |
 *
 * A simulator run as its own process outlives a risk process that is killed, as a real terminal
 * does. So that it does not run forever it can be told when its agent is gone
 * ({@link SimEaOptions.onAgentGone}): at once when an agent refuses its token (a new risk
 * process, with a new token, took the ports), or when no agent has been connected for
 * {@link SimEaOptions.agentGoneMs}. `riskguard sim` exits then (`docs/protocol.md`, section 10).
 *
 * @module
 */
import { type Clock, systemClock } from "../../shared/clock.ts";
import { logger } from "../../shared/logging.ts";
import {
  type Command,
  decodeCommand,
  type EaMessage,
  encodeMessage,
  MAX_COMMAND_ID_LENGTH,
  MAX_MESSAGE_SIZE,
  PLAIN_USERNAME,
  type Snapshot,
} from "../protocol.ts";
import { encodeMessage as zmtpMessage, PullSocket, PushSocket } from "../zmtp/mod.ts";
import { openRawLink, type RawLink } from "./_raw_link.ts";
import type { SimTerminal } from "./simulator.ts";

/** Options of {@link SimEa}. */
export interface SimEaOptions {
  /** The simulated terminal to drive. */
  terminal: SimTerminal;
  /** Agent base port: PUSH connects here. */
  port: number;
  /** Agent command port (default `port + 1`): PULL connects here. */
  commandPort?: number;
  /** PLAIN password. */
  token: string;
  /** PLAIN user name (default `riskguard`; tests pass another to fail authentication). */
  username?: string;
  /** Host (default `127.0.0.1`). */
  host?: string;
  /** Simulated ms per real ms (default 1). */
  speed?: number;
  /** EA timer period, real ms (default 100). */
  timerMs?: number;
  /** Heartbeat interval when nothing changed, real ms (default 1000). */
  heartbeatMs?: number;
  /** Real clock (default system clock). */
  clock?: Clock;
  /** Sees every message sent to the agent (the truth log records hellos and snapshots). */
  onSend?: (message: EaMessage) => void;
  /** Fault trigger file, polled every 100 ms and removed once read (see the module doc). */
  faultFile?: string;
  /** Sees every fault as it starts (the truth log records it). */
  onFault?: (fault: SimFault) => void;
  /**
   * Sees the PUSH link to the agent (which carries the acks) come up and go down, whoever
   * closed it (the truth log records it).
   */
  onLink?: (up: boolean) => void;
  /** Told once that the agent is gone: it refused the token, or {@link agentGoneMs} passed. */
  onAgentGone?: (why: SimAgentGone) => void;
  /** Real ms without a connected agent after which the agent is gone (default: never). */
  agentGoneMs?: number;
}

/** Why the simulated EA's agent is gone. */
export type SimAgentGone = "token refused" | "no agent";

/** A connection fault of the simulated EA. */
export type SimFault =
  | { type: "cut" }
  | { type: "garbage" }
  | { type: "silent"; ms: number };

/** Counters of the simulated EA. */
export interface SimEaStats {
  hellos: number;
  snapshots: number;
  heartbeats: number;
  acks: number;
  /** Commands received that failed to decode (dropped like the real EA: no ack). */
  badCommands: number;
  /** Simulated disconnects performed. */
  disconnects: number;
  /** Faults from the trigger file performed. */
  faults: number;
}

const log = logger("mt5", "sim");

/** The simulated EA: a terminal plus its two sockets. */
export class SimEa {
  #o: Required<
    Omit<
      SimEaOptions,
      | "terminal"
      | "clock"
      | "onSend"
      | "faultFile"
      | "onFault"
      | "onLink"
      | "onAgentGone"
      | "agentGoneMs"
    >
  >;
  #onSend: ((message: EaMessage) => void) | undefined;
  #faultFile: string | undefined;
  #onFault: ((fault: SimFault) => void) | undefined;
  #onLink: ((up: boolean) => void) | undefined;
  #onAgentGone: ((why: SimAgentGone) => void) | undefined;
  #agentGoneMs: number | undefined;
  /** Whether the agent was told gone already. */
  #agentGone = false;
  /** Ready PUSH peers (0 or 1: one agent). */
  #links = 0;
  /** Monotonic ms when the PUSH link last came up or went down (or the EA started). */
  #linkSeenAt = 0;
  #faultCheckedAt = 0;
  #silentUntil = 0;
  #terminal: SimTerminal;
  #clock: Clock;
  #push: PushSocket | undefined;
  #pull: PullSocket | undefined;
  #timer: ReturnType<typeof setInterval> | undefined;
  #startReal = 0;
  #seq = 0;
  #lastFingerprint = "";
  #lastSentAt = 0;
  #chain: Promise<void> = Promise.resolve();
  #enforcing = false;
  #running = false;
  #reconnecting = false;
  #nextDisconnect = 0;
  #loops = new Set<Promise<void>>();
  #stats: SimEaStats = {
    hellos: 0,
    snapshots: 0,
    heartbeats: 0,
    acks: 0,
    badCommands: 0,
    disconnects: 0,
    faults: 0,
  };

  /** Creates the EA; {@link start} connects it. */
  constructor(options: SimEaOptions) {
    this.#terminal = options.terminal;
    this.#clock = options.clock ?? systemClock;
    this.#onSend = options.onSend;
    this.#faultFile = options.faultFile;
    this.#onFault = options.onFault;
    this.#onLink = options.onLink;
    this.#onAgentGone = options.onAgentGone;
    this.#agentGoneMs = options.agentGoneMs;
    this.#o = {
      port: options.port,
      commandPort: options.commandPort ?? options.port + 1,
      token: options.token,
      username: options.username ?? PLAIN_USERNAME,
      host: options.host ?? "127.0.0.1",
      speed: options.speed ?? 1,
      timerMs: options.timerMs ?? 100,
      heartbeatMs: options.heartbeatMs ?? 1000,
    };
  }

  /** The simulated terminal. */
  get terminal(): SimTerminal {
    return this.#terminal;
  }

  /** A copy of the counters. */
  get stats(): SimEaStats {
    return { ...this.#stats };
  }

  /** Connects both sockets, sends `hello` and starts the timer. */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#startReal = this.#clock.now();
    this.#linkSeenAt = this.#clock.monotonic();
    this.#connect();
    this.#timer = setInterval(() => this.#onTimer(), this.#o.timerMs);
  }

  /** Stops the timer, waits for the command in progress, and closes the sockets. */
  async stop(): Promise<void> {
    if (!this.#running) return;
    this.#running = false;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    await this.#chain;
    await this.#disconnect();
  }

  #connect(): void {
    const mechanism = {
      type: "plain" as const,
      role: "client" as const,
      username: this.#o.username,
      password: this.#o.token,
    };
    const options = {
      mechanism,
      maxMessageSize: MAX_MESSAGE_SIZE,
      reconnectIntervalMs: 50,
      reconnectMaxIntervalMs: 500,
    };
    const push = new PushSocket(options);
    const pull = new PullSocket(options);
    this.#watchAgent(push, pull);
    push.connect(`tcp://${this.#o.host}:${this.#o.port}`);
    pull.connect(`tcp://${this.#o.host}:${this.#o.commandPort}`);
    this.#push = push;
    this.#pull = pull;
    this.#sendHello();
    const loop = this.#commandLoop(pull);
    this.#loops.add(loop);
    loop.finally(() => this.#loops.delete(loop));
  }

  /** Follows the PUSH link, and notices an agent that refuses the token. */
  #watchAgent(push: PushSocket, pull: PullSocket): void {
    push.on("connect", () => {
      this.#links++;
      this.#linkSeenAt = this.#clock.monotonic();
      this.#onLink?.(true);
    });
    push.on("disconnect", () => {
      this.#links = Math.max(0, this.#links - 1);
      this.#linkSeenAt = this.#clock.monotonic();
      this.#onLink?.(false);
    });
    for (const socket of [push, pull]) {
      socket.on("auth_failure", () => this.#gone("token refused"));
    }
  }

  #gone(why: SimAgentGone): void {
    if (this.#agentGone || !this.#running) return;
    this.#agentGone = true;
    log.info("Simulated EA: its agent is gone ({why})", { why });
    this.#onAgentGone?.(why);
  }

  async #disconnect(): Promise<void> {
    const push = this.#push;
    const pull = this.#pull;
    this.#push = undefined;
    this.#pull = undefined;
    await Promise.all([push?.close(), pull?.close()]);
    await Promise.all([...this.#loops]);
  }

  #sendHello(): void {
    this.#seq = 0;
    this.#lastFingerprint = "";
    this.#advance();
    this.#send(
      this.#terminal.hello({ heartbeatMs: this.#o.heartbeatMs, timerMs: this.#o.timerMs }),
    );
    this.#stats.hellos++;
    this.#maybeSnapshot();
  }

  async #commandLoop(pull: PullSocket): Promise<void> {
    try {
      await this.#readCommands(pull);
    } catch (error) {
      if (this.#running) log.error("Simulated EA stopped reading commands: {error}", { error });
    }
  }

  async #readCommands(pull: PullSocket): Promise<void> {
    for await (const frames of pull) {
      const frame = frames[0];
      const decoded = frames.length === 1 && frame !== undefined && frame.length <= MAX_MESSAGE_SIZE
        ? decodeCommand(frame)
        : undefined;
      if (decoded === undefined || !decoded.ok) {
        const id = frame === undefined ? undefined : closeWithoutTicket(frame);
        if (id !== undefined) {
          // The EA refuses it with an ack (not a silent drop), as it does for ticket 0.
          this.#chain = this.#chain.then(() => {
            this.#send(this.#terminal.refuseCloseWithoutTicket(id));
            this.#stats.acks++;
          });
          continue;
        }
        this.#stats.badCommands++;
        log.warn("Simulated EA dropped a malformed command");
        continue;
      }
      const command = decoded.value;
      this.#chain = this.#chain.then(() => this.#execute(command)).catch((error) => {
        log.error("Simulated EA failed to execute {type}: {error}", { type: command.type, error });
      });
    }
  }

  async #execute(command: Command): Promise<void> {
    this.#advance();
    const ack = await this.#terminal.execute(command, delay);
    this.#advance();
    this.#send(ack);
    this.#stats.acks++;
    if (command.type === "ping" && command.hello === true) this.#sendHello();
    else this.#maybeSnapshot();
  }

  #onTimer(): void {
    if (!this.#running || this.#reconnecting) return;
    if (
      this.#agentGoneMs !== undefined && this.#links === 0 &&
      this.#clock.monotonic() - this.#linkSeenAt >= this.#agentGoneMs
    ) {
      this.#gone("no agent");
    }
    this.#advance();
    const fault = this.#takeFault();
    if (fault !== undefined) {
      this.#inject(fault);
      if (fault.type !== "silent") return;
    }
    const faults = this.#terminal.scenario.faults;
    const next = faults?.disconnects[this.#nextDisconnect];
    if (next !== undefined && this.#terminal.time >= next.at) {
      this.#nextDisconnect++;
      this.#simulateDisconnect(next.downMs);
      return;
    }
    if (this.#terminal.locked && !this.#enforcing) {
      this.#enforcing = true;
      this.#chain = this.#chain.then(async () => {
        const results = await this.#terminal.enforceLock(delay);
        if (results.length > 0) this.#maybeSnapshot();
      }).catch((error) => log.error("Simulated EA lock enforcement failed: {error}", { error }))
        .finally(() => this.#enforcing = false);
    }
    this.#maybeSnapshot();
  }

  #simulateDisconnect(downMs: number): void {
    this.#reconnecting = true;
    this.#stats.disconnects++;
    log.info("Simulated EA disconnects for {ms} ms", { ms: downMs });
    this.#chain = this.#chain.then(async () => {
      await this.#disconnect();
      await delay(downMs);
      if (this.#running) this.#connect();
    }).catch((error) => log.error("Simulated EA reconnect failed: {error}", { error }))
      .finally(() => this.#reconnecting = false);
  }

  /** The fault written in the trigger file, if any (the file is removed: it happens once). */
  #takeFault(): SimFault | undefined {
    const now = this.#clock.now();
    if (this.#faultFile === undefined || now - this.#faultCheckedAt < 100) return undefined;
    this.#faultCheckedAt = now;
    let text: string;
    try {
      text = Deno.readTextFileSync(this.#faultFile).trim();
    } catch {
      return undefined; // no fault asked for
    }
    if (text === "") return undefined; // being written: read it on the next tick
    try {
      Deno.removeSync(this.#faultFile);
    } catch {
      // removed meanwhile: perform it once anyway
    }
    const [name, arg] = text.split(/\s+/, 2);
    if (name === "cut" || name === "garbage") return { type: name };
    const ms = Number(arg);
    if (name === "silent" && Number.isInteger(ms) && ms > 0) return { type: "silent", ms };
    log.error("Simulated EA ignored an unknown fault {text}", { text });
    return undefined;
  }

  #inject(fault: SimFault): void {
    this.#stats.faults++;
    this.#onFault?.(fault);
    log.info("Simulated EA fault: {fault}", { fault: fault.type });
    if (fault.type === "silent") {
      this.#silentUntil = this.#clock.now() + fault.ms;
      return;
    }
    this.#reconnecting = true;
    this.#chain = this.#chain.then(async () => {
      await this.#disconnect();
      try {
        const link = await openRawLink(this.#o.host, this.#o.port, {
          username: this.#o.username,
          password: this.#o.token,
        });
        try {
          await (fault.type === "cut" ? this.#cut(link) : this.#garbage(link));
        } finally {
          link.close();
        }
      } catch (error) {
        log.warn("Simulated EA fault {fault} could not reach the agent: {error}", {
          fault: fault.type,
          error,
        });
      }
      if (this.#running) this.#connect();
    }).catch((error) => log.error("Simulated EA fault failed: {error}", { error }))
      .finally(() => this.#reconnecting = false);
  }

  /** Hello, then the first half of a snapshot frame, then the connection is gone. */
  async #cut(link: RawLink): Promise<void> {
    this.#advance();
    const hello = this.#terminal.hello({
      heartbeatMs: this.#o.heartbeatMs,
      timerMs: this.#o.timerMs,
    });
    await link.sendMessage(encodeMessage(hello));
    const frame = encodeMessage(this.#terminal.snapshot(1));
    const whole = zmtpMessage([frame]);
    await link.write(whole.subarray(0, Math.floor(whole.length / 2)));
  }

  /** Frames that are no valid message, then bytes that are no frame: the agent hangs up. */
  async #garbage(link: RawLink): Promise<void> {
    const text = new TextEncoder();
    for (
      const body of [
        new Uint8Array([0xff, 0xfe, 0xfd, 0x80]),
        text.encode("{not json"),
        text.encode(JSON.stringify({ type: "gossip", v: 1 })),
        text.encode(JSON.stringify({ type: "snapshot", seq: "one" })),
      ]
    ) {
      await link.sendMessage(body);
    }
    await link.write(zmtpMessage([text.encode("part one"), text.encode("part two")]));
    // Flags with reserved bits set and a length far beyond any limit: not a ZMTP frame.
    await link.write(new Uint8Array([0xf6, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1]));
    await link.closedByPeer(2_000);
  }

  #maybeSnapshot(): void {
    if (this.#push === undefined) return;
    const snapshot = this.#terminal.snapshot(this.#seq + 1);
    const fingerprint = fingerprintOf(snapshot);
    const now = this.#clock.now();
    if (fingerprint !== this.#lastFingerprint) {
      this.#lastFingerprint = fingerprint;
      this.#seq++;
      this.#send(snapshot);
      this.#stats.snapshots++;
    } else if (now - this.#lastSentAt >= this.#o.heartbeatMs) {
      this.#send({
        type: "heartbeat",
        server_time: this.#terminal.serverTime,
        utc_time: this.#terminal.utcTime,
        seq: this.#seq,
        locked: this.#terminal.locked,
        connected: true,
      });
      this.#stats.heartbeats++;
    }
  }

  #send(message: EaMessage): void {
    const push = this.#push;
    if (push === undefined) return;
    // A silent EA sends nothing; what it would have sent is lost, as with a hung terminal.
    if (this.#clock.now() < this.#silentUntil) return;
    this.#lastSentAt = this.#clock.now();
    this.#onSend?.(message);
    push.send(encodeMessage(message)).catch(() => {
      // Closed while sending: the message is lost, as with a real disconnect.
    });
  }

  #advance(): void {
    const simTime = (this.#clock.now() - this.#startReal) * this.#o.speed;
    this.#terminal.advanceTo(simTime);
  }
}

/** The id of a `close_position` command that has an id but no usable ticket, if `frame` is one. */
function closeWithoutTicket(frame: Uint8Array): string | undefined {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(frame));
  } catch {
    return undefined;
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) return undefined;
  const { type, id, ticket } = json as Record<string, unknown>;
  if (type !== "close_position" || typeof id !== "string" || id.length === 0) return undefined;
  if (id.length > MAX_COMMAND_ID_LENGTH) return undefined;
  const usable = typeof ticket === "number" && Number.isInteger(ticket) && ticket > 0;
  return usable ? undefined : id;
}

function fingerprintOf(snapshot: Snapshot): string {
  const { seq: _seq, server_time: _s, utc_time: _u, ...rest } = snapshot;
  return JSON.stringify(rest);
}

function delay(ms: number): Promise<void> {
  if (ms <= 0) return Promise.resolve();
  return new Promise((resolve) => setTimeout(resolve, ms));
}
