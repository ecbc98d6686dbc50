/**
 * Drives the real libzmq peer (`tests/interop/node/peer.mjs`, npm:zeromq under Node) from Deno
 * tests: starts it, reads its JSON-lines events, sends it commands, and stops it.
 *
 * @module
 */
import { encodeBase64 } from "./_base64.ts";

const NODE_DIR = new URL("./node/", import.meta.url);
const PEER_SCRIPT = new URL("./peer.mjs", NODE_DIR).pathname;

/** Why interop tests cannot run here, or undefined when the Node peer is installed. */
export const skipReason: string | undefined = findSkipReason();

function findSkipReason(): string | undefined {
  try {
    Deno.statSync(new URL("./node_modules/zeromq/package.json", NODE_DIR));
  } catch {
    return "the Node libzmq peer is not installed (run `deno run -A tools/setup_test_deps.ts` " +
      "or `npm ci --prefix tests/interop/node`)";
  }
  try {
    const probe = new Deno.Command("node", { args: ["--version"], stdout: "null", stderr: "null" })
      .outputSync();
    if (!probe.success) return "`node --version` failed";
  } catch {
    return "`node` is not on PATH";
  }
  return undefined;
}

let reported = false;

/**
 * Whether interop tests are ignored: when the Node peer is missing, except under `CI=true`
 * where they must run (and fail). Prints the reason once.
 */
export function ignoreInterop(): boolean {
  if (skipReason === undefined || Deno.env.get("CI") === "true") return false;
  if (!reported) {
    reported = true;
    console.log(`interop tests skipped: ${skipReason}`);
  }
  return true;
}

/** Deterministic test bytes: byte i = (i * 31 + seed) & 255 (same as peer.mjs). */
export function pattern(length: number, seed = 0): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = (i * 31 + seed) & 255;
  return bytes;
}

/** SHA-256 of bytes, lowercase hex. */
export async function sha256(bytes: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** A frame as the Node peer describes it. */
export interface DescribedFrame {
  len: number;
  sha256: string;
  b64?: string;
}

/** One line the Node peer printed. */
export interface PeerEvent {
  event: string;
  [key: string]: unknown;
}

/** Frame specs understood by peer.mjs. */
export type FrameSpec = { text: string } | { b64: string } | { pattern: number; seed?: number };

/** Configuration of peer.mjs (see its header). */
export interface NodePeerConfig {
  type: "push" | "pull";
  bind?: string;
  connect?: string;
  plain?: { username: string; password: string } | { server: true; users: Record<string, string> };
  heartbeatInterval?: number;
  heartbeatTimeout?: number;
  heartbeatTimeToLive?: number;
  reconnectInterval?: number;
}

/** A running libzmq peer. */
export class NodePeer {
  /** Every event printed so far. */
  readonly events: PeerEvent[] = [];
  /** The endpoint it bound or connects to. */
  endpoint = "";
  #child: Deno.ChildProcess;
  #stdin: WritableStreamDefaultWriter<Uint8Array>;
  #reader: Promise<void>;
  #waiters = new Set<() => void>();
  #nextId = 1;
  #stderr = "";
  #stderrReader: Promise<void>;
  #ended = false;

  private constructor(config: NodePeerConfig) {
    this.#child = new Deno.Command("node", {
      args: [PEER_SCRIPT, JSON.stringify(config)],
      cwd: NODE_DIR.pathname,
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.#stdin = this.#child.stdin.getWriter();
    this.#reader = this.#readLines();
    this.#stderrReader = this.#readStderr();
  }

  /** Starts a peer and waits until it has bound or started connecting. */
  static async start(config: NodePeerConfig): Promise<NodePeer> {
    if (skipReason !== undefined) throw new Error(`Cannot start the libzmq peer: ${skipReason}`);
    const peer = new NodePeer(config);
    try {
      const ready = await peer.waitFor((e) => e.event === "ready", "ready", 15_000);
      peer.endpoint = String(ready.endpoint);
    } catch (error) {
      await peer.close();
      throw error;
    }
    return peer;
  }

  /** The port of the bound endpoint. */
  get port(): number {
    return Number(this.endpoint.slice(this.endpoint.lastIndexOf(":") + 1));
  }

  /** Messages received so far (PULL peers). */
  get messages(): DescribedFrame[][] {
    return this.events.filter((e) => e.event === "message").map((e) =>
      e.frames as DescribedFrame[]
    );
  }

  /** Waits for the first event (already seen or future) matching `predicate`. */
  waitFor(
    predicate: (event: PeerEvent) => boolean,
    what: string,
    timeoutMs = 10_000,
  ): Promise<PeerEvent> {
    const found = this.events.find(predicate);
    if (found !== undefined) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const check = () => {
        const event = this.events.find(predicate);
        if (event === undefined) {
          if (!this.#ended) return;
          cleanup();
          reject(new Error(`libzmq peer exited before ${what}; stderr: ${this.#stderr}`));
          return;
        }
        cleanup();
        resolve(event);
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(
          new Error(
            `libzmq peer: no ${what} within ${timeoutMs} ms; events: ` +
              JSON.stringify(this.events.slice(-10)).slice(0, 1500) + `; stderr: ${this.#stderr}`,
          ),
        );
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        this.#waiters.delete(check);
      };
      this.#waiters.add(check);
    });
  }

  /** Waits until `count` messages were received. */
  async waitForMessages(count: number, timeoutMs = 10_000): Promise<DescribedFrame[][]> {
    await this.waitFor(() => this.messages.length >= count, `${count} messages`, timeoutMs);
    return this.messages;
  }

  /** Sends a message (PUSH peers) and waits until libzmq accepted it. */
  async send(frames: FrameSpec[]): Promise<void> {
    const id = this.#nextId++;
    await this.#command({ op: "send", id, frames });
    await this.waitFor((e) => e.event === "sent" && e.id === id, `sent #${id}`);
  }

  /** Sends without waiting for libzmq to accept (it may block until a peer connects). */
  async sendNoWait(frames: FrameSpec[]): Promise<void> {
    await this.#command({ op: "send", id: this.#nextId++, frames });
  }

  /** Closes the socket, waits for the process to exit (kills it after 3 s). */
  async close(): Promise<void> {
    try {
      await this.#command({ op: "close" });
      await this.#stdin.close();
    } catch {
      // The process may be gone already.
    }
    const timer = setTimeout(() => {
      try {
        this.#child.kill("SIGKILL");
      } catch {
        // Already exited.
      }
    }, 3_000);
    await this.#child.status;
    clearTimeout(timer);
    await this.#reader;
    await this.#stderrReader;
  }

  async #command(command: unknown): Promise<void> {
    await this.#stdin.write(new TextEncoder().encode(JSON.stringify(command) + "\n"));
  }

  async #readLines(): Promise<void> {
    let buffered = "";
    for await (const text of this.#child.stdout.pipeThrough(new TextDecoderStream())) {
      buffered += text;
      let newline: number;
      while ((newline = buffered.indexOf("\n")) >= 0) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        if (line.trim() === "") continue;
        try {
          this.events.push(JSON.parse(line) as PeerEvent);
        } catch {
          this.events.push({ event: "unparsed", line });
        }
      }
      for (const waiter of [...this.#waiters]) waiter();
    }
    this.#ended = true;
    await this.#stderrReader;
    for (const waiter of [...this.#waiters]) waiter();
  }

  async #readStderr(): Promise<void> {
    for await (const text of this.#child.stderr.pipeThrough(new TextDecoderStream())) {
      this.#stderr = (this.#stderr + text).slice(-2000);
    }
  }
}

/** A frame spec for the Node peer from bytes. */
export function b64(bytes: Uint8Array): FrameSpec {
  return { b64: encodeBase64(bytes) };
}
