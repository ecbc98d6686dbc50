/**
 * One fleet row per element: the figures the fleet page shows, built from the element, its
 * instance and its last event. Rows are built field by field (never by spreading a document),
 * so a password or any other field not listed here can never reach the browser.
 *
 * @module
 */
import type { EventRecord, Instance, ParsedElement } from "../store/mod.ts";
import { limitLines } from "./limits.ts";

/** The last event of an element, as shown in its row. */
export interface RowEvent {
  /** Event type (`breach`, `lock`, ...). */
  type: string;
  /** Its message. */
  message: string;
  /** When, epoch ms. */
  at: number;
}

/** One row of the fleet page (and the summary of the account page). */
export interface FleetRow {
  /** Element id. */
  id: string;
  /** Element name, when set. */
  name: string | null;
  /** MT5 account number (`null` for an invalid document). */
  login: number | null;
  /** MT5 trade server. */
  server: string | null;
  /** The host that manages it. */
  host: string | null;
  /** Its instance's terminal folder (`sim:<scenario>` for the simulator). */
  instance_path: string | null;
  /** Lifecycle status. */
  status: string;
  /** Enforcement state (`ALLOWED`, `LOCKED_DAY`, `LOCKED`). */
  trading: string | null;
  /** Why trading is locked. */
  lock_reason: string | null;
  /** Until when a lock holds, epoch ms. */
  locked_until: number | null;
  /** Last known balance. */
  balance: number | null;
  /** Last known equity. */
  equity: number | null;
  /** Today's profit/loss. */
  daily_pl: number | null;
  /** The daily loss limit in money. */
  daily_loss_limit: number | null;
  /** Share of the daily loss limit used (0 = none lost, 1 = at the floor). */
  daily_loss_used: number | null;
  /** Share of the drawdown limit used (0 = at the reference, 1 = at the floor). */
  drawdown_used: number | null;
  /** Open positions. */
  positions: number | null;
  /** Pending orders. */
  orders: number | null;
  /** When the metrics were written, epoch ms. */
  metrics_at: number | null;
  /** Last ping of its manager, epoch ms. */
  last_ping: number | null;
  /** The last event. */
  last_event: RowEvent | null;
  /** `null` for a valid document, else "field reason". */
  invalid: string | null;
}

/** Builds the row of an element. */
export function fleetRow(
  parsed: ParsedElement,
  instance: Instance | undefined,
  lastEvent: EventRecord | undefined,
): FleetRow {
  const event = lastEvent === undefined
    ? null
    : { type: lastEvent.type, message: lastEvent.message, at: lastEvent.at };
  const instancePath = instance?.path ?? null;
  if (!parsed.valid) {
    const raw = parsed.raw;
    return {
      ...EMPTY,
      id: parsed.id,
      name: text(raw.name),
      login: typeof raw.login === "number" ? raw.login : null,
      server: text(raw.server),
      host: text(raw.host),
      instance_path: instancePath,
      status: text(raw.status) ?? "PENDING",
      trading: text(raw.trading),
      last_ping: typeof raw.last_ping === "number" ? raw.last_ping : null,
      last_event: event,
      invalid: `${parsed.field} ${parsed.reason}`,
    };
  }
  const element = parsed.element;
  const metrics = element.metrics;
  const lines = limitLines(element);
  const equity = metrics?.equity ?? null;
  return {
    id: element._id,
    name: element.name ?? null,
    login: element.login,
    server: element.server,
    host: element.host,
    instance_path: instancePath,
    status: element.status,
    trading: element.trading,
    lock_reason: element.lock_reason,
    locked_until: element.locked_until,
    balance: metrics?.balance ?? null,
    equity,
    daily_pl: metrics?.daily_pl ?? null,
    daily_loss_limit: lines.daily_loss_limit,
    daily_loss_used: used(equity, lines.baseline, lines.daily_loss_limit),
    drawdown_used: used(
      equity,
      lines.drawdown_floor === null || lines.drawdown_limit === null
        ? null
        : lines.drawdown_floor + lines.drawdown_limit,
      lines.drawdown_limit,
    ),
    positions: metrics?.positions ?? null,
    orders: metrics?.orders ?? null,
    metrics_at: metrics?.updated_at ?? null,
    last_ping: element.last_ping,
    last_event: event,
    invalid: null,
  };
}

const EMPTY: Omit<FleetRow, "id" | "status"> = {
  name: null,
  login: null,
  server: null,
  host: null,
  instance_path: null,
  trading: null,
  lock_reason: null,
  locked_until: null,
  balance: null,
  equity: null,
  daily_pl: null,
  daily_loss_limit: null,
  daily_loss_used: null,
  drawdown_used: null,
  positions: null,
  orders: null,
  metrics_at: null,
  last_ping: null,
  last_event: null,
  invalid: null,
};

/** How much of `limit` equity has given up below `reference` (never below 0). */
function used(equity: number | null, reference: number | null, limit: number | null) {
  if (equity === null || reference === null || limit === null || limit <= 0) return null;
  return Math.max(0, (reference - equity) / limit);
}

function text(value: unknown): string | null {
  return typeof value === "string" ? value : null;
}
