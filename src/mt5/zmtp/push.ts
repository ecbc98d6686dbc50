/**
 * The PUSH socket: sends messages to PULL peers, round-robin.
 *
 * @module
 */
import { ZmtpError } from "./errors.ts";
import { type SocketOptions, ZmtpSocket } from "./socket.ts";
import { Fifo } from "./_fifo.ts";
import type { Peer } from "./_peer.ts";

/** One frame as given to {@link PushSocket.send}: bytes, or text sent as UTF-8. */
export type FrameInput = Uint8Array | string;

/** A message as given to {@link PushSocket.send}: one frame, or several (multi-part). */
export type MessageInput = FrameInput | readonly FrameInput[];

interface Waiter {
  frames: Uint8Array[];
  resolve: () => void;
  reject: (error: Error) => void;
  timer: ReturnType<typeof setTimeout> | undefined;
}

const encoder = new TextEncoder();
const DONE = Promise.resolve();

/** Converts a message input to frames (strings become UTF-8). */
export function toFrames(message: MessageInput): Uint8Array[] {
  if (typeof message === "string") return [encoder.encode(message)];
  if (message instanceof Uint8Array) return [message];
  return message.map((frame) => typeof frame === "string" ? encoder.encode(frame) : frame);
}

/**
 * A PUSH socket (RFC 30 pipeline pattern). Each message goes to one ready PULL peer, taken in
 * round-robin order among peers whose write queue has room; while no peer can take it, the
 * message waits in the socket queue (at most `sendHighWaterMark` messages). When that queue is
 * full, `send()` waits for room and rejects with TIMEOUT after `sendTimeoutMs` (policy: block,
 * like libzmq PUSH; nothing is dropped silently). Messages already handed to a peer that then
 * disconnects are lost and counted in `stats.dropped`.
 *
 * Do not modify a `Uint8Array` after passing it to `send()`: large frames are written without a
 * copy.
 *
 * ```ts
 * const push = new PushSocket();
 * await push.bind("tcp://127.0.0.1:5556");
 * await push.send(JSON.stringify({ type: "ping" }));
 * await push.close();
 * ```
 */
export class PushSocket extends ZmtpSocket {
  #queue = new Fifo<Uint8Array[]>();
  #waiters = new Fifo<Waiter>();
  #next = 0;

  /** Creates a PUSH socket; call `bind` and/or `connect` next. */
  constructor(options: SocketOptions = {}) {
    super("PUSH", options);
  }

  /**
   * Sends one message (a frame, or an array of frames for a multi-part message). Resolves once
   * the message is queued or handed to a peer; waits while the socket queue is full.
   */
  send(message: MessageInput): Promise<void> {
    if (this.closed) {
      return Promise.reject(new ZmtpError("CLOSED", "Cannot send: socket is closed"));
    }
    const frames = toFrames(message);
    if (frames.length === 0) {
      return Promise.reject(new ZmtpError("INPUT_INVALID", "Cannot send a message of 0 frames"));
    }
    if (this.#queue.size === 0) {
      const peer = this.#pick();
      if (peer !== undefined) {
        peer.send(frames);
        this.counters.messagesOut++;
        return DONE;
      }
    }
    if (this.#queue.size < this.options.sendHighWaterMark) {
      this.#queue.push(frames);
      return DONE;
    }
    return new Promise((resolve, reject) => {
      const waiter: Waiter = { frames, resolve, reject, timer: undefined };
      const timeout = this.options.sendTimeoutMs;
      if (Number.isFinite(timeout)) {
        waiter.timer = setTimeout(() => {
          waiter.timer = undefined;
          waiter.frames = [];
          reject(
            new ZmtpError(
              "TIMEOUT",
              `send() waited ${timeout} ms: queue full (${this.options.sendHighWaterMark} ` +
                `messages) and no peer took any`,
            ),
          );
        }, timeout);
      }
      this.#waiters.push(waiter);
    });
  }

  /** Picks the next writable ready peer, round-robin. */
  #pick(): Peer | undefined {
    const peers = this.readyPeers;
    const count = peers.length;
    for (let i = 0; i < count; i++) {
      const index = (this.#next + i) % count;
      const peer = peers[index]!;
      if (peer.writable) {
        this.#next = index + 1;
        return peer;
      }
    }
    return undefined;
  }

  /** Moves queued messages to peers, then admits waiting senders into the queue. */
  #pump(): void {
    while (this.#queue.size > 0) {
      const peer = this.#pick();
      if (peer === undefined) break;
      peer.send(this.#queue.shift()!);
      this.counters.messagesOut++;
    }
    while (this.#waiters.size > 0 && this.#queue.size < this.options.sendHighWaterMark) {
      const waiter = this.#waiters.shift()!;
      if (waiter.frames.length === 0) continue; // timed out
      if (waiter.timer !== undefined) clearTimeout(waiter.timer);
      this.#queue.push(waiter.frames);
      waiter.resolve();
    }
  }

  /** @internal */
  protected override queueSize(): number {
    return this.#queue.size;
  }

  /** @internal */
  protected override peerReady(_peer: Peer): void {
    this.#pump();
  }

  /** @internal */
  protected override peerMessage(_peer: Peer, _frames: Uint8Array[]): void {
    // A PULL peer sends no messages; RFC 30 says to ignore them.
  }

  /** @internal */
  protected override peerDrained(_peer: Peer): void {
    if (this.#queue.size > 0) this.#pump();
  }

  /** @internal */
  protected override peerGone(_peer: Peer): void {
    this.#pump();
  }

  /** @internal */
  protected override readGate(): Promise<void> | undefined {
    return undefined;
  }

  /** @internal Waits up to `lingerMs` for queued messages to be written. */
  protected override async beforeClose(): Promise<void> {
    const linger = this.options.lingerMs;
    if (linger <= 0) return;
    // Durations on the monotonic clock: a wall clock set back must not stretch the linger.
    const deadline = performance.now() + linger;
    while (performance.now() < deadline) {
      const pending = this.#queue.size > 0 || this.#waiters.size > 0 ||
        [...this.connections].some((peer) => peer.queuedMessages > 0);
      if (!pending) break;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    // A peer that stopped reading must not hold close() beyond the linger time.
    let timer: ReturnType<typeof setTimeout> | undefined;
    const rest = Math.max(0, deadline - performance.now());
    await Promise.race([
      Promise.all(this.readyPeers.map((peer) => peer.flushed())),
      new Promise((resolve) => timer = setTimeout(resolve, rest)),
    ]);
    clearTimeout(timer);
  }

  /** @internal */
  protected override afterClose(): void {
    this.counters.dropped += this.#queue.clear().length;
    for (const waiter of this.#waiters.clear()) {
      if (waiter.frames.length === 0) continue;
      if (waiter.timer !== undefined) clearTimeout(waiter.timer);
      this.counters.dropped++;
      waiter.reject(new ZmtpError("CLOSED", "Cannot send: socket closed while waiting for room"));
    }
  }
}
