/**
 * The third `Store` adapter: a risk child started by admin reaches the store through admin
 * (`channel_server.ts`) over loopback TCP, instead of opening its own database client. It
 * forwards each call of the port and rebuilds the store's errors, so the rest of the child
 * (write queue, lease, live configuration) behaves exactly as with its own store. It loads no
 * database driver.
 *
 * When admin is gone (the connection drops or cannot be made) and a `fallback` is given, the
 * child goes on **directly with its own configuration**: every later call goes to the store
 * the fallback opens (with the child's own `--store`, which admin passes to its children
 * anyway), and so do the calls that were in flight when the connection dropped and are safe to
 * make twice (reads, pings, patches, samples, events, and taking a lease, which the store
 * answers the same when made again with the same take id: {@link SAFE_TO_REPEAT}), since not every
 * caller has a queue to retry them (a child still claiming its account when admin dies must not
 * exit over it). An event admin had already written before it died may so appear twice, as when
 * a store outage loses a reply and the write queue retries. The others (releasing a lease,
 * claiming an instance, inserting) fail as `STORE_UNAVAILABLE`: done twice, the second would be
 * refused for the first. The child stays on it until it ends; a restarted admin
 * adopts it as it is, and its next start is through admin again. Without a fallback (tests),
 * a later call connects to admin again.
 *
 * Element feeds are pulled one change at a time (`feedNext`), so their semantics are the
 * store's own; a feed whose connection dropped fails with `STORE_UNAVAILABLE` and, asked
 * again, reopens (through admin, or on the fallback store) and starts with a reconcile, like
 * a store feed after a stream error.
 *
 * @module
 */
import { StoreError, StoreUnavailableError } from "./errors.ts";
import { decodeError, LineWriter, readMessages, type WireError } from "./_channel_wire.ts";
import type { ElementChange, ElementFeed, Store, WatchOptions } from "./types.ts";
import { logger } from "../shared/logging.ts";

const log = logger("store", "channel");

/** The environment variable with admin's channel address (`127.0.0.1:port`) for a child. */
export const CHANNEL_ADDRESS_ENV = "RISKGUARD_STORE_CHANNEL";
/** The environment variable with the per-launch token of the channel. */
export const CHANNEL_TOKEN_ENV = "RISKGUARD_STORE_CHANNEL_TOKEN";

/** Options of {@link ChannelStore.connect}. */
export interface ChannelStoreOptions {
  /** Admin's channel, `127.0.0.1:<port>`. */
  address: string;
  /** The per-launch token admin gave this child. */
  token: string;
  /** Opens the store with the child's own configuration, for when admin is gone. */
  fallback?: () => Promise<Store>;
  /** Time to connect and be greeted, ms (default 5 000). */
  connectTimeoutMs?: number;
}

interface Pending {
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

/** One greeted connection to admin. */
class Connection {
  readonly kind: Store["kind"];
  readonly description: string;
  readonly #conn: Deno.Conn;
  readonly #writer: LineWriter;
  readonly #pending = new Map<number, Pending>();
  readonly closed: Promise<void>;
  #nextId = 1;
  #gone = false;

  private constructor(
    conn: Deno.Conn,
    writer: LineWriter,
    hello: Record<string, unknown>,
    rest: Promise<void>,
  ) {
    this.#conn = conn;
    this.#writer = writer;
    this.kind = hello.kind === "mongodb" ? "mongodb" : "sqlite";
    this.description = typeof hello.description === "string" ? hello.description : "admin";
    this.closed = rest.catch(() => {}).finally(() => this.#fail());
  }

  static async open(address: string, token: string, timeoutMs: number): Promise<Connection> {
    const [hostname, port] = splitAddress(address);
    const timer = AbortSignal.timeout(timeoutMs);
    let conn: Deno.Conn;
    try {
      conn = await Deno.connect({ hostname, port, signal: timer } as Deno.ConnectOptions);
    } catch (error) {
      throw new StoreUnavailableError(
        `Cannot reach admin's store channel at ${address}: ${(error as Error).message}`,
      );
    }
    const writer = new LineWriter(conn);
    let onHello: ((message: Record<string, unknown>) => void) | undefined;
    let connection: Connection | undefined;
    const greeted = new Promise<Record<string, unknown>>((resolve) => onHello = resolve);
    const reading = readMessages(conn, (message) => {
      if (connection === undefined) onHello?.(message);
      else connection.#onMessage(message);
    });
    try {
      await writer.send({ hello: token });
      const hello = await Promise.race([
        greeted,
        reading.then(() => Promise.reject(new Error("closed by admin (wrong token?)"))),
        new Promise<never>((_, reject) =>
          timer.addEventListener("abort", () => reject(new Error("no greeting in time")))
        ),
      ]);
      if (hello.hello !== "ok") throw new Error("refused by admin");
      connection = new Connection(conn, writer, hello, reading);
      return connection;
    } catch (error) {
      try {
        conn.close();
      } catch {
        // Already closed.
      }
      throw new StoreUnavailableError(
        `Admin's store channel at ${address} did not accept this child: ` +
          (error as Error).message,
      );
    }
  }

  get alive(): boolean {
    return !this.#gone;
  }

  call(method: string, args: unknown[]): Promise<unknown> {
    if (this.#gone) return Promise.reject(unreachable());
    const id = this.#nextId++;
    while (args.length > 0 && args[args.length - 1] === undefined) args.pop();
    let line: string;
    try {
      line = JSON.stringify({ id, call: method, args });
    } catch (error) {
      // What the store itself would refuse as bad input (a BigInt, a cycle).
      return Promise.reject(
        new StoreError("INPUT_INVALID", `Invalid input to ${method}: ${(error as Error).message}`),
      );
    }
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#writer.sendLine(line).catch(() => this.close());
    });
  }

  close(): void {
    try {
      this.#conn.close();
    } catch {
      // Already closed.
    }
    this.#fail();
  }

  #onMessage(message: Record<string, unknown>): void {
    const pending = this.#pending.get(Number(message.id));
    if (pending === undefined) return;
    this.#pending.delete(Number(message.id));
    if (message.error !== undefined) pending.reject(decodeError(message.error as WireError));
    else pending.resolve(message.value);
  }

  #fail(): void {
    this.#gone = true;
    for (const pending of this.#pending.values()) pending.reject(unreachable());
    this.#pending.clear();
  }
}

function unreachable(): StoreUnavailableError {
  return new StoreUnavailableError("Admin's store channel closed");
}

function splitAddress(address: string): [string, number] {
  const at = address.lastIndexOf(":");
  const port = Number(address.slice(at + 1));
  if (at <= 0 || !Number.isInteger(port) || port <= 0 || port > 65_535) {
    throw new StoreUnavailableError(`Bad store channel address ${JSON.stringify(address)}`);
  }
  return [address.slice(0, at), port];
}

/** The store through admin (see the module documentation). */
export class ChannelStore implements Store {
  readonly #options: ChannelStoreOptions;
  #connection: Connection | null;
  #connecting: Promise<Connection> | null = null;
  /** Set once admin is gone and a fallback exists: every call goes there from then on. */
  #direct: Promise<Store> | null = null;
  #directStore: Store | null = null;
  #closed = false;
  /** The store's description as admin last said it. */
  #described = "store through admin";
  readonly #feeds = new Set<ChannelFeed>();

  private constructor(options: ChannelStoreOptions, connection: Connection | null) {
    this.#options = options;
    this.#connection = connection;
    if (connection !== null) this.#watch(connection);
  }

  /**
   * Connects to admin's channel. When it cannot and a fallback is given, the store opens with
   * the fallback right away; without one, it throws `STORE_UNAVAILABLE`.
   */
  static async connect(options: ChannelStoreOptions): Promise<ChannelStore> {
    try {
      const connection = await Connection.open(
        options.address,
        options.token,
        options.connectTimeoutMs ?? 5_000,
      );
      return new ChannelStore(options, connection);
    } catch (error) {
      if (options.fallback === undefined) throw error;
      const store = new ChannelStore(options, null);
      store.#goDirect();
      await store.#directOrThrow();
      return store;
    }
  }

  /** True while calls go through admin (false once on the fallback store). */
  get throughAdmin(): boolean {
    return this.#direct === null;
  }

  /** The kind of the store behind admin (or of the fallback store). */
  get kind(): Store["kind"] {
    return this.#directStore?.kind ?? this.#connection?.kind ?? "sqlite";
  }

  /**
   * The store's own description (admin's store, or the fallback's), without credentials: the
   * same text as a direct client's, since folders are keyed on it (the state journal, the
   * control folder).
   */
  get description(): string {
    if (this.#directStore !== null) return this.#directStore.description;
    return this.#connection?.description ?? this.#described;
  }

  ensureIndexes(): Promise<void> {
    return this.#call("ensureIndexes", []) as Promise<void>;
  }

  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all([...this.#feeds].map((feed) => feed.close()));
    this.#connection?.close();
    this.#connection = null;
    const direct = this.#direct;
    if (direct !== null) await direct.then((store) => store.close(), () => {});
  }

  insertElement: Store["insertElement"] = (...args) => this.#call("insertElement", args) as never;
  getElement: Store["getElement"] = (...args) => this.#call("getElement", args) as never;
  listElements: Store["listElements"] = (...args) => this.#call("listElements", args) as never;
  setElementStatus: Store["setElementStatus"] = (...args) =>
    this.#call("setElementStatus", args) as never;
  configureElement: Store["configureElement"] = (...args) =>
    this.#call("configureElement", args) as never;
  removeElement: Store["removeElement"] = (...args) => this.#call("removeElement", args) as never;
  addInstance: Store["addInstance"] = (...args) => this.#call("addInstance", args) as never;
  getInstance: Store["getInstance"] = (...args) => this.#call("getInstance", args) as never;
  listInstances: Store["listInstances"] = (...args) => this.#call("listInstances", args) as never;
  removeInstance: Store["removeInstance"] = (...args) =>
    this.#call("removeInstance", args) as never;
  claimFreeInstance: Store["claimFreeInstance"] = (...args) =>
    this.#call("claimFreeInstance", args) as never;
  takeLease: Store["takeLease"] = (...args) => this.#call("takeLease", args) as never;
  ping: Store["ping"] = (...args) => this.#call("ping", args) as never;
  updateElement: Store["updateElement"] = (...args) => this.#call("updateElement", args) as never;
  release: Store["release"] = (...args) => this.#call("release", args) as never;
  reap: Store["reap"] = (...args) => this.#call("reap", args) as never;
  setInstanceUsable: Store["setInstanceUsable"] = (...args) =>
    this.#call("setInstanceUsable", args) as never;
  beatAgent: Store["beatAgent"] = (...args) => this.#call("beatAgent", args) as never;
  listAgents: Store["listAgents"] = (...args) => this.#call("listAgents", args) as never;
  appendSample: Store["appendSample"] = (...args) => this.#call("appendSample", args) as never;
  listSamples: Store["listSamples"] = (...args) => this.#call("listSamples", args) as never;
  pruneSamples: Store["pruneSamples"] = (...args) => this.#call("pruneSamples", args) as never;
  appendEvent: Store["appendEvent"] = (...args) => this.#call("appendEvent", args) as never;
  listEvents: Store["listEvents"] = (...args) => this.#call("listEvents", args) as never;

  watchElements(options: WatchOptions = {}): ElementFeed {
    const feed = new ChannelFeed(() => this.#route(), options, () => this.#feeds.delete(feed));
    this.#feeds.add(feed);
    return feed;
  }

  /** Where a call goes now: admin's connection, or the fallback store. */
  async #route(): Promise<Connection | Store> {
    if (this.#closed) throw new StoreUnavailableError("The store is closed");
    if (this.#direct !== null) return await this.#directOrThrow();
    if (this.#connection?.alive) return this.#connection;
    this.#connecting ??= Connection.open(
      this.#options.address,
      this.#options.token,
      this.#options.connectTimeoutMs ?? 5_000,
    ).finally(() => this.#connecting = null);
    const connection = await this.#connecting;
    this.#connection = connection;
    this.#watch(connection);
    return connection;
  }

  async #call(method: string, args: unknown[]): Promise<unknown> {
    const route = await this.#route();
    if (!(route instanceof Connection)) return await callDirect(route, method, args);
    try {
      return await route.call(method, [...args]);
    } catch (error) {
      const dropped = error instanceof StoreUnavailableError && !route.alive;
      if (!dropped || this.#closed || this.#options.fallback === undefined) throw error;
      if (!SAFE_TO_REPEAT.has(method)) {
        this.#goDirect();
        throw error;
      }
      // Admin went away with this call in flight: made again on the child's own store.
      this.#goDirect();
      return await callDirect(await this.#directOrThrow(), method, args);
    }
  }

  #watch(connection: Connection): void {
    this.#described = connection.description;
    void connection.closed.then(() => {
      if (this.#connection === connection) this.#connection = null;
      if (!this.#closed && this.#options.fallback !== undefined) this.#goDirect();
    });
  }

  #goDirect(): void {
    if (this.#direct !== null || this.#options.fallback === undefined) return;
    log.warn(
      "admin's store channel {address} is gone: this process goes on with its own store " +
        "(writes wait in its queue until that store is reachable)",
      { address: this.#options.address },
    );
    this.#direct = this.#openDirect();
    this.#direct.catch(() => {});
  }

  async #openDirect(): Promise<Store> {
    const store = await this.#options.fallback!();
    this.#directStore = store;
    return store;
  }

  /** The fallback store; a failed open is tried again by the next call. */
  async #directOrThrow(): Promise<Store> {
    try {
      return await this.#direct!;
    } catch (error) {
      this.#direct = this.#openDirect();
      this.#direct.catch(() => {});
      throw error instanceof StoreUnavailableError ? error : new StoreUnavailableError(
        `Cannot open the store directly: ${(error as Error).message}`,
      );
    }
  }
}

/** Calls that may be made again on the fallback store after admin died with them in flight. */
const SAFE_TO_REPEAT: ReadonlySet<string> = new Set([
  "ensureIndexes",
  "getElement",
  "listElements",
  "getInstance",
  "listInstances",
  "listAgents",
  "listSamples",
  "listEvents",
  "ping",
  // Made again with the same take id, it gets the lease the first call took (`repeatsTake`).
  "takeLease",
  "updateElement",
  "appendSample",
  "appendEvent",
  "beatAgent",
]);

/** Calls `method` of a store opened directly. */
function callDirect(store: Store, method: string, args: unknown[]): Promise<unknown> {
  const fn = (store as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>)[method]!;
  return fn.apply(store, args);
}

type Inner = { remote: Connection; id: number } | { direct: ElementFeed };

/** A feed through admin, reopened where calls go now after a failure. */
class ChannelFeed implements ElementFeed {
  readonly #route: () => Promise<Connection | Store>;
  readonly #options: WatchOptions;
  readonly #onClose: () => void;
  #inner: Promise<Inner> | null = null;
  #closed = false;

  constructor(
    route: () => Promise<Connection | Store>,
    options: WatchOptions,
    onClose: () => void,
  ) {
    this.#route = route;
    this.#options = options;
    this.#onClose = onClose;
  }

  async next(): Promise<IteratorResult<ElementChange, undefined>> {
    if (this.#closed) return { done: true, value: undefined };
    this.#inner ??= this.#open();
    const inner = this.#inner;
    try {
      const current = await inner;
      const result = "direct" in current
        ? await current.direct.next()
        : await current.remote.call("feedNext", [current.id]) as IteratorResult<
          ElementChange,
          undefined
        >;
      if (result.done) return { done: true, value: undefined };
      return result;
    } catch (error) {
      // Reopened (through admin or on the fallback store) by the next call.
      if (this.#inner === inner) this.#inner = null;
      void inner.then(async (current) => {
        if ("direct" in current) await current.direct.close();
      }, () => {});
      throw error;
    }
  }

  async return(): Promise<IteratorResult<ElementChange, undefined>> {
    await this.close();
    return { done: true, value: undefined };
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#onClose();
    const inner = this.#inner;
    this.#inner = null;
    if (inner === null) return;
    try {
      const current = await inner;
      if ("direct" in current) await current.direct.close();
      else if (current.remote.alive) await current.remote.call("feedClose", [current.id]);
    } catch {
      // Gone with its connection.
    }
  }

  async #open(): Promise<Inner> {
    const route = await this.#route();
    if (!(route instanceof Connection)) return { direct: route.watchElements(this.#options) };
    const id = await route.call("watchElements", [this.#options]) as number;
    return { remote: route, id };
  }
}
