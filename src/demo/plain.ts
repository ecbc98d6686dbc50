/**
 * The demo's output when stdout is not a terminal (CI, a pipe, a file): one line per event as
 * it is recorded, and the accounts' table every 10 s. No colours, no cursor movement.
 *
 * @module
 */
import { clockTime, fit, left, money, right, signedMoney } from "./_format.ts";
import type { EventLine, FleetState } from "./state.ts";

/** Seconds between two tables. */
export const TABLE_EVERY_S = 10;

/** One event as a line (without the line break). */
export function eventText(event: EventLine): string {
  const rule = event.rule === null ? "" : ` [${event.rule}]`;
  return `${clockTime(event.at)} ${event.login} ${left(event.scenario, 12)} ` +
    `${left(event.type.toUpperCase(), 9)}${rule} ${event.message}`;
}

/** The accounts' table (lines without line breaks), with the time since the start. */
export function tableText(state: FleetState, width = 80): string[] {
  const elapsed = Math.round((state.now - state.startedAt) / 1000);
  const header = left("login", 8) + left("scenario", 13) + left("status", 9) +
    left("trading", 11) + right("equity", 10) + right("day P/L", 10) + right("limit", 8) +
    right("pos", 4) + right("ord", 4);
  const rows = state.accounts.map((account) => {
    const used = account.dailyPl === null || account.dailyLossLimit === null ||
        account.dailyLossLimit <= 0
      ? "-"
      : `${Math.round(Math.max(0, -account.dailyPl) / account.dailyLossLimit * 100)}%`;
    const count = (value: number | null) => value === null ? "-" : String(value);
    return left(String(account.login), 8) + left(account.scenario, 13) +
      left(account.status, 9) + left(account.trading, 11) + right(money(account.equity), 10) +
      right(signedMoney(account.dailyPl), 10) + right(used, 8) +
      right(count(account.positions), 4) + right(count(account.orders), 4);
  });
  return [`-- accounts after ${elapsed} s --`, header, ...rows].map((line) => fit(line, width));
}
