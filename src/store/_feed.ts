/**
 * The element change feed shared by both adapters (folder-private). An adapter provides a
 * {@link FeedSource} (open a stream at a position, wait for raw changes, scan, look up, persist
 * the position); this class adds the reconcile scans, de-duplication, token saving and recovery.
 *
 * The stream is only a hint: every change is answered with the document as read from the
 * database, and a change is delivered only when the element's fingerprint (the document without
 * `last_ping`, `metrics`, `updated_at`) differs from what this feed last delivered for it.
 *
 * @module
 */
import type { ElementChange, ElementFeed, WatchOptions } from "./types.ts";
import { agentStateSchema, parseElement } from "./schemas.ts";
import { normalizeId } from "./_ids.ts";
import { STORE_RETRY_BACKOFF } from "./_policy.ts";
import { StoreError, StoreUnavailableError } from "./errors.ts";
import { abortableSleep } from "../shared/async.ts";
import { exponentialBackoff } from "../shared/backoff.ts";
import { describeError } from "../shared/errors.ts";
import { logger } from "../shared/logging.ts";
import { maskUriCredentials } from "../shared/secrets.ts";

/**
 * Element fields that change on every ping; changes of only these are not fed. (The SQLite
 * triggers that record changes leave out the same fields.)
 */
export const VOLATILE_ELEMENT_FIELDS = ["last_ping", "metrics", "updated_at"] as const;

/** Logs feed warnings (stream errors, lost positions) without credentials. */
function logFeedWarning(message: string): void {
  logger("store", "feed").warn("{message}", { message: maskUriCredentials(message) });
}

/**
 * A feed over an adapter's `source` with the port's watch options, kept in `open` (the adapter's
 * open feeds, closed with the store) until it closes. Warnings are logged without credentials.
 */
export function openFeed(source: FeedSource, options: WatchOptions, open: Set<Feed>): Feed {
  const feed: Feed = new Feed(source, {
    resumeKey: options.resumeKey,
    elementId: options.elementId,
    maxRetries: options.maxRetries,
    onWarning: logFeedWarning,
  }, () => open.delete(feed));
  open.add(feed);
  return feed;
}

/** One change as seen by an adapter's stream. */
export interface RawChange {
  /** The stream position just after this change. */
  token: unknown;
  /**
   * `reconcile` when the change cannot be attributed to one element (scan everything); `skip`
   * when the adapter knows it touched only {@link VOLATILE_ELEMENT_FIELDS} (a ping: nothing to
   * read, nothing to deliver, its position counts as handled).
   */
  op: "change" | "delete" | "reconcile" | "skip";
  /** The element id, when known. */
  id?: string;
}

/** Raised by a source when its saved position is no longer available. */
export class HistoryLostError extends Error {
  /** Creates the error. */
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, options);
    this.name = "HistoryLostError";
  }
}

/** What an adapter provides to the feed. */
export interface FeedSource {
  /** Starts the stream just after `token`, or at the current end when `null`. */
  open(token: unknown): Promise<void>;
  /** The next raw change; `null` when the stream was closed by {@link FeedSource.stop}. */
  next(): Promise<RawChange | null>;
  /** Stops the stream (makes a pending `next` return `null`). */
  stop(): Promise<void>;
  /** Every element document (or the one with `elementId`), normalized. */
  scan(elementId: string | undefined): Promise<Record<string, unknown>[]>;
  /** The current document of one element, or `null`. */
  lookup(id: string): Promise<Record<string, unknown> | null>;
  /** The `agent_state` document of `key` as stored, or `null`. */
  loadState(key: string): Promise<Record<string, unknown> | null>;
  /**
   * Saves (`null`: forgets) the position of `key` in its `agent_state` document (`resume_token`
   * and `updated_at`), keeping the document's other fields (the admin's heartbeat).
   */
  saveToken(key: string, token: unknown): Promise<void>;
}

/** Options of {@link Feed}. */
export interface FeedOptions {
  resumeKey?: string | undefined;
  elementId?: string | undefined;
  maxRetries?: number | undefined;
  /** Called on recoverable stream errors (for logs). */
  onWarning?: ((message: string) => void) | undefined;
}

const SKIP_SAVE_INTERVAL_MS = 1_000;
/** The `#known` mark of an element whose delete was delivered (never a fingerprint). */
const DELETED = "\u0000deleted";
/** Rescans asked for by the stream (changes without an id) are spaced at least this much. */
const RECONCILE_GAP_MS = 1_000;
/**
 * A failure this long after the previous one starts a new count: the stream was healthy in
 * between (an idle feed handles no change that could reset the count).
 */
const FAILURE_WINDOW_MS = 5 * 60_000;

/** The change feed. */
export class Feed implements ElementFeed {
  #source: FeedSource;
  #options: FeedOptions;
  /** Per element id: the fingerprint last delivered, or {@link DELETED} once a delete was. */
  #known = new Map<string, string>();
  #queue: { change: ElementChange; token: unknown; hasToken: boolean }[] = [];
  #started = false;
  #closed = false;
  #abort = new AbortController();
  #handledToken: unknown = undefined;
  #savedToken: unknown = undefined;
  #lastSaveAt = 0;
  #busy: Promise<unknown> = Promise.resolve();
  #inflight: Promise<RawChange | null> | null = null;
  #reconcileDue = false;
  #lastReconcileAt = 0;
  /** Stream failures in a row, kept across `next()` calls; reset once a change is handled. */
  #failures = 0;
  #lastFailureAt = 0;
  #onClose: () => void;

  /** Creates a feed over `source`; `onClose` runs once when it closes. */
  constructor(source: FeedSource, options: FeedOptions, onClose: () => void = () => {}) {
    this.#source = source;
    this.#options = options;
    this.#onClose = onClose;
  }

  /** The next change. Calls are serialized. */
  next(): Promise<IteratorResult<ElementChange, undefined>> {
    const run = this.#busy.then(() => this.#next());
    this.#busy = run.catch(() => {});
    return run;
  }

  /** Ends iteration (a `break` in `for await`): saves the handled position and closes. */
  async return(): Promise<IteratorResult<ElementChange, undefined>> {
    await this.close();
    return { done: true, value: undefined };
  }

  /** Returns this feed. */
  [Symbol.asyncIterator](): this {
    return this;
  }

  /** Saves the handled position and stops the stream. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#abort.abort();
    await this.#source.stop().catch(() => {});
    await this.#busy;
    await this.#save(true).catch(() => {});
    this.#onClose();
  }

  async #next(): Promise<IteratorResult<ElementChange, undefined>> {
    if (this.#closed) return { done: true, value: undefined };
    // A failed save is not fatal: the position is saved with a later change, and a restart
    // reconciles anyway.
    await this.#save(true).catch((error) =>
      this.#options.onWarning?.(`cannot save the feed position: ${describeError(error)}`)
    );
    while (!this.#closed) {
      const queued = this.#queue.shift();
      if (queued !== undefined) {
        if (queued.hasToken) this.#handledToken = queued.token;
        return { done: false, value: queued.change };
      }
      try {
        if (!this.#started) {
          await this.#start();
          continue;
        }
        const raw = await this.#pull();
        if (raw === "due") {
          await this.#reconcile();
          continue;
        }
        if (raw === null) break;
        await this.#handle(raw);
        this.#failures = 0;
      } catch (error) {
        if (this.#closed) break;
        const now = Date.now();
        if (now - this.#lastFailureAt > FAILURE_WINDOW_MS) this.#failures = 0;
        this.#lastFailureAt = now;
        const failures = ++this.#failures;
        const max = this.#options.maxRetries ?? 8;
        if (error instanceof StoreError && error.code !== "STORE_UNAVAILABLE") throw error;
        if (failures > max) {
          throw error instanceof StoreUnavailableError ? error : new StoreUnavailableError(
            `Element change feed failed ${failures} times in a row: ${describeError(error)}`,
            { cause: error },
          );
        }
        this.#options.onWarning?.(`element feed error, reopening: ${describeError(error)}`);
        if (error instanceof HistoryLostError) {
          this.#handledToken = null;
          this.#savedToken = undefined;
        }
        await this.#source.stop().catch(() => {});
        this.#inflight = null;
        this.#started = false;
        await abortableSleep(
          exponentialBackoff(failures - 1, STORE_RETRY_BACKOFF),
          this.#abort.signal,
        );
      }
    }
    return { done: true, value: undefined };
  }

  /** Opens the stream (resuming when possible), then reconciles. */
  async #start(): Promise<void> {
    let token: unknown = null;
    if (this.#handledToken !== undefined) token = this.#handledToken;
    else if (this.#options.resumeKey !== undefined) {
      token = this.#resumeToken(await this.#source.loadState(this.#options.resumeKey));
    }
    try {
      await this.#source.open(token);
    } catch (error) {
      if (!(error instanceof HistoryLostError)) throw error;
      this.#options.onWarning?.(`resume position lost, starting from now: ${error.message}`);
      this.#handledToken = null;
      this.#savedToken = undefined;
      if (this.#options.resumeKey !== undefined) {
        await this.#source.saveToken(this.#options.resumeKey, null);
      }
      await this.#source.open(null);
    }
    this.#started = true;
    await this.#reconcile();
  }

  /**
   * The saved position in an `agent_state` document, validated by its schema: a document
   * written invalid by others is ignored (logged), and the feed starts with a full reconcile.
   */
  #resumeToken(doc: Record<string, unknown> | null): unknown {
    if (doc === null) return null;
    const parsed = agentStateSchema.parse(doc);
    if (!parsed.ok) {
      const [first] = parsed.issues;
      this.#options.onWarning?.(
        `agent_state ${String(doc._id)} is invalid (${
          first === undefined ? "invalid" : `${first.field} ${first.reason}`
        }): starting from a full reconcile`,
      );
      return null;
    }
    return parsed.value.resume_token ?? null;
  }

  /**
   * The next raw change. While a rescan is due (asked for by the stream, but throttled), waits
   * at most until it may run and then returns "due", keeping the pending read for later.
   */
  async #pull(): Promise<RawChange | null | "due"> {
    if (this.#inflight === null) {
      const inflight = this.#source.next();
      inflight.catch(() => {}); // awaited below or by a later call
      this.#inflight = inflight;
    }
    const inflight = this.#inflight;
    if (this.#reconcileDue) {
      const wait = Math.max(0, this.#lastReconcileAt + RECONCILE_GAP_MS - Date.now());
      const timer = new AbortController();
      const onClose = () => timer.abort();
      this.#abort.signal.addEventListener("abort", onClose, { once: true });
      const due = abortableSleep(wait, timer.signal).then(() => "due" as const);
      try {
        const first = await Promise.race([inflight, due]);
        if (first === "due") return "due";
      } finally {
        timer.abort();
        this.#abort.signal.removeEventListener("abort", onClose);
      }
    }
    this.#inflight = null;
    return await inflight;
  }

  async #reconcile(): Promise<void> {
    this.#reconcileDue = false;
    this.#lastReconcileAt = Date.now();
    const docs = await this.#source.scan(this.#options.elementId);
    const seen = new Set<string>();
    for (const doc of docs) {
      const id = String(doc._id);
      seen.add(id);
      this.#offer(id, doc, "reconcile", undefined, false);
    }
    for (const [id, print] of [...this.#known]) {
      if (seen.has(id) || print === DELETED) continue;
      this.#known.set(id, DELETED);
      this.#queue.push({
        change: { op: "delete", id, source: "reconcile" },
        token: undefined,
        hasToken: false,
      });
    }
    this.#queue.push({ change: { op: "synced" }, token: undefined, hasToken: false });
  }

  async #handle(raw: RawChange): Promise<void> {
    const wanted = this.#options.elementId;
    if (raw.op === "skip") {
      this.#markSkipped(raw.token);
      return;
    }
    if (raw.op === "reconcile" || raw.id === undefined) {
      if (Date.now() - this.#lastReconcileAt >= RECONCILE_GAP_MS) await this.#reconcile();
      else this.#reconcileDue = true;
      this.#markSkipped(raw.token);
      return;
    }
    if (wanted !== undefined && normalizeId(raw.id) !== normalizeId(wanted)) {
      this.#markSkipped(raw.token);
      return;
    }
    const doc = await this.#source.lookup(raw.id);
    if (doc === null) {
      // A delete is delivered once per element, also when this feed never delivered the element
      // (it was deleted while a resumed watcher was down; its consumer may still know it).
      if (this.#known.get(raw.id) !== DELETED) {
        this.#known.set(raw.id, DELETED);
        this.#queue.push({
          change: { op: "delete", id: raw.id, source: "change" },
          token: raw.token,
          hasToken: true,
        });
      } else this.#markSkipped(raw.token);
      return;
    }
    if (!this.#offer(raw.id, doc, "change", raw.token, true)) this.#markSkipped(raw.token);
  }

  /** Queues an upsert unless its fingerprint was already delivered; true when queued. */
  #offer(
    id: string,
    doc: Record<string, unknown>,
    source: "reconcile" | "change",
    token: unknown,
    hasToken: boolean,
  ): boolean {
    const print = fingerprint(doc);
    if (this.#known.get(id) === print) return false;
    this.#known.set(id, print);
    this.#queue.push({
      change: { op: "upsert", id, element: parseElement(doc), source },
      token,
      hasToken,
    });
    return true;
  }

  /** A change that needs no handling: its position counts as handled once nothing is queued. */
  #markSkipped(token: unknown): void {
    if (this.#queue.length === 0) {
      this.#handledToken = token;
      if (Date.now() - this.#lastSaveAt >= SKIP_SAVE_INTERVAL_MS) {
        void this.#save(false).catch(() => {});
      }
    }
  }

  async #save(force: boolean): Promise<void> {
    const key = this.#options.resumeKey;
    if (key === undefined || this.#handledToken === undefined) return;
    if (this.#handledToken === this.#savedToken) return;
    if (!force && Date.now() - this.#lastSaveAt < SKIP_SAVE_INTERVAL_MS) return;
    const token = this.#handledToken;
    this.#lastSaveAt = Date.now();
    await this.#source.saveToken(key, token);
    this.#savedToken = token;
  }
}

/** A stable text of a document without its volatile fields, to tell real changes apart. */
export function fingerprint(doc: Record<string, unknown>): string {
  const copy: Record<string, unknown> = { ...doc };
  for (const field of VOLATILE_ELEMENT_FIELDS) delete copy[field];
  return stableStringify(copy);
}

function stableStringify(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableStringify).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const keys = Object.keys(value).sort();
    return `{${
      keys.map((key) =>
        `${JSON.stringify(key)}:${stableStringify((value as Record<string, unknown>)[key])}`
      ).join(",")
    }}`;
  }
  return JSON.stringify(value) ?? "null";
}
