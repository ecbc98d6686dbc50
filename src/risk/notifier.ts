/**
 * Webhook notifications: breach, lock, escalation and error events POSTed as JSON to
 * `RISKGUARD_WEBHOOK_URL`. Sending never blocks enforcement: {@link WebhookNotifier.notify}
 * only enqueues, a background loop delivers with retries and backoff, and a full queue drops
 * its oldest notification of the lowest level (counted).
 *
 * @module
 */
import type { Logger } from "../shared/logging.ts";
import { maskUriCredentials } from "../shared/secrets.ts";
import { describeError } from "../shared/errors.ts";
import { abortableSleep } from "../shared/async.ts";
import { exponentialBackoff } from "../shared/backoff.ts";

/** What is sent to the webhook, one JSON object per POST. */
export interface Notification {
  /** What happened. */
  kind: "breach" | "lock" | "unlock" | "escalation" | "warning" | "error" | "lifecycle";
  /** The element (account) concerned. */
  element_id: string;
  /** Severity for routing (chat channel, pager, ...). */
  level: "info" | "warning" | "critical";
  /** Human-readable summary. */
  message: string;
  /** Rule that caused it, if any. */
  rule?: string;
  /** ISO time at which it happened. */
  at: string;
  /** Extra structured data (never secrets). */
  detail?: Record<string, unknown>;
}

/** Options of {@link WebhookNotifier}. */
export interface WebhookOptions {
  /** Notifications kept while the webhook is slow or down; the oldest is dropped beyond. */
  maxQueue?: number;
  /** Attempts per notification, including the first. */
  attempts?: number;
  /** Delay before the first retry; doubles per retry. */
  backoffMs?: number;
  /** Timeout of one POST. */
  timeoutMs?: number;
  /** Logger for delivery failures. */
  log?: Logger | undefined;
  /** The fetch implementation (tests may wrap it). */
  fetch?: typeof fetch;
}

const LEVEL_RANK: Record<Notification["level"], number> = { info: 0, warning: 1, critical: 2 };

/** Only the origin of a webhook URL is logged: services such as Slack keep a secret in the path. */
function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return "(webhook)";
  }
}

/** Delivery counters. */
export interface WebhookStats {
  sent: number;
  failed: number;
  dropped: number;
}

/** Delivers notifications to one webhook URL in the background, in order. */
export class WebhookNotifier {
  readonly #url: string;
  readonly #maxQueue: number;
  readonly #attempts: number;
  readonly #backoffMs: number;
  readonly #timeoutMs: number;
  readonly #log: Logger | undefined;
  readonly #fetch: typeof fetch;
  readonly #queue: Notification[] = [];
  readonly #stats: WebhookStats = { sent: 0, failed: 0, dropped: 0 };
  #draining: Promise<void> | undefined;
  #closed = false;
  readonly #abort = new AbortController();

  /** Creates a notifier for `url` (http or https). */
  constructor(url: string, options: WebhookOptions = {}) {
    this.#url = url;
    this.#maxQueue = options.maxQueue ?? 100;
    this.#attempts = options.attempts ?? 5;
    this.#backoffMs = options.backoffMs ?? 1_000;
    this.#timeoutMs = options.timeoutMs ?? 5_000;
    this.#log = options.log;
    this.#fetch = options.fetch ?? fetch;
  }

  /** Delivery counters so far. */
  get stats(): Readonly<WebhookStats> {
    return { ...this.#stats };
  }

  /** Enqueues a notification and returns at once. */
  notify(notification: Notification): void {
    if (this.#closed) return;
    this.#queue.push(notification);
    if (this.#queue.length > this.#maxQueue) {
      this.#queue.splice(this.#victim(), 1);
      this.#stats.dropped++;
    }
    this.#draining ??= this.#drain().finally(() => {
      this.#draining = undefined;
    });
  }

  /**
   * The notification to drop when the queue is full: the oldest of the lowest level, so a flood
   * of warnings never pushes out a lock or an escalation. The head is skipped while it is being
   * delivered.
   */
  #victim(): number {
    const first = this.#draining === undefined ? 0 : 1;
    let victim = first;
    for (let i = first + 1; i < this.#queue.length; i++) {
      if (LEVEL_RANK[this.#queue[i]!.level] < LEVEL_RANK[this.#queue[victim]!.level]) victim = i;
    }
    return victim;
  }

  /** Waits until the queue is empty or `timeoutMs` passed, whichever comes first. */
  async flush(timeoutMs = 5_000): Promise<void> {
    if (this.#draining === undefined) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      this.#draining,
      new Promise<void>((resolve) => timer = setTimeout(resolve, timeoutMs)),
    ]);
    clearTimeout(timer);
  }

  /** Stops delivering; pending notifications are abandoned after a short flush. */
  async close(flushMs = 2_000): Promise<void> {
    await this.flush(flushMs);
    this.#closed = true;
    this.#abort.abort();
    await this.#draining?.catch(() => {});
  }

  async #drain(): Promise<void> {
    while (this.#queue.length > 0 && !this.#abort.signal.aborted) {
      const notification = this.#queue[0]!;
      const delivered = await this.#deliver(notification);
      // The head may have been dropped by an overflow while we were sending.
      if (this.#queue[0] === notification) this.#queue.shift();
      if (delivered) this.#stats.sent++;
      else this.#stats.failed++;
    }
  }

  async #deliver(notification: Notification): Promise<boolean> {
    const body = JSON.stringify(notification);
    for (let attempt = 1; attempt <= this.#attempts; attempt++) {
      let retryable = true;
      let problem = "";
      try {
        const response = await this.#fetch(this.#url, {
          method: "POST",
          headers: { "content-type": "application/json", "user-agent": "riskguard" },
          body,
          signal: AbortSignal.any([this.#abort.signal, AbortSignal.timeout(this.#timeoutMs)]),
        });
        await response.body?.cancel();
        if (response.ok) return true;
        problem = `HTTP ${response.status}`;
        retryable = response.status >= 500 || response.status === 429 || response.status === 408;
      } catch (error) {
        if (this.#abort.signal.aborted) return false;
        problem = describeError(error);
      }
      if (!retryable || attempt === this.#attempts) {
        this.#log?.warn(
          "webhook {url} rejected a notification after {attempt} attempt(s): {problem}",
          {
            url: originOf(this.#url),
            attempt,
            problem: maskUriCredentials(problem),
          },
        );
        return false;
      }
      const delay = exponentialBackoff(attempt - 1, { baseMs: this.#backoffMs, maxMs: Infinity });
      await abortableSleep(delay, this.#abort.signal);
    }
    return false;
  }
}
