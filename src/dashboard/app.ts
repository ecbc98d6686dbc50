/**
 * The dashboard's HTTP routes (Hono): the three pages, their JSON, the live stream (SSE), the
 * actions and the embedded assets. Every page and stream reads the fleet from one
 * {@link FleetHub}; nothing here talks to the store except the account page's history, its
 * events and the actions.
 *
 * @module
 */
import { type Context, Hono } from "hono";
import { streamSSE } from "hono/streaming";
import type { Store } from "../store/mod.ts";
import { describeError } from "../shared/errors.ts";
import { logger } from "../shared/logging.ts";
import { type ActionName, ACTIONS, checkActionRequest, performAction } from "./actions.ts";
import { ASSETS } from "./assets.ts";
import { html } from "./_html.ts";
import {
  accountPage,
  accountSummary,
  accountTrades,
  dayTable,
  eventTimeline,
} from "./account_page.ts";
import { type DayInfo, dayInfo } from "./_day.ts";
import type { FleetHub, FleetUpdate } from "./fleet_hub.ts";
import { fleetPage, fleetRowHtml, type RowOptions } from "./fleet_page.ts";
import { hostsPage, hostSummaries } from "./hosts_page.ts";
import { type LimitLines, limitLines } from "./limits.ts";
import type { FleetRow } from "./rows.ts";

/** Options of {@link dashboardApp}. */
export interface DashboardAppOptions {
  /** The store (history, events, actions). */
  store: Store;
  /** The fleet, kept current from the store's feed. */
  hub: FleetHub;
  /** The action token; without one the dashboard is read-only. */
  token?: string | undefined;
  /** A ping older than this is marked stale, ms (default 60 000). */
  staleMs?: number;
  /** How far back the account chart reaches while the day's start is not known, ms (default
   * 24 h); otherwise it shows the day since its reset. */
  chartWindowMs?: number;
  /** Ends open streams (server shutdown). */
  signal?: AbortSignal;
  /** Current time (tests). */
  now?: () => number;
}

/** What the server passes to each request (the client's address). */
export interface DashboardEnv {
  /** `Bindings` of Hono: the connection. */
  Bindings: { remoteAddr?: Deno.NetAddr | Deno.Addr };
}

/** Seconds between keep-alive comments on an idle stream (proxies close silent ones). */
const KEEPALIVE_MS = 15_000;

const SECURITY_HEADERS: Record<string, string> = {
  "content-security-policy":
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
};

/** Builds the dashboard's Hono app. */
export function dashboardApp(options: DashboardAppOptions): Hono<DashboardEnv> {
  const { store, hub, token } = options;
  const staleMs = options.staleMs ?? 60_000;
  const chartWindowMs = options.chartWindowMs ?? 24 * 60 * 60 * 1000;
  const now = options.now ?? Date.now;
  const shutdown = options.signal ?? new AbortController().signal;
  const rowOptions = (): RowOptions => ({ now: now(), staleMs });
  const log = logger("dashboard", "http");
  const app = new Hono<DashboardEnv>();

  app.use("*", async (c, next) => {
    await next();
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) c.header(name, value);
  });
  app.onError((error, c) => {
    log.error("{method} {path} failed: {error}", {
      method: c.req.method,
      path: c.req.path,
      error: describeError(error),
    });
    return c.json({ error: "Internal error (see the dashboard's log)" }, 500);
  });

  app.get("/", async (c) => {
    await hub.synced;
    return c.html(fleetPage(hub.rows(), rowOptions()).text);
  });
  app.get("/hosts", async (c) => {
    await hub.synced;
    const [instances, heartbeats] = await Promise.all([store.listInstances(), store.listAgents()]);
    return c.html(hostsPage(hostSummaries(instances, hub.rows(), heartbeats), rowOptions()).text);
  });
  app.get("/accounts/:id", async (c) => {
    await hub.synced;
    const id = c.req.param("id");
    const row = hub.row(id);
    const element = hub.element(id);
    if (row === undefined || element === undefined) return c.html(notFound(id), 404);
    const events = await store.listEvents(id, { limit: 50 });
    return c.html(
      accountPage({
        row,
        element,
        lines: linesOf(hub, id),
        events,
        actions: token !== undefined,
      }, rowOptions()).text,
    );
  });
  app.get("/accounts/:id/events", async (c) => {
    const id = c.req.param("id");
    if (hub.row(id) === undefined) return c.text("no such account", 404);
    return c.html(eventTimeline(await store.listEvents(id, { limit: 50 })).text);
  });

  app.get("/api/fleet", async (c) => {
    await hub.synced;
    return c.json({ rows: hub.rows() });
  });
  app.get("/api/accounts/:id/chart", async (c) => {
    await hub.synced;
    const id = c.req.param("id");
    if (hub.row(id) === undefined) return c.json({ error: `No account ${id}` }, 404);
    const day = dayOf(hub, id);
    // Today since the day's reset; the last `chartWindowMs` while the day is not known.
    const samples = await store.listSamples(id, {
      since: day?.starts_at ?? now() - chartWindowMs,
      ...(day?.ends_at === null || day?.ends_at === undefined ? {} : { until: day.ends_at }),
    });
    return c.json({
      day,
      samples: samples.map(({ at, equity, balance, daily_pl, positions }) => ({
        at,
        equity,
        balance,
        daily_pl,
        positions,
      })),
      lines: linesOf(hub, id),
    });
  });

  app.get("/api/stream", async (c) => {
    await hub.synced;
    const id = c.req.query("id");
    if (id !== undefined && hub.row(id) === undefined) {
      return c.json({ error: `No account ${id}` }, 404);
    }
    return stream(c, id);
  });

  app.post("/api/accounts/:id/:action", async (c) => {
    const refusal = checkActionRequest(c.req.raw, token);
    if (refusal !== null) return c.json({ error: refusal.error }, refusal.status);
    const action = c.req.param("action");
    if (!(ACTIONS as readonly string[]).includes(action)) {
      return c.json({ error: `Unknown action ${action}; allowed: ${ACTIONS.join(", ")}` }, 404);
    }
    let body: unknown;
    try {
      body = await c.req.json();
    } catch {
      return c.json({ error: "The body is not valid JSON" }, 400);
    }
    const field = (name: string, max: number): string | null => {
      const value = (body as Record<string, unknown> | null)?.[name];
      return typeof value === "string" && value.trim() !== "" ? value.trim().slice(0, max) : null;
    };
    const id = c.req.param("id");
    const addr = c.env?.remoteAddr;
    const source = {
      by: field("by", 100),
      remote: addr !== undefined && "hostname" in addr
        ? `${addr.hostname}:${addr.port}`
        : "unknown",
      user_agent: c.req.header("user-agent")?.slice(0, 200) ?? null,
    };
    const result = await performAction(store, {
      action: action as ActionName,
      elementId: id,
      reason: field("reason", 500),
      source,
    });
    if (!result.ok) return c.json({ error: result.error }, result.status);
    log.info("Action {action} on {element_id} by {by} from {remote}", {
      action,
      element_id: id,
      by: source.by ?? "(no name)",
      remote: source.remote,
    });
    await hub.refreshElement(id);
    return c.json({ ok: true, message: result.message });
  });

  app.get("/assets/:name", (c) => {
    const asset = ASSETS.get(c.req.param("name"));
    if (asset === undefined) return c.text("not found", 404);
    c.header("etag", asset.etag);
    c.header("cache-control", "no-cache");
    if (c.req.header("if-none-match") === asset.etag) return c.body(null, 304);
    c.header("content-type", asset.type);
    return c.body(asset.body);
  });
  app.get("/healthz", (c) => c.text("ok"));
  app.notFound((c) => c.html(notFound(c.req.path), 404));

  /** One SSE stream: the whole fleet, or (with `id`) one account's summary. */
  function stream(c: Context<DashboardEnv>, id: string | undefined) {
    return streamSSE(c, async (sse) => {
      const pending = new Map<string, FleetUpdate>();
      let wake: (() => void) | undefined;
      const unsubscribe = hub.subscribe((update) => {
        const key = update.type === "row" ? update.row.id : update.id;
        if (id !== undefined && key !== id) return;
        // A slow tab gets the latest state of each row, not every state in between.
        pending.delete(key);
        pending.set(key, update);
        wake?.();
      });
      const stop = () => wake?.();
      sse.onAbort(stop);
      shutdown.addEventListener("abort", stop, { once: true });
      try {
        if (id === undefined) {
          const options = rowOptions();
          await sse.writeSSE({
            event: "snapshot",
            data: JSON.stringify({
              rows: hub.rows().map((row) => ({
                id: row.id,
                html: fleetRowHtml(row, options).text,
              })),
            }),
          });
        } else {
          const row = hub.row(id);
          if (row !== undefined) pending.set(id, { type: "row", row });
        }
        while (!sse.aborted && !shutdown.aborted) {
          const next = pending.entries().next();
          if (next.done) {
            const idle = await new Promise<boolean>((resolve) => {
              const timer = setTimeout(() => resolve(true), KEEPALIVE_MS);
              wake = () => {
                clearTimeout(timer);
                resolve(false);
              };
            });
            wake = undefined;
            if (idle) await sse.write(": keep-alive\n\n");
            continue;
          }
          const [key, update] = next.value;
          pending.delete(key);
          await sse.writeSSE(message(update, id !== undefined));
        }
      } finally {
        unsubscribe();
        shutdown.removeEventListener("abort", stop);
      }
    });
  }

  function message(update: FleetUpdate, account: boolean) {
    if (update.type === "remove") {
      return { event: "remove", data: JSON.stringify({ id: update.id }) };
    }
    const row: FleetRow = update.row;
    const options = rowOptions();
    if (!account) {
      return {
        event: "row",
        data: JSON.stringify({ id: row.id, html: fleetRowHtml(row, options).text, row }),
      };
    }
    const lines = linesOf(hub, row.id);
    const element = hub.element(row.id);
    return {
      event: "row",
      data: JSON.stringify({
        id: row.id,
        html: accountSummary(row, lines, options).text,
        row,
        lines,
        day: dayOf(hub, row.id),
        day_html: element === undefined ? "" : dayTable(element).text,
        trades_html: element === undefined ? "" : accountTrades(element).text,
      }),
    };
  }

  return app;
}

function linesOf(hub: FleetHub, id: string): LimitLines {
  const parsed = hub.element(id);
  if (parsed === undefined || !parsed.valid) {
    return {
      baseline: null,
      daily_loss_limit: null,
      daily_loss_floor: null,
      profit_target: null,
      drawdown_limit: null,
      drawdown_floor: null,
    };
  }
  return limitLines(parsed.element);
}

/** The day of an account (reset, zone, bounds); `null` for an invalid document. */
function dayOf(hub: FleetHub, id: string): DayInfo | null {
  const parsed = hub.element(id);
  return parsed === undefined || !parsed.valid ? null : dayInfo(parsed.element);
}

function notFound(what: string): string {
  const page = html`
    <!doctype html>
    <title>Not found · riskguard</title>
    <p>Not found: ${what}. <a href="/">Back to the fleet</a></p>
  `;
  return page.text;
}
