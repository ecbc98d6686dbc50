/**
 * The open positions and pending orders of an account (folder-private), as the risk process
 * lists them with its metrics (`metrics.open_positions`, `metrics.pending_orders`).
 *
 * @module
 */
import type { ListedOrder, ListedPosition, Metrics } from "../store/mod.ts";
import { attrs, type Html, html } from "./_html.ts";
import { money, utcTime } from "./_format.ts";

/** The positions and the pending orders, each a table (or a line saying why there is none). */
export function tradesBlock(metrics: Metrics | null): Html {
  const asOf = metrics === null ? "" : `as of ${utcTime(metrics.updated_at)}`;
  const positions = tradeTable(
    metrics?.positions,
    metrics?.open_positions,
    POSITION_COLUMNS,
    positionRow,
  );
  const orders = tradeTable(metrics?.orders, metrics?.pending_orders, ORDER_COLUMNS, orderRow);
  return html`
    <div class="positions">
      <h3>Open positions <small>${asOf}</small></h3>
      ${positions}
    </div>
    <div class="orders">
      <h3>Pending orders</h3>
      ${orders}
    </div>
  `;
}

const POSITION_COLUMNS = [
  "Ticket",
  "Symbol",
  "Side",
  "Volume",
  "Open price",
  "SL",
  "TP",
  "Profit + swap",
];
const ORDER_COLUMNS = ["Ticket", "Symbol", "Type", "Volume", "Price", "SL", "TP"];

/** One table, or why it is empty; a truncated list says how many are shown. */
function tradeTable<T>(
  count: number | undefined,
  list: { items: T[]; truncated: boolean } | undefined,
  columns: readonly string[],
  row: (item: T) => Html,
): Html {
  if (count === undefined) return html`<p class="empty">No figures from the account yet.</p>`;
  if (count === 0) return html`<p class="empty">None.</p>`;
  if (list === undefined) return html`<p class="empty">${count} (not listed by this version).</p>`;
  const head = columns.map((name) => html`<th>${name}</th>`);
  const note = list.truncated
    ? html`<p class="note">The first ${list.items.length} of ${count} are shown.</p>`
    : "";
  return html`
    <table class="grid trades">
      <thead>
        <tr>${head}</tr>
      </thead>
      <tbody>${list.items.map(row)}</tbody>
    </table>
    ${note}
  `;
}

function positionRow(position: ListedPosition): Html {
  const profit = attrs({ class: position.profit < 0 ? "num neg" : "num" });
  return html`
    <tr>
      <td>${position.ticket}</td>
      <td>${position.symbol}</td>
      <td>${position.side}</td>
      <td class="num">${position.volume}</td>
      <td class="num">${position.open_price}</td>
      <td class="num">${price(position.sl)}</td>
      <td class="num">${price(position.tp)}</td>
      <td${profit}>${money(position.profit)}</td>
    </tr>
  `;
}

function orderRow(order: ListedOrder): Html {
  return html`
    <tr>
      <td>${order.ticket}</td>
      <td>${order.symbol}</td>
      <td>${order.type.replaceAll("_", " ")}</td>
      <td class="num">${order.volume}</td>
      <td class="num">${order.price}</td>
      <td class="num">${price(order.sl)}</td>
      <td class="num">${price(order.tp)}</td>
    </tr>
  `;
}

/** A stop or target price; 0 (MT5: none) as an en dash. */
function price(value: number): string {
  return value === 0 ? "–" : String(value);
}
