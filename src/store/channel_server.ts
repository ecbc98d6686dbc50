/**
 * Admin's side of the store channel: serves the `Store` port to its risk children over
 * loopback TCP (wire: `_channel_wire.ts`), on admin's own store, so that a VPS holds one
 * MongoDB client (admin's) instead of one per account.
 *
 * - Only 127.0.0.1; a connection must say the per-launch token first (compared in constant
 *   time) or it is closed. Only methods of the `Store` port can be called.
 * - The calls run on the real store: fencing (the lease in every write) and validation happen
 *   there, exactly as for a child with its own client.
 * - Element feeds of one element (each child's live configuration) are fanned out from one
 *   shared feed of all elements: one change stream however many children. The shared feed is
 *   a hint of which element changed; each child's feed reads its element when told and sends
 *   what changed since the last thing it sent (the feed contract's de-duplication), so a
 *   child always ends on the newest state. Each child's feed also reads its element every
 *   `recheckMs` (30 s) untold: a shared feed that never delivers delays a change, never loses it. Admin's channel (`hinted`) takes those hints from
 *   the feed admin's watcher reads anyway: one change stream per VPS. Other feeds (all
 *   elements, resume keys) are the store's own feeds, one per call.
 *
 * @module
 */
import { describeError } from "../shared/errors.ts";
import { logger } from "../shared/logging.ts";
import { fingerprint } from "./_feed.ts";
import { normalizeId } from "./_ids.ts";
import {
  encodeError,
  LineWriter,
  readMessages,
  sameToken,
  type WireError,
} from "./_channel_wire.ts";
import { StoreError, StoreUnavailableError } from "./errors.ts";
import type { ParsedElement } from "./schemas.ts";
import type { ElementChange, ElementFeed, Store, WatchOptions } from "./types.ts";

/**
 * The methods of the port a child may call (every one but `close` and `watchElements`, which
 * the channel handles itself). A `Record` over the port's keys: a method added to the port
 * without being listed here fails the type check.
 */
const CALLABLE: Record<
  Exclude<keyof Store, "kind" | "description" | "close" | "watchElements">,
  true
> = {
  ensureIndexes: true,
  insertElement: true,
  getElement: true,
  listElements: true,
  setElementStatus: true,
  configureElement: true,
  removeElement: true,
  addInstance: true,
  getInstance: true,
  listInstances: true,
  removeInstance: true,
  claimFreeInstance: true,
  takeLease: true,
  ping: true,
  updateElement: true,
  release: true,
  reap: true,
  setInstanceUsable: true,
  beatAgent: true,
  listAgents: true,
  appendSample: true,
  listSamples: true,
  pruneSamples: true,
  appendEvent: true,
  listEvents: true,
};
const METHODS: ReadonlySet<string> = new Set(Object.keys(CALLABLE));

/**
 * A token for one launch of the channel: 256 random bits as 64 hex digits (made here, not by the
 * bridge's token maker, so that admin does not load the bridge).
 */
export function newChannelToken(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
}

/** Time a new connection has to say the token. */
const HELLO_TIMEOUT_MS = 5_000;

/** Options of {@link StoreChannelServer.listen}. */
export interface StoreChannelOptions {
  /** The per-launch token children must present. */
  token: string;
  /** Port on 127.0.0.1; default 0 (any free port). */
  port?: number;
  /**
   * The children's element feeds are told of changes through {@link StoreChannelServer.hint}
   * (by admin's watcher, which reads the same store's feed anyway) instead of a feed of the
   * channel's own: one change stream per VPS instead of two.
   */
  hinted?: boolean;
  /**
   * How often each child's element feed reads its element again though no change was told, ms
   * (default {@link RECHECK_MS}): the backstop for a shared feed that never delivers (admin's
   * watcher failing every time it opens), so a child never keeps old limits for good.
   */
  recheckMs?: number;
}

/** Default of {@link StoreChannelOptions.recheckMs}. */
export const RECHECK_MS = 30_000;

/** A feed as served: the next change, and closing. */
interface ServedFeed {
  next(): Promise<IteratorResult<ElementChange, undefined>>;
  close(): Promise<void>;
}

const log = logger("store", "channel");

/** Serves a store to the children on 127.0.0.1. */
export class StoreChannelServer {
  readonly #store: Store;
  readonly #token: string;
  readonly #listener: Deno.TcpListener;
  readonly #conns = new Set<Deno.Conn>();
  readonly #fanOut: FanOut;
  readonly #accepting: Promise<void>;
  #closed = false;

  private constructor(
    store: Store,
    token: string,
    listener: Deno.TcpListener,
    hinted: boolean,
    recheckMs: number,
  ) {
    this.#store = store;
    this.#token = token;
    this.#listener = listener;
    this.#fanOut = new FanOut(store, hinted, recheckMs);
    this.#accepting = this.#accept();
  }

  /** Listens on 127.0.0.1 and serves `store` to whoever presents `options.token`. */
  static listen(store: Store, options: StoreChannelOptions): StoreChannelServer {
    if (options.token.length < 16) throw new Error("the store channel token is too short");
    const listener = Deno.listen({ hostname: "127.0.0.1", port: options.port ?? 0 });
    return new StoreChannelServer(
      store,
      options.token,
      listener,
      options.hinted === true,
      options.recheckMs ?? RECHECK_MS,
    );
  }

  /**
   * A change of the store's element feed, from whoever reads it (admin's watcher), for a channel
   * listening with `hinted`: the children's feeds of that element read it again (a `synced`:
   * every one of them does). Without hints they still read it every `recheckMs`.
   */
  hint(change: ElementChange): void {
    this.#fanOut.hint(change);
  }

  /** `127.0.0.1:<port>`, for the children's environment. */
  get address(): string {
    return `127.0.0.1:${this.#listener.addr.port}`;
  }

  /** Connections open now (children connected). */
  get connections(): number {
    return this.#conns.size;
  }

  /** Stops listening and closes every connection (their calls fail as unreachable). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#listener.close();
    for (const conn of this.#conns) closeQuietly(conn);
    await this.#accepting;
    await this.#fanOut.close();
  }

  async #accept(): Promise<void> {
    try {
      for await (const conn of this.#listener) {
        this.#conns.add(conn);
        void this.#serve(conn).finally(() => {
          this.#conns.delete(conn);
          closeQuietly(conn);
        });
      }
    } catch (error) {
      if (!this.#closed) log.warn("store channel stopped accepting: {error}", { error });
    }
  }

  async #serve(conn: Deno.Conn): Promise<void> {
    const writer = new LineWriter(conn);
    const feeds = new Map<number, ServedFeed>();
    let nextFeed = 1;
    let greeted = false;
    const hello = setTimeout(() => {
      if (!greeted) closeQuietly(conn);
    }, HELLO_TIMEOUT_MS);
    const call = async (method: string, args: unknown[]): Promise<unknown> => {
      if (method === "watchElements") {
        const options = (args[0] ?? {}) as WatchOptions;
        const feed: ServedFeed = options.elementId !== undefined
          ? this.#fanOut.subscribe(options.elementId)
          : this.#store.watchElements(options);
        const id = nextFeed++;
        feeds.set(id, feed);
        return id;
      }
      if (method === "feedNext" || method === "feedClose") {
        const feed = feeds.get(Number(args[0]));
        if (feed === undefined) {
          return method === "feedNext" ? { done: true, value: undefined } : null;
        }
        if (method === "feedNext") {
          const result = await feed.next();
          if (result.done) feeds.delete(Number(args[0]));
          return result;
        }
        feeds.delete(Number(args[0]));
        await feed.close();
        return null;
      }
      if (!METHODS.has(method)) throw new StoreError("INPUT_INVALID", `Unknown method ${method}`);
      const fn = (this.#store as unknown as Record<string, (...a: unknown[]) => unknown>)[method]!;
      return await fn.apply(this.#store, args);
    };
    try {
      await readMessages(conn, (message) => {
        if (!greeted) {
          if (typeof message.hello !== "string" || !sameToken(message.hello, this.#token)) {
            log.warn("store channel: a connection without the right token was closed");
            closeQuietly(conn);
            return;
          }
          greeted = true;
          clearTimeout(hello);
          const store = this.#store;
          void writer.send({ hello: "ok", kind: store.kind, description: store.description })
            .catch(() => {});
          return;
        }
        const id = message.id;
        const method = message.call;
        const args = Array.isArray(message.args) ? message.args : [];
        if (typeof id !== "number" || typeof method !== "string") return;
        const answer = (reply: Record<string, unknown>) => {
          let line: string;
          try {
            line = JSON.stringify(reply);
          } catch (error) {
            line = JSON.stringify({ id, error: encodeError(error) satisfies WireError });
          }
          return writer.sendLine(line);
        };
        call(method, args).then(
          (value) => answer({ id, value: value ?? null }),
          (error) => answer({ id, error: encodeError(error) satisfies WireError }),
        ).catch(() => {
          // The connection is gone: the child sees it and retries or falls back.
        });
      });
    } catch (error) {
      if (!this.#closed) {
        log.warn("store channel connection dropped: {error}", { error: describeError(error) });
      }
    } finally {
      clearTimeout(hello);
      await Promise.all([...feeds.values()].map((feed) => feed.close().catch(() => {})));
    }
  }
}

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // Already closed.
  }
}

/**
 * One shared feed of all elements, fanned out to per-element subscriptions; or, `hinted`, the
 * changes of a feed read by someone else, told through {@link FanOut.hint}.
 */
class FanOut {
  readonly #store: Store;
  readonly #hinted: boolean;
  readonly #recheckMs: number;
  readonly #subs = new Map<string, Set<Subscription>>();
  #feed: ElementFeed | null = null;
  /** The feed's first scan was seen (a later one is a reconcile). */
  #scanned = false;

  constructor(store: Store, hinted: boolean, recheckMs: number) {
    this.#store = store;
    this.#hinted = hinted;
    this.#recheckMs = recheckMs;
  }

  /** One change of the shared feed. */
  hint(change: ElementChange): void {
    if (change.op === "synced") {
      // The first scan only tells each subscription to read its element again (it may have
      // changed between the subscription's own first read and the stream's start); a later
      // scan (after a stream error) is a reconcile for every subscription.
      const why = this.#scanned ? "reconcile" : "change";
      for (const set of this.#subs.values()) for (const sub of set) sub.poke(why);
      this.#scanned = true;
    } else {
      for (const sub of this.#subs.get(normalizeId(change.id)) ?? []) sub.poke("change");
    }
  }

  subscribe(elementId: string): Subscription {
    const key = normalizeId(elementId);
    const sub = new Subscription(this.#store, elementId, this.#recheckMs, () => {
      const set = this.#subs.get(key);
      set?.delete(sub);
      if (set?.size === 0) this.#subs.delete(key);
      if (this.#subs.size === 0) void this.#stopFeed();
    });
    let set = this.#subs.get(key);
    if (set === undefined) this.#subs.set(key, set = new Set());
    set.add(sub);
    if (this.#feed === null && !this.#hinted) this.#startFeed();
    return sub;
  }

  async close(): Promise<void> {
    const subs = [...this.#subs.values()].flatMap((set) => [...set]);
    await Promise.all(subs.map((sub) => sub.close()));
    await this.#stopFeed();
  }

  #startFeed(): void {
    const feed = this.#store.watchElements();
    this.#feed = feed;
    this.#scanned = false;
    void (async () => {
      try {
        for await (const change of feed) this.hint(change);
      } catch (error) {
        // The shared feed gave up (the store is unreachable): every child's feed fails, the
        // children retry, and the next subscription starts a new shared feed.
        const failure = error instanceof StoreError ? error : new StoreUnavailableError(
          `element feed failed: ${describeError(error)}`,
        );
        for (const set of this.#subs.values()) for (const sub of set) sub.fail(failure);
      } finally {
        if (this.#feed === feed) this.#feed = null;
      }
    })();
  }

  async #stopFeed(): Promise<void> {
    const feed = this.#feed;
    this.#feed = null;
    await feed?.close().catch(() => {});
  }
}

/** A mark of "a delete was delivered" (never a fingerprint). */
const DELETED = "\u0000deleted";

/** One child's feed of one element. */
class Subscription implements ServedFeed {
  readonly #store: Store;
  readonly #elementId: string;
  readonly #recheckMs: number;
  readonly #onClose: () => void;
  /** The element must be read: why (first read and rescans: reconcile). */
  #dirty: "reconcile" | "change" | null = "reconcile";
  #syncDue = true;
  #last: string | undefined;
  #error: Error | undefined;
  #closed = false;
  #wake: (() => void) | undefined;

  constructor(store: Store, elementId: string, recheckMs: number, onClose: () => void) {
    this.#store = store;
    this.#elementId = elementId;
    this.#recheckMs = recheckMs;
    this.#onClose = onClose;
  }

  /** The element changed (`change`) or everything was rescanned (`reconcile`). */
  poke(why: "reconcile" | "change"): void {
    this.#dirty = this.#dirty === "reconcile" ? "reconcile" : why;
    if (why === "reconcile") this.#syncDue = true;
    this.#wake?.();
  }

  fail(error: Error): void {
    this.#error ??= error;
    this.#wake?.();
  }

  async next(): Promise<IteratorResult<ElementChange, undefined>> {
    while (!this.#closed) {
      if (this.#error !== undefined) throw this.#error;
      const why = this.#dirty;
      if (why !== null) {
        this.#dirty = null;
        const change = this.#changeOf(await this.#store.getElement(this.#elementId), why);
        if (change !== null) return { done: false, value: change };
        continue;
      }
      if (this.#syncDue) {
        this.#syncDue = false;
        return { done: false, value: { op: "synced" } };
      }
      // Nothing told within the backstop interval: read the element again anyway (a rescan,
      // without a `synced`); the de-duplication drops it when nothing changed.
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
        timer = setTimeout(() => {
          this.#dirty ??= "reconcile";
          resolve();
        }, this.#recheckMs);
      });
      clearTimeout(timer);
      this.#wake = undefined;
    }
    return { done: true, value: undefined };
  }

  close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      this.#wake?.();
      this.#onClose();
    }
    return Promise.resolve();
  }

  #changeOf(parsed: ParsedElement | null, why: "reconcile" | "change"): ElementChange | null {
    if (parsed === null) {
      // Like the store's feeds: a delete is delivered once; a rescan reports only a delete of
      // an element it had delivered.
      if (this.#last === DELETED || (why === "reconcile" && this.#last === undefined)) return null;
      this.#last = DELETED;
      return { op: "delete", id: normalizeId(this.#elementId), source: why };
    }
    const print = parsed.valid
      ? fingerprint(parsed.element as unknown as Record<string, unknown>)
      : fingerprint(parsed as unknown as Record<string, unknown>);
    if (print === this.#last) return null;
    this.#last = print;
    return { op: "upsert", id: parsed.id, element: parsed, source: why };
  }
}
