/**
 * The live view on a terminal: one full frame from a {@link FleetState}, pure (state in, text
 * out) so a frame can be tested as golden text. Every line fits `width` columns (80 by default);
 * colours only when asked for.
 *
 * Per account: login, scenario, status, trading state, balance, equity, open positions/orders;
 * the day's P/L with a bar against the daily loss limit; the latest event. Below: the latest
 * breaches and actions of every account.
 *
 * @module
 */
import {
  clip,
  clockTime,
  fit,
  left,
  minutes,
  money,
  paint,
  right,
  signedMoney,
  type Tone,
} from "./_format.ts";
import type { AccountView, EventLine, FleetState } from "./state.ts";

/** Options of {@link renderFrame}. */
export interface FrameOptions {
  /** Columns (default 80). */
  width?: number;
  /** Rows (default 24): the list of latest actions takes what the accounts leave. */
  height?: number;
  /** ANSI colours (default off). */
  color?: boolean;
}

/** Cells of the daily-loss bar. */
export const BAR_CELLS = 20;

/** Renders one frame: `height` lines at most, none wider than `width`. */
export function renderFrame(state: FleetState, options: FrameOptions = {}): string[] {
  const width = options.width ?? 80;
  const height = options.height ?? 24;
  const color = options.color ?? false;
  const rule = paint("-".repeat(width), "dim", color);
  const elapsed = (state.now - state.startedAt) / 1000;
  const clock = state.durationS === undefined
    ? minutes(elapsed)
    : `${minutes(Math.min(elapsed, state.durationS))} / ${minutes(state.durationS)}`;
  const phase = state.phase === "running" ? "" : ` (${state.phase})`;
  const title = `riskguard demo: admin guards ${state.accounts.length} accounts${phase}`;
  const lines = [
    paint(left(title, width - clock.length - 1), "bold", color) + " " + clock,
    rule,
    paint(accountHeader(), "dim", color),
  ];
  for (const account of state.accounts) lines.push(...accountLines(account, width, color));
  lines.push(rule);
  const footer = [
    ...(state.dashboardUrl === undefined ? [] : [fit(`dashboard ${state.dashboardUrl}`, width)]),
    fit(`store ${state.storePath}`, width),
    fit(`logs  ${state.logPath}   Ctrl+C ends the demo`, width),
  ];
  const room = Math.max(1, height - lines.length - 1 - footer.length - 1);
  lines.push(paint("latest breaches and actions", "bold", color));
  const recent = state.recent.slice(-room);
  if (recent.length === 0) lines.push(paint("  none yet", "dim", color));
  for (const event of recent) lines.push(actionLine(event, width, color));
  lines.push(rule);
  lines.push(...footer.map((line) => paint(line, "dim", color)));
  // The account columns need 80; a narrower terminal loses their right end, never a line.
  return lines.map((line) => clip(line, width));
}

function accountHeader(): string {
  return left("login", 8) + left("scenario", 13) + left("status", 9) + left("trading", 11) +
    right("balance", 10) + right("equity", 11) + right("pos", 5) + right("ord", 5);
}

function accountLines(account: AccountView, width: number, color: boolean): string[] {
  const count = (value: number | null) => value === null ? "-" : String(value);
  const first = left(String(account.login), 8) + left(account.scenario, 13) +
    paint(left(account.status, 9), statusTone(account.status), color) +
    paint(left(account.trading, 11), tradingTone(account.trading), color) +
    right(money(account.balance), 10) + right(money(account.equity), 11) +
    right(count(account.positions), 5) + right(count(account.orders), 5);
  const indent = " ".repeat(8);
  let second: string;
  if (account.dailyPl === null) {
    second = indent + paint("waiting for the first figures from the risk process", "dim", color);
  } else {
    const used = account.dailyLossLimit === null || account.dailyLossLimit <= 0
      ? null
      : Math.max(0, -account.dailyPl) / account.dailyLossLimit;
    const tone: Tone = used === null ? "dim" : used >= 1 ? "red" : used >= 0.8 ? "yellow" : "green";
    const limit = account.dailyLossLimit === null
      ? "no daily loss limit"
      : `${right(String(Math.round((used ?? 0) * 100)), 3)}% of ${
        money(account.dailyLossLimit)
      } loss limit`;
    second = indent + "day P/L " + right(signedMoney(account.dailyPl), 9) + "  " +
      paint(bar(used ?? 0), tone, color) + " " + limit;
  }
  const last = account.lastEvent;
  const third = last === null ? indent + paint("no event yet", "dim", color) : indent +
    paint(fit(`${clockTime(last.at)} ${last.type}: ${last.message}`, width - 8), "dim", color);
  return [first, second, third];
}

/** `used` of the limit as a bar of {@link BAR_CELLS} cells (full from 100 %). */
export function bar(used: number): string {
  const filled = Math.min(BAR_CELLS, Math.round(Math.max(0, used) * BAR_CELLS));
  return "#".repeat(filled) + ".".repeat(BAR_CELLS - filled);
}

function actionLine(event: EventLine, width: number, color: boolean): string {
  const tone: Tone | undefined = event.type === "breach" || event.type === "lock" ||
      event.type === "error"
    ? "red"
    : event.type === "warning"
    ? "yellow"
    : event.type === "unlock" || event.type === "lifecycle"
    ? "green"
    : undefined;
  const head = `${clockTime(event.at)} ${event.login} ${left(event.type, 10)}`;
  const rule = event.rule === null ? "" : `[${event.rule}] `;
  return head + paint(fit(`${rule}${event.message}`, width - head.length), tone, color);
}

function statusTone(status: string): Tone | undefined {
  if (status === "ACTIVE") return "green";
  if (status === "ERROR" || status === "MISSING") return "red";
  return "yellow";
}

function tradingTone(trading: string): Tone | undefined {
  if (trading === "ALLOWED") return "green";
  if (trading.startsWith("LOCKED")) return "red";
  return undefined;
}
