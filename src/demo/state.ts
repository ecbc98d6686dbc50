/**
 * What the demo shows, read from the store like `status` and the dashboard read it: each
 * account's element (status, trading, metrics, day) and its events. No private channel from the
 * risk processes: the store is the truth.
 *
 * @module
 */
import { resolveLimit } from "../rules/helpers.ts";
import type { Element, EventRecord, Store } from "../store/mod.ts";
import type { DemoAccount } from "./setup.ts";

/** One event as the views print it. */
export interface EventLine {
  /** Epoch ms. */
  at: number;
  /** The account's login. */
  login: number;
  /** Its scenario. */
  scenario: string;
  /** Event type (`breach`, `lock`, `command`, ...). */
  type: string;
  /** The rule behind it, if any. */
  rule: string | null;
  /** What happened. */
  message: string;
}

/** One account as the views show it. */
export interface AccountView {
  /** MT5 account number. */
  login: number;
  /** Simulator scenario. */
  scenario: string;
  /** Lifecycle status (`PENDING`, `ACTIVE`, ...). */
  status: string;
  /** Enforcement state (`ALLOWED`, `LOCKED_DAY`, `LOCKED`). */
  trading: string;
  /** Last figures (`null` before the first metrics write). */
  balance: number | null;
  equity: number | null;
  dailyPl: number | null;
  positions: number | null;
  orders: number | null;
  /** The daily loss limit in money (`null` without a limit or before the day starts). */
  dailyLossLimit: number | null;
  /** The account's latest event. */
  lastEvent: EventLine | null;
}

/** Everything one frame (or one table) shows. */
export interface FleetState {
  /** Now, epoch ms. */
  now: number;
  /** When the demo started, epoch ms. */
  startedAt: number;
  /** Planned duration, s (`undefined`: until Ctrl+C). */
  durationS: number | undefined;
  /** Admin's host name. */
  host: string;
  /** What the demo is doing: starting admin and adding accounts, running, or stopping. */
  phase: "starting" | "running" | "stopping";
  /** The accounts, in the demo's order. */
  accounts: AccountView[];
  /** Latest breaches and actions, oldest first. */
  recent: EventLine[];
  /** The store file and the log file. */
  storePath: string;
  logPath: string;
  /** The dashboard's address, when one is served. */
  dashboardUrl?: string;
}

/** Event types shown among the "latest breaches and actions". */
const ACTION_TYPES = new Set(["breach", "lock", "unlock", "command", "ack", "error", "warning"]);

/** True for an event worth a line among the latest breaches and actions. */
export function isActionEvent(event: { type: string; message: string }): boolean {
  // A confirmation ("close_all confirmed by snapshot") is the moment the action took effect.
  return ACTION_TYPES.has(event.type) ||
    (event.type === "lifecycle" && event.message.includes("confirmed by snapshot"));
}

/** An account's view from its element (or its placeholder when the element is missing). */
export function accountView(
  account: DemoAccount,
  element: Element | null,
  lastEvent: EventLine | null,
): AccountView {
  const metrics = element?.metrics ?? null;
  const baseline = element?.day?.baseline;
  const limit = element?.max_daily_loss;
  return {
    login: account.plan.login,
    scenario: account.plan.scenario,
    status: element?.status ?? "MISSING",
    trading: element?.trading ?? "-",
    balance: metrics?.balance ?? null,
    equity: metrics?.equity ?? null,
    dailyPl: metrics?.daily_pl ?? null,
    positions: metrics?.positions ?? null,
    orders: metrics?.orders ?? null,
    dailyLossLimit: limit === undefined || baseline === undefined
      ? null
      : resolveLimit(limit, baseline),
    lastEvent,
  };
}

/** The line of a stored event. */
export function eventLine(account: DemoAccount, event: EventRecord): EventLine {
  return {
    at: event.at,
    login: account.plan.login,
    scenario: account.plan.scenario,
    type: event.type,
    rule: event.rule,
    message: event.message,
  };
}

/**
 * Reads the accounts' events as they are appended: each {@link EventFeed.poll} returns the
 * events not returned before, oldest first, and keeps every account's latest one.
 */
export class EventFeed {
  #store: Store;
  #accounts: readonly DemoAccount[];
  #since = new Map<string, number>();
  #seen = new Map<string, Set<string>>();
  #last = new Map<string, EventLine>();
  #recent: EventLine[] = [];
  #keep: number;

  /** Follows the events of `accounts`; keeps the latest `keep` breaches and actions. */
  constructor(store: Store, accounts: readonly DemoAccount[], keep = 40) {
    this.#store = store;
    this.#accounts = accounts;
    this.#keep = keep;
  }

  /** Events appended since the last poll, oldest first. */
  async poll(): Promise<EventLine[]> {
    const fresh: EventLine[] = [];
    for (const account of this.#accounts) {
      const since = this.#since.get(account.id) ?? 0;
      const events = await this.#store.listEvents(account.id, { since, limit: 1_000 });
      const seen = this.#seen.get(account.id) ?? new Set<string>();
      // Events of the same millisecond may arrive across two polls: ids tell them apart.
      const atSince = new Set<string>();
      for (const event of events) {
        if (event.at === events.at(-1)!.at) atSince.add(event._id);
        if (seen.has(event._id)) continue;
        const line = eventLine(account, event);
        fresh.push(line);
        this.#last.set(account.id, line);
      }
      if (events.length > 0) {
        this.#since.set(account.id, events.at(-1)!.at);
        this.#seen.set(account.id, atSince);
      }
    }
    fresh.sort((a, b) => a.at - b.at);
    this.#recent.push(...fresh.filter(isActionEvent));
    this.#recent.splice(0, Math.max(0, this.#recent.length - this.#keep));
    return fresh;
  }

  /** The latest event of an account. */
  last(accountId: string): EventLine | null {
    return this.#last.get(accountId) ?? null;
  }

  /** The latest breaches and actions, oldest first. */
  get recent(): EventLine[] {
    return [...this.#recent];
  }
}

/** Reads every account's view from the store. */
export async function readAccounts(
  store: Store,
  accounts: readonly DemoAccount[],
  feed: EventFeed,
): Promise<AccountView[]> {
  const views: AccountView[] = [];
  for (const account of accounts) {
    const parsed = await store.getElement(account.id);
    views.push(accountView(account, parsed?.valid ? parsed.element : null, feed.last(account.id)));
  }
  return views;
}
