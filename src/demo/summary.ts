/**
 * The demo's closing summary, computed from the store alone: each account's element and its
 * recorded events. Per account: the breaches, how long from the breaching snapshot to flat
 * (the breach event to the event that confirms the close by a snapshot), the final loss against
 * the daily loss limit and by how much and why it overshot, and the events recorded.
 *
 * @module
 */
import { resolveLimit } from "../rules/helpers.ts";
import type { Element, EventRecord } from "../store/mod.ts";
import { money, signedMoney } from "./_format.ts";
import type { DemoAccount } from "./setup.ts";

/** One breach and what it led to. */
export interface BreachSummary {
  /** The rule. */
  rule: string;
  /** When the breaching snapshot was handled, epoch ms. */
  at: number;
  /** Why. */
  message: string;
  /** `lock` when it locked the account (and flattened it), `close` when it closed one ticket. */
  kind: "lock" | "close";
  /** The ticket closed (kind `close`). */
  ticket: number | null;
  /** Ms from the breaching snapshot to the snapshot that confirmed the close (`null`: never). */
  doneMs: number | null;
  /** The account's loss for the day at the breaching snapshot (locks with figures only). */
  lossAtBreach: number | null;
}

/** How far the final loss went past the daily loss limit, and where that came from. */
export interface Overshoot {
  /** Final loss minus the limit. */
  total: number;
  /** Already past the limit when the breaching snapshot arrived. */
  atBreach: number;
  /** Added after the breaching snapshot: the close (price moving until the fills, commission). */
  afterBreach: number;
}

/** The summary of one account. */
export interface AccountSummary {
  login: number;
  scenario: string;
  /** Trading state at the end. */
  trading: string;
  breaches: BreachSummary[];
  /** The day's P/L at the end (last figures written). */
  dailyPl: number | null;
  /** The daily loss limit in money. */
  dailyLossLimit: number | null;
  /** Set when the final loss passed the limit. */
  overshoot: Overshoot | null;
  /** Events recorded for the account. */
  events: number;
}

const CONFIRMED = /^(close_all|cancel_orders|close:(\d+)) confirmed by snapshot/;

/** Summarizes one account from its element and its events (oldest first). */
export function summarizeAccount(
  account: DemoAccount,
  element: Element | null,
  events: readonly EventRecord[],
): AccountSummary {
  const baseline = element?.day?.baseline ?? null;
  const limit = element?.max_daily_loss === undefined || baseline === null
    ? null
    : resolveLimit(element.max_daily_loss, baseline);
  const breaches: BreachSummary[] = [];
  for (const [index, event] of events.entries()) {
    if (event.type !== "breach") continue;
    const later = events.slice(index + 1);
    const lock = later.find((e) => e.type === "lock" && e.rule === event.rule);
    // A lock records its breach just before the lock event, from the same snapshot.
    const isLock = lock !== undefined && lock.at - event.at < 1_000 &&
      !later.slice(0, later.indexOf(lock)).some((e) => e.type === "breach");
    if (isLock) {
      const equity = typeof lock.detail.equity === "number" ? lock.detail.equity : null;
      breaches.push({
        rule: event.rule ?? "?",
        at: event.at,
        message: event.message,
        kind: "lock",
        ticket: null,
        doneMs: flatAfter(event.at, later),
        lossAtBreach: equity === null || baseline === null ? null : baseline - equity,
      });
      continue;
    }
    const ticket = typeof event.detail.ticket === "number" ? event.detail.ticket : null;
    const confirmed = ticket === null
      ? undefined
      : later.find((e) =>
        e.type === "lifecycle" && CONFIRMED.exec(e.message)?.[2] === String(ticket)
      );
    breaches.push({
      rule: event.rule ?? "?",
      at: event.at,
      message: event.message,
      kind: "close",
      ticket,
      doneMs: confirmed === undefined ? null : confirmed.at - event.at,
      lossAtBreach: null,
    });
  }
  const dailyPl = element?.metrics?.daily_pl ?? null;
  let overshoot: Overshoot | null = null;
  const lockBreach = breaches.find((b) => b.kind === "lock" && b.rule === "max_daily_loss");
  if (limit !== null && dailyPl !== null && -dailyPl > limit && lockBreach !== undefined) {
    const atBreach = Math.max(0, (lockBreach.lossAtBreach ?? limit) - limit);
    const total = -dailyPl - limit;
    overshoot = { total, atBreach, afterBreach: total - atBreach };
  }
  return {
    login: account.plan.login,
    scenario: account.plan.scenario,
    trading: element?.trading ?? "-",
    breaches,
    dailyPl,
    dailyLossLimit: limit,
    overshoot,
    events: events.length,
  };
}

/**
 * Ms from a lock's breach to flat: the later of the confirmations of `close_all` and
 * `cancel_orders` that follow it (those sent for the breach), or 0 when there was nothing to
 * close; `null` when a close was sent but never confirmed.
 */
function flatAfter(at: number, later: readonly EventRecord[]): number | null {
  const sent = new Set<string>();
  let done = at;
  for (const event of later) {
    if (event.type === "breach") break;
    if (event.type === "command") {
      const type = event.detail.type;
      if (type === "close_all" || type === "cancel_orders") sent.add(type);
    }
    const target = event.type === "lifecycle" ? CONFIRMED.exec(event.message)?.[1] : undefined;
    if (target !== undefined && sent.delete(target)) {
      done = Math.max(done, event.at);
      if (sent.size === 0) return done - at;
    }
  }
  return sent.size === 0 ? done - at : null;
}

/** The summary as text lines (no line breaks). */
export function summaryText(summary: AccountSummary): string[] {
  const head = `${summary.login} ${summary.scenario}:`;
  const pl = `day P/L ${signedMoney(summary.dailyPl)}` +
    (summary.dailyLossLimit === null ? "" : ` (daily loss limit ${money(summary.dailyLossLimit)})`);
  const lines: string[] = [];
  if (summary.breaches.length === 0) {
    lines.push(`${head} no breach, untouched; trading ${summary.trading}; ${pl}`);
  } else {
    const rules = [...new Set(summary.breaches.map((b) => b.rule))].join(", ");
    const count = summary.breaches.length;
    lines.push(
      `${head} ${count} breach${count === 1 ? "" : "es"} (${rules}); trading ` +
        `${summary.trading}; ${pl}`,
    );
  }
  for (const breach of summary.breaches) {
    const took = breach.doneMs === null ? null : `${Math.round(breach.doneMs)} ms`;
    if (breach.kind === "lock") {
      lines.push(
        took === null
          ? `  ${breach.rule}: locked; NOT flat yet when the demo ended`
          : `  ${breach.rule}: locked and flat ${took} after the breaching snapshot`,
      );
    } else {
      const what = breach.ticket === null ? "the position" : `position #${breach.ticket}`;
      lines.push(
        took === null
          ? `  ${breach.rule}: ${what} NOT closed yet when the demo ended`
          : `  ${breach.rule}: ${what} closed ${took} after the breaching snapshot; ` +
            `the account stays tradable`,
      );
    }
  }
  const over = summary.overshoot;
  if (over !== null && summary.dailyLossLimit !== null) {
    const loss = over.total + summary.dailyLossLimit;
    const percent = over.total / summary.dailyLossLimit * 100;
    lines.push(
      `  final loss ${money(loss)} against the limit ${money(summary.dailyLossLimit)}: ` +
        `overshoot ${money(over.total)} (${percent.toFixed(1)} %), of which`,
      `    ${money(over.atBreach)} already at the breaching snapshot (the loss grew between ` +
        `two snapshots)`,
      `    ${money(over.afterBreach)} after it (slippage: the price moved until the closing ` +
        `fills; commissions; trades tried while locked)`,
      `    spread is not extra: equity already values positions at the price they close at`,
    );
  }
  lines.push(`  ${summary.events} event${summary.events === 1 ? "" : "s"} recorded`);
  return lines;
}
