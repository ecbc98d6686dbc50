/**
 * The account page: today's equity and balance curve against the limit lines, the day's
 * figures, the limits, the event timeline and (with a token) the actions. The summary block and
 * the timeline are also rendered alone for live updates.
 *
 * @module
 */
import type { EventRecord, ParsedElement } from "../store/mod.ts";
import { type Html, html } from "./_html.ts";
import { age, limit, money, percent, utcTime } from "./_format.ts";
import { layout } from "./_layout.ts";
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
  const { row } = view;
  const title = `${row.login ?? row.id}${row.name === null ? "" : ` ${row.name}`}`;
  const body = html`
    <h1>Account ${title} <small>${row.server ?? ""}</small></h1>
    <section id="summary">${accountSummary(row, view.lines, options)}</section>
    <section class="chart-box">
      <h2>Today</h2>
      <div id="chart" class="chart" data-state="loading">loading the curve…</div>
    </section>
    <div class="columns">
      <section><h2>Day</h2>${dayTable(view.element)}</section>
      <section><h2>Limits</h2>${limitsTable(view.element, view.lines)}</section>
    </div>
    ${actionsBlock(view)}
    <section>
      <h2>Events</h2>
      <div id="events">${eventTimeline(view.events)}</div>
    </section>
  `;
  return layout({
    title,
    page: "account",
    chart: true,
    data: { id: row.id, "stale-ms": options.staleMs },
  }, body);
}

/** The figures block at the top of the account page. */
export function accountSummary(row: FleetRow, lines: LimitLines, options: RowOptions): Html {
  const locked = row.trading !== null && row.trading !== "ALLOWED";
  const pingAge = row.last_ping === null ? null : options.now - row.last_ping;
  const fig = (label: string, value: Html | string, cls = "") =>
    html`<div class="fig ${cls}"><span>${label}</span><b>${value}</b></div>`;
  return html`
    <div class="figs${locked ? " locked" : ""}">
    ${fig("Status", html`<span class="badge s-${row.status}">${row.status}</span>`)}
    ${fig(
      "Trading",
      html`<span class="badge t-${row.trading ?? "none"}">${row.trading ?? "–"}</span>`,
    )}
    ${fig("Equity", money(row.equity))}
    ${fig("Balance", money(row.balance))}
    ${fig("Day P/L", money(row.daily_pl), row.daily_pl !== null && row.daily_pl < 0 ? "neg" : "")}
    ${fig("Daily loss used", percent(row.daily_loss_used))}
    ${fig("Drawdown used", percent(row.drawdown_used))}
    ${fig("Positions", String(row.positions ?? "–"))}
    ${fig("Pending orders", String(row.orders ?? "–"))}
    ${fig("Host", row.host ?? "–")}
    ${fig("Terminal", row.instance_path ?? "–")}
    ${fig(
      "Last ping",
      html`<span class="ping${
        pingAge !== null && pingAge > options.staleMs ? " stale" : ""
      }" data-ping="${row.last_ping ?? ""}">${pingAge === null ? "never" : age(pingAge)}</span>`,
    )}
    </div>
    ${locked
      ? html`<p class="lock-reason">Locked${
        row.locked_until === null ? "" : html`
          until ${utcTime(row.locked_until)}
        `
      }: ${row.lock_reason ?? "no reason recorded"}</p>`
      : ""}
    ${row.invalid === null ? "" : html`<p class="error">Invalid configuration: ${row.invalid}</p>`}
    <p class="hidden" id="lines" data-daily-loss-floor="${lines.daily_loss_floor ??
      ""}" data-profit-target="${lines.profit_target ?? ""}"
      data-drawdown-floor="${lines.drawdown_floor ?? ""}"></p>
  `;
}

/** The event timeline, newest first. */
export function eventTimeline(events: readonly EventRecord[]): Html {
  if (events.length === 0) return html`<p class="empty">No events yet.</p>`;
  return html`<ol class="timeline">${
    [...events].reverse().map((event) =>
      html`
        <li
          class="e-${event.type}"><time>${utcTime(event.at)}</time> <span class="badge e-${event
            .type}">${event.type}</span>${event.rule === null ? "" : html`
            <code>${event.rule}</code>
          `} ${event.message}${Object.keys(event.detail).length === 0 ? "" : html`
            <details>
              <summary>details</summary>
              <pre>${JSON.stringify(redactValue(event.detail), null, 2)}</pre>
            </details>
          `}</li>
      `
    )
  }</ol>`;
}

function dayTable(parsed: ParsedElement): Html {
  if (!parsed.valid) return html`<p class="empty">–</p>`;
  const { day, daily } = parsed.element;
  const zone = daily.timezone === "server" ? "broker server time" : daily.timezone;
  return html`
    <table class="kv">
      <tr>
        <th>Date</th>
        <td>${day?.date ?? "–"}</td>
      </tr>
      <tr>
        <th>Start balance</th>
        <td>${money(day?.start_balance)}</td>
      </tr>
      <tr>
        <th>Start equity</th>
        <td>${money(day?.start_equity)}</td>
      </tr>
      <tr>
        <th>Baseline (${daily.baseline})</th>
        <td>${money(day?.baseline)}</td>
      </tr>
      <tr>
        <th>High equity today</th>
        <td>${money(day?.high_equity)}</td>
      </tr>
      <tr>
        <th>Day resets at</th>
        <td>${daily.reset} (${zone})</td>
      </tr>
    </table>
  `;
}

function limitsTable(parsed: ParsedElement, lines: LimitLines): Html {
  if (!parsed.valid) return html`<p class="empty">–</p>`;
  const e = parsed.element;
  const rowOf = (label: string, value: string, line?: number | null) =>
    html`
      <tr>
        <th>${label}</th>
        <td>${value}${line === undefined || line === null ? "" : html`
          <small>(line at ${money(line)})</small>
        `}</td>
      </tr>
    `;
  return html`<table class="kv">
${rowOf("Max daily loss", limit(e.max_daily_loss), lines.daily_loss_floor)}
${rowOf("Max profit (day)", limit(e.max_profit), lines.profit_target)}
${
    rowOf(
      "Max drawdown",
      e.max_drawdown === undefined ? "–" : `${limit(e.max_drawdown.limit)} ${e.max_drawdown.mode}`,
      lines.drawdown_floor,
    )
  }
${rowOf("Max position risk", limit(e.max_position_risk))}
${rowOf("Max open positions", String(e.max_open_positions ?? "–"))}
${rowOf("Max total lots", String(e.max_total_lots ?? "–"))}
${rowOf("Max lots per symbol", String(e.max_lots_per_symbol ?? "–"))}
${rowOf("Warn at", percent(e.warn_at))}
${rowOf("Stop loss required", e.require_stop_loss ? "yes" : "no")}
${
    rowOf(
      "Trading hours",
      e.trading_hours === undefined
        ? "–"
        : `${e.trading_hours.start}–${e.trading_hours.end} (${e.trading_hours.timezone})`,
    )
  }
${rowOf("Plugin rules", e.rules.length === 0 ? "–" : e.rules.map((rule) => rule.module).join(", "))}
</table>`;
}

function actionsBlock(view: AccountView): Html {
  if (!view.actions) {
    return html`
      <section class="actions">
        <h2>Actions</h2>
        <p
          class="empty">Read-only: start the dashboard with <code>RISKGUARD_DASHBOARD_TOKEN</code> set to unlock, disable or enable accounts here.</p>
      </section>
    `;
  }
  return html`
    <section class="actions">
      <h2>Actions</h2>
      <form id="actions" autocomplete="off">
        <label>Token <input type="password" name="token" required></label>
        <label>Your name <input type="text" name="by" maxlength="100"></label>
        <label>Reason <input type="text" name="reason" maxlength="500" placeholder="required to unlock"></label>
        <button type="button" data-action="unlock">Unlock…</button>
        <button type="button" data-action="disable">Disable</button>
        <button type="button" data-action="enable">Enable</button>
        <output id="action-result"></output>
      </form>
    </section>
  `;
}
