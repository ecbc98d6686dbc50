/**
 * The account page: today's equity and balance curve (since the day's reset) against the limit
 * lines, the day's figures, the open positions and pending orders, the limits, the event
 * timeline and (with a token) the actions. The summary, the day and the positions are also
 * rendered alone for live updates, as is the timeline.
 *
 * Templates stay plain markup with simple `${value}` holes: conditions and lists are worked out
 * before them, so `deno fmt` keeps them readable.
 *
 * @module
 */
import type { EventRecord, ParsedElement } from "../store/mod.ts";
import { attrs, type Html, html } from "./_html.ts";
import { age, limit, money, percent, utcTime } from "./_format.ts";
import { dayInfo } from "./_day.ts";
import { layout } from "./_layout.ts";
import { tradesBlock } from "./_trades.ts";
import type { LimitLines } from "./limits.ts";
import type { FleetRow } from "./rows.ts";
import type { RowOptions } from "./fleet_page.ts";
import { redactValue } from "../shared/secrets.ts";

/** What the account page shows. */
export interface AccountView {
  /** The account's row (figures). */
  row: FleetRow;
  /** The element as stored (parsed). */
  element: ParsedElement;
  /** The limit lines. */
  lines: LimitLines;
  /** The latest events, oldest first. */
  events: readonly EventRecord[];
  /** Whether the dashboard accepts actions (a token is configured). */
  actions: boolean;
}

/** The whole account page. */
export function accountPage(view: AccountView, options: RowOptions): Html {
  const { row, element } = view;
  const title = `${row.login ?? row.id}${row.name === null ? "" : ` ${row.name}`}`;
  const body = html`
    <h1>Account ${title} <small>${row.server ?? ""}</small></h1>
    <section id="summary">${accountSummary(row, view.lines, options)}</section>
    <section class="chart-box">
      <h2>Today <small id="chart-range">${chartRange(element)}</small></h2>
      <div id="chart" class="chart" data-state="loading">loading the curve…</div>
    </section>
    <div class="columns">
      <section>
        <h2>Day</h2>
        <div id="day">${dayTable(element)}</div>
      </section>
      <section>
        <h2>Limits</h2>
        ${limitsTable(element, view.lines)}
      </section>
    </div>
    <section>
      <h2>Positions and orders</h2>
      <div id="trades">${accountTrades(element)}</div>
    </section>
    ${actionsBlock(view.actions)}
    <section>
      <h2>Events</h2>
      <div id="events">${eventTimeline(view.events)}</div>
    </section>
  `;
  const data = { id: row.id, "stale-ms": options.staleMs };
  return layout({ title, page: "account", chart: true, data }, body);
}

/** The figures block at the top of the account page. */
export function accountSummary(row: FleetRow, lines: LimitLines, options: RowOptions): Html {
  const locked = row.trading !== null && row.trading !== "ALLOWED";
  const pingAge = row.last_ping === null ? null : options.now - row.last_ping;
  const stale = pingAge !== null && pingAge > options.staleMs;
  const trading = row.trading ?? "none";
  const ping = attrs({ class: stale ? "ping stale" : "ping", "data-ping": row.last_ping ?? "" });
  const figures = [
    fig("Status", html`<span class="badge s-${row.status}">${row.status}</span>`),
    fig("Trading", html`<span class="badge t-${trading}">${row.trading ?? "–"}</span>`),
    fig("Equity", money(row.equity)),
    fig("Balance", money(row.balance)),
    fig("Day P/L", money(row.daily_pl), row.daily_pl !== null && row.daily_pl < 0 ? "neg" : ""),
    fig("Daily loss used", percent(row.daily_loss_used)),
    fig("Drawdown used", percent(row.drawdown_used)),
    fig("Positions", String(row.positions ?? "–")),
    fig("Pending orders", String(row.orders ?? "–")),
    fig("Host", row.host ?? "–"),
    fig("Terminal", row.instance_path ?? "–"),
    fig("Last ping", html`<span${ping}>${pingAge === null ? "never" : age(pingAge)}</span>`),
  ];
  const lockLine = locked ? html`<p class="lock-reason">${lockText(row)}</p>` : "";
  const invalid = row.invalid === null
    ? ""
    : html`<p class="error">Invalid configuration: ${row.invalid}</p>`;
  const lineData = attrs({
    "data-daily-loss-floor": lines.daily_loss_floor,
    "data-profit-target": lines.profit_target,
    "data-drawdown-floor": lines.drawdown_floor,
  });
  return html`
    <div class="figs${locked ? " locked" : ""}">${figures}</div>
    ${lockLine} ${invalid}
    <p class="hidden" id="lines" ${lineData}></p>
  `;
}

/** The day's figures: date, reset time in its zone, start and end, start figures, baseline. */
export function dayTable(parsed: ParsedElement): Html {
  if (!parsed.valid) return html`<p class="empty">–</p>`;
  const { day, daily } = parsed.element;
  const info = dayInfo(parsed.element);
  return kvTable([
    ["Date", day?.date ?? "– (no day stored yet)"],
    ["Day resets at", `${info.reset} ${info.zone}`],
    ["Day started", utcTime(info.starts_at)],
    ["Next reset", utcTime(info.ends_at)],
    ["Start balance", money(day?.start_balance)],
    ["Start equity", money(day?.start_equity)],
    [`Baseline (${daily.baseline})`, money(day?.baseline)],
    ["High equity today", money(day?.high_equity)],
  ]);
}

/** The open positions and pending orders of an account. */
export function accountTrades(parsed: ParsedElement): Html {
  return tradesBlock(parsed.valid ? parsed.element.metrics : null);
}

/** The event timeline, newest first. */
export function eventTimeline(events: readonly EventRecord[]): Html {
  if (events.length === 0) return html`<p class="empty">No events yet.</p>`;
  const items = [...events].reverse().map(eventItem);
  return html`<ol class="timeline">${items}</ol>`;
}

function eventItem(event: EventRecord): Html {
  const rule = event.rule === null ? "" : html`<code>${event.rule}</code>`;
  const hasDetail = Object.keys(event.detail).length > 0;
  const detail = hasDetail ? JSON.stringify(redactValue(event.detail), null, 2) : null;
  const details = detail === null ? "" : html`
    <details>
      <summary>details</summary>
      <pre>${detail}</pre>
    </details>
  `;
  return html`
    <li class="e-${event.type}">
      <time>${utcTime(event.at)}</time>
      <span class="badge e-${event.type}">${event.type}</span>
      ${rule} ${event.message} ${details}
    </li>
  `;
}

/** What the chart covers: since the day's reset, or the last 24 hours when that is unknown. */
function chartRange(parsed: ParsedElement): string {
  const startsAt = parsed.valid ? dayInfo(parsed.element).starts_at : null;
  return startsAt === null ? "last 24 hours" : `since the reset at ${utcTime(startsAt)}`;
}

function limitsTable(parsed: ParsedElement, lines: LimitLines): Html {
  if (!parsed.valid) return html`<p class="empty">–</p>`;
  const e = parsed.element;
  const drawdown = e.max_drawdown === undefined
    ? "–"
    : `${limit(e.max_drawdown.limit)} ${e.max_drawdown.mode}`;
  const hours = e.trading_hours === undefined
    ? "–"
    : `${e.trading_hours.start}–${e.trading_hours.end} (${e.trading_hours.timezone})`;
  const plugins = e.rules.length === 0 ? "–" : e.rules.map((rule) => rule.module).join(", ");
  return kvTable([
    ["Max daily loss", withLine(limit(e.max_daily_loss), lines.daily_loss_floor)],
    ["Max profit (day)", withLine(limit(e.max_profit), lines.profit_target)],
    ["Max drawdown", withLine(drawdown, lines.drawdown_floor)],
    ["Max position risk", limit(e.max_position_risk)],
    ["Max open positions", String(e.max_open_positions ?? "–")],
    ["Max total lots", String(e.max_total_lots ?? "–")],
    ["Max lots per symbol", String(e.max_lots_per_symbol ?? "–")],
    ["Warn at", percent(e.warn_at)],
    ["Stop loss required", e.require_stop_loss ? "yes" : "no"],
    ["Trading hours", hours],
    ["Plugin rules", plugins],
  ]);
}

/** A limit with the value of its line on the chart. */
function withLine(value: string, line: number | null): Html | string {
  if (line === null) return value;
  return html`${value} <small>(line at ${money(line)})</small>`;
}

const READ_ONLY = "Read-only: start the dashboard with RISKGUARD_DASHBOARD_TOKEN set to unlock, " +
  "disable or enable accounts here.";

function actionsBlock(actions: boolean): Html {
  if (!actions) {
    return html`
      <section class="actions">
        <h2>Actions</h2>
        <p class="empty">${READ_ONLY}</p>
      </section>
    `;
  }
  const reason = attrs({
    type: "text",
    name: "reason",
    maxlength: 500,
    placeholder: "required to unlock",
  });
  return html`
    <section class="actions">
      <h2>Actions</h2>
      <form id="actions" autocomplete="off">
        <label>Token <input type="password" name="token" required></label>
        <label>Your name <input type="text" name="by" maxlength="100"></label>
        <label>Reason <input${reason}></label>
        <button type="button" data-action="unlock">Unlock…</button>
        <button type="button" data-action="disable">Disable</button>
        <button type="button" data-action="enable">Enable</button>
        <output id="action-result"></output>
      </form>
    </section>
  `;
}

/** One figure of the summary: a label over a value. */
function fig(label: string, value: Html | string, cls = ""): Html {
  return html`<div class="fig ${cls}"><span>${label}</span><b>${value}</b></div>`;
}

/** `Locked until …: reason`. */
function lockText(row: FleetRow): string {
  const until = row.locked_until === null ? "" : ` until ${utcTime(row.locked_until)}`;
  return `Locked${until}: ${row.lock_reason ?? "no reason recorded"}`;
}

/** A two-column table of labels and values. */
function kvTable(rows: readonly (readonly [string, Html | string])[]): Html {
  const body = rows.map(([label, value]) =>
    html`
      <tr>
        <th>${label}</th>
        <td>${value}</td>
      </tr>
    `
  );
  return html`<table class="kv">${body}</table>`;
}
