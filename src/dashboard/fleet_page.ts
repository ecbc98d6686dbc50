/**
 * The fleet page: one row per account. Rows are rendered here, on the server, both for the
 * first paint and for every live update (the stream carries each changed row's markup), so
 * there is one renderer; the script only swaps rows, filters, sorts and ages the pings.
 *
 * @module
 */
import { attrs, type Html, html } from "./_html.ts";
import { age, money, percent, utcTime } from "./_format.ts";
import { layout } from "./_layout.ts";
import type { FleetRow } from "./rows.ts";

/** Display options shared by the row renderers. */
export interface RowOptions {
  /** Current time, epoch ms (for ping ages). */
  now: number;
  /** A ping older than this is marked stale, ms. */
  staleMs: number;
}

const COLUMNS = [
  "Account",
  "Server",
  "Host",
  "Status",
  "Trading",
  "Equity",
  "Day P/L",
  "Drawdown used",
  "Positions",
  "Last ping",
  "Last event",
] as const;

/** The whole fleet page. */
export function fleetPage(rows: readonly FleetRow[], options: RowOptions): Html {
  const hosts = [...new Set(rows.flatMap((row) => row.host === null ? [] : [row.host]))].sort();
  const statuses = [...new Set(rows.map((row) => row.status))].sort();
  const hostOptions = hosts.map((host) => html`<option>${host}</option>`);
  const statusOptions = statuses.map((status) => html`<option>${status}</option>`);
  const head = COLUMNS.map((name, i) =>
    html`<th data-col="${i}" title="sort by ${name}">${name}</th>`
  );
  const body = rows.map((row) => fleetRowHtml(row, options));
  const empty = rows.length === 0 ? html`<p class="empty">${NO_ACCOUNTS}</p>` : "";
  const page = html`
    <h1>Fleet <small id="count">${rows.length} accounts</small></h1>
    <div class="filters">
      <label>Host <select id="filter-host"><option value="">all</option>${hostOptions}</select></label>
      <label>Status <select id="filter-status"><option value="">all</option>${statusOptions}</select></label>
    </div>
    <table id="fleet" class="fleet">
      <thead>
        <tr>${head}</tr>
      </thead>
      <tbody>${body}</tbody>
    </table>
    ${empty}
  `;
  return layout({ title: "Fleet", page: "fleet", data: { "stale-ms": options.staleMs } }, page);
}

const NO_ACCOUNTS = html`No accounts yet: add one with <code>riskguard elements add</code>.`;

/** One `<tr>` of the fleet table; every cell carries its sort value in `data-v`. */
export function fleetRowHtml(row: FleetRow, options: RowOptions): Html {
  const locked = row.trading !== null && row.trading !== "ALLOWED";
  const pingAge = row.last_ping === null ? null : options.now - row.last_ping;
  const stale = pingAge !== null && pingAge > options.staleMs;
  const classes = [locked ? "locked" : "", row.invalid !== null ? "invalid" : ""].join(" ").trim();
  const rowAttrs = attrs({
    "data-id": row.id,
    "data-host": row.host,
    "data-status": row.status,
    class: classes,
    title: row.invalid ?? row.lock_reason,
  });
  const href = `/accounts/${encodeURIComponent(row.id)}`;
  const name = row.name === null ? "" : html`<small>${row.name}</small>`;
  const trading = html`<span class="badge t-${row.trading ?? "none"}">${row.trading ?? "–"}</span>`;
  const pending = row.orders ? html`<small>+${row.orders} pending</small>` : "";
  const ping = attrs({
    "data-v": row.last_ping ?? 0,
    "data-ping": row.last_ping,
    class: stale ? "ping stale" : "ping",
  });
  return html`
    <tr${rowAttrs}>
      <td data-v="${row.login ?? ""}"><a href="${href}">${row.login ?? row.id}</a> ${name}</td>
      <td data-v="${row.server ?? ""}">${row.server ?? "–"}</td>
      <td data-v="${row.host ?? ""}">${row.host ?? "–"}</td>
      <td data-v="${row.status}"><span class="badge s-${row.status}">${row.status}</span></td>
      <td data-v="${row.trading ?? ""}" class="trading">${trading}</td>
      <td data-v="${row.equity ?? ""}" class="num">${money(row.equity)}</td>
      <td data-v="${row.daily_pl ?? ""}" class="num">${dayBar(row)}</td>
      <td data-v="${row.drawdown_used ?? ""}" class="num">${percent(row.drawdown_used)}</td>
      <td data-v="${row.positions ?? ""}" class="num">${row.positions ?? "–"} ${pending}</td>
      <td${ping}>${pingAge === null ? "never" : age(pingAge)}</td>
      <td data-v="${row.last_event?.at ?? 0}" class="event">${lastEvent(row.last_event)}</td>
    </tr>
  `;
}

/** The last event: its type as a badge and its message (with the time as a tooltip). */
function lastEvent(event: FleetRow["last_event"]): Html | string {
  if (event === null) return "–";
  const badge = html`<span class="badge e-${event.type}">${event.type}</span>`;
  return html`${badge} <span title="${utcTime(event.at)}">${event.message}</span>`;
}

/** Day P/L with a bar of how much of the daily loss limit is used. */
function dayBar(row: FleetRow): Html {
  const pl = row.daily_pl;
  const sign = attrs({ class: pl !== null && pl < 0 ? "neg" : null });
  const amount = html`<span${sign}>${money(pl)}</span>`;
  if (row.daily_loss_used === null || row.daily_loss_limit === null) return amount;
  const used = Math.min(1, row.daily_loss_used);
  const level = used >= 1 ? "over" : used >= 0.8 ? "warn" : "ok";
  const limit = money(row.daily_loss_limit);
  const title = `${percent(row.daily_loss_used)} of the daily loss limit ${limit}`;
  const fill = attrs({ class: `fill ${level}`, style: `width:${(used * 100).toFixed(1)}%` });
  return html`${amount} <span class="bar" title="${title}"><span${fill}></span></span>`;
}
