/**
 * The fleet page: one row per account. Rows are rendered here, on the server, both for the
 * first paint and for every live update (the stream carries each changed row's markup), so
 * there is one renderer; the script only swaps rows, filters, sorts and ages the pings.
 *
 * @module
 */
import { type Html, html } from "./_html.ts";
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
  const body = html`
    <h1>Fleet <small id="count">${rows.length} accounts</small></h1>
    <div class="filters">
      <label>Host <select id="filter-host"><option value="">all</option>${hosts.map((host) =>
        html`<option>${host}</option>`
      )}</select></label>
      <label>Status <select id="filter-status"><option value="">all</option>${statuses.map((
        status,
      ) => html`<option>${status}</option>`)}</select></label>
    </div>
    <table id="fleet" class="fleet">
      <thead>
        <tr>${COLUMNS.map((name, i) =>
          html`<th data-col="${i}" title="sort by ${name}">${name}</th>`
        )}</tr>
      </thead>
      <tbody>
    ${rows.map((row) => fleetRowHtml(row, options))}
      </tbody>
    </table>
    ${rows.length === 0
      ? html`<p class="empty">No accounts yet: add one with <code>riskguard elements add</code>.</p>`
      : ""}
  `;
  return layout({ title: "Fleet", page: "fleet", data: { "stale-ms": options.staleMs } }, body);
}

/** One `<tr>` of the fleet table; every cell carries its sort value in `data-v`. */
export function fleetRowHtml(row: FleetRow, options: RowOptions): Html {
  const locked = row.trading !== null && row.trading !== "ALLOWED";
  const pingAge = row.last_ping === null ? null : options.now - row.last_ping;
  const stale = pingAge !== null && pingAge > options.staleMs;
  const classes = [locked ? "locked" : "", row.invalid !== null ? "invalid" : ""].join(" ").trim();
  const title = row.invalid ?? row.lock_reason ?? "";
  return html`
    <tr data-id="${row.id}" data-host="${row.host ?? ""}" data-status="${row
      .status}" ${classes === "" ? "" : html`
      class="${classes}"
    `}${title === "" ? "" : html`
      title="${title}"
    `}>
      <td data-v="${row.login ?? ""}"><a href="/accounts/${encodeURIComponent(
        row.id,
      )}">${row.login ?? row.id}</a>${row.name === null ? "" : html`
        <small>${row.name}</small>
      `}</td>
      <td data-v="${row.server ?? ""}">${row.server ?? "–"}</td>
      <td data-v="${row.host ?? ""}">${row.host ?? "–"}</td>
      <td data-v="${row.status}"><span class="badge s-${row.status}">${row.status}</span></td>
      <td data-v="${row.trading ?? ""}" class="trading"><span class="badge t-${row.trading ??
        "none"}">${row.trading ?? "–"}</span></td>
      <td data-v="${row.equity ?? ""}" class="num">${money(row.equity)}</td>
      <td data-v="${row.daily_pl ?? ""}" class="num">${dayBar(row)}</td>
      <td data-v="${row.drawdown_used ?? ""}" class="num">${percent(row.drawdown_used)}</td>
      <td data-v="${row.positions ?? ""}" class="num">${row.positions ?? "–"}${row.orders
        ? html`
          <small>+${row.orders} pending</small>
        `
        : ""}</td>
      <td data-v="${row.last_ping ?? 0}" data-ping="${row.last_ping ?? ""}" class="ping${stale
        ? " stale"
        : ""}">${pingAge === null ? "never" : age(pingAge)}</td>
      <td data-v="${row.last_event?.at ?? 0}" class="event">${row.last_event === null
        ? "–"
        : html`<span class="badge e-${row.last_event.type}">${row.last_event.type}</span> <span title="${
          utcTime(row.last_event.at)
        }">${row.last_event.message}</span>`}</td>
    </tr>
  `;
}

/** Day P/L with a bar of how much of the daily loss limit is used. */
function dayBar(row: FleetRow): Html {
  const pl = row.daily_pl;
  if (row.daily_loss_used === null || row.daily_loss_limit === null) {
    return html`<span class="${pl !== null && pl < 0 ? "neg" : ""}">${money(pl)}</span>`;
  }
  const used = Math.min(1, row.daily_loss_used);
  const level = used >= 1 ? "over" : used >= 0.8 ? "warn" : "ok";
  return html`
    <span class="${pl !== null && pl < 0 ? "neg" : ""}">${money(pl)}</span>
    <span class="bar"
      title="${percent(row.daily_loss_used)} of the daily loss limit ${money(
        row.daily_loss_limit,
      )}"><span class="fill ${level}" style="width:${(used * 100).toFixed(1)}%"></span></span>
  `;
}
