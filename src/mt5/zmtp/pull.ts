/**
 * The PULL socket: receives messages from PUSH peers, fair-queued.
 *
 * @module
 */
import { ZmtpError } from "./errors.ts";
import { type SocketOptions, ZmtpSocket } from "./socket.ts";
import { Fifo } from "./_fifo.ts";
import type { Peer } from "./_peer.ts";

interface Receiver {
  resolve: (frames: Uint8Array[]) => void;
  reject: (error: Error) => void;
}

/**
 * A PULL socket (RFC 30 pipeline pattern). Messages from every PUSH peer land in one queue in
 * arrival order; peers are read in turn, one TCP read (up to 64 KiB) each, so a busy peer cannot
 * starve the others. When `receiveHighWaterMark` messages wait unread, the socket stops reading
 * until `receive()` makes room, and TCP flow control pushes back on the senders: nothing is
 * dropped.
 *
 * ```ts
 * const pull = new PullSocket({ mechanism: { type: "plain", role: "server", authenticate } });
 * await pull.bind("tcp://127.0.0.1:5555");
 * for await (const [frame] of pull) console.log(new TextDecoder().decode(frame));
 * ```
 */
export class PullSocket extends ZmtpSocket {
  #inbox = new Fifo<Uint8Array[]>();
  #receivers = new Fifo<Receiver>();
  #gate: { promise: Promise<void>; open: () => void } | undefined;

  /** Creates a PULL socket; call `bind` and/or `connect` next. */
  constructor(options: SocketOptions = {}) {
    super("PULL", options);
  }

  /** Resolves with the next message (its frames); rejects with CLOSED once the socket closes. */
  receive(): Promise<Uint8Array[]> {
    const frames = this.#inbox.shift();
    if (frames !== undefined) {
      if (this.#gate !== undefined && this.#inbox.size < this.options.receiveHighWaterMark) {
        const gate = this.#gate;
        this.#gate = undefined;
        gate.open();
      }
      return Promise.resolve(frames);
    }
    if (this.closed) {
      return Promise.reject(new ZmtpError("CLOSED", "Cannot receive: socket is closed"));
    }
    return new Promise((resolve, reject) => this.#receivers.push({ resolve, reject }));
  }

  /** Iterates over received messages until the socket is closed. */
  async *[Symbol.asyncIterator](): AsyncIterator<Uint8Array[]> {
    for (;;) {
      let frames: Uint8Array[];
      try {
        frames = await this.receive();
      } catch (error) {
        if (error instanceof ZmtpError && error.code === "CLOSED") return;
        throw error;
      }
      yield frames;
    }
  }

  /** @internal */
  protected override queueSize(): number {
    return this.#inbox.size;
  }

  /** @internal */
  protected override peerReady(_peer: Peer): void {}

  /** @internal */
  protected override peerMessage(_peer: Peer, frames: Uint8Array[]): void {
    this.counters.messagesIn++;
    const receiver = this.#receivers.shift();
    if (receiver !== undefined) receiver.resolve(frames);
    else this.#inbox.push(frames);
  }

  /** @internal */
  protected override peerDrained(_peer: Peer): void {}

  /** @internal */
  protected override peerGone(_peer: Peer): void {}

  /** @internal */
  protected override readGate(): Promise<void> | undefined {
    if (this.closed || this.#inbox.size < this.options.receiveHighWaterMark) return undefined;
    if (this.#gate === undefined) {
      let open!: () => void;
      const promise = new Promise<void>((resolve) => open = resolve);
      this.#gate = { promise, open };
    }
    return this.#gate.promise;
  }

  /** @internal */
  protected override afterClose(): void {
    this.#gate?.open();
    this.#gate = undefined;
    for (const receiver of this.#receivers.clear()) {
      receiver.reject(new ZmtpError("CLOSED", "Cannot receive: socket closed"));
    }
  }
}
