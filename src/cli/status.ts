/**
 * `riskguard status`: one row per element with its lease, trading state and metrics, like the
 * original tool's pandas view; `--json` prints the same rows for scripts.
 *
 * @module
 */
import type { Command } from "commander";
import { type AgentHeartbeat, type Instance, type ParsedElement, withStore } from "../store/mod.ts";
import { type CliContext, startCommand } from "./context.ts";

/** One row of `riskguard status`. */
export interface StatusRow {
  /** Element id. */
  id: string;
  /** Element name (or `null`). */
  name: string | null;
  /** MT5 account number (`null` when the document is invalid). */
  login: number | null;
  /** MT5 trade server. */
  server: string | null;
  /** Lifecycle status. */
  status: string;
  /** Enforcement state. */
  trading: string | null;
  /** Why trading is locked. */
  lock_reason: string | null;
  /** The instance that runs it. */
  instance_id: string | null;
  /** That instance's terminal folder. */
  instance_path: string | null;
  /** The host that manages it. */
  host: string | null;
  /** Last ping, epoch ms. */
  last_ping: number | null;
  /** Seconds since the last ping. */
  last_ping_age_s: number | null;
  /** Last known balance. */
  balance: number | null;
  /** Last known equity. */
  equity: number | null;
  /** Today's profit/loss. */
  daily_pl: number | null;
  /** `null` when the document is valid, else "field: reason". */
  invalid: string | null;
}

/** Adds the `status` command. */
export function registerStatus(program: Command, ctx: CliContext): void {
  program.command("status")
    .description("show every account: status, trading state, instance, last ping, equity, P/L")
    .option("--json", "print JSON for scripts (an array of accounts)")
    .option("--hosts", "show the admin hosts only (with --json: an array of hosts)")
    .action(async (options: { json?: boolean; hosts?: boolean }, command: Command) => {
      const config = await startCommand(ctx, command);
      const { rows, agents } = await withStore(config.store, { db: config.db }, async (store) => {
        const [elements, instances, agents] = await Promise.all([
          store.listElements(),
          store.listInstances(),
          store.listAgents(),
        ]);
        return { rows: statusRows(elements, instances, Date.now()), agents };
      });
      const staleMs = config.stale_after_s * 1_000;
      if (options.hosts === true) {
        // A separate view: `status --json` stays the array of accounts that scripts read.
        ctx.stdout(
          options.json === true
            ? `${JSON.stringify(hostRows(agents, Date.now(), staleMs), null, 2)}\n`
            : renderHosts(agents, Date.now(), staleMs) || "No admin host has beaten yet.\n",
        );
        return;
      }
      if (options.json === true) {
        ctx.stdout(`${JSON.stringify(rows, null, 2)}\n`);
        return;
      }
      const hosts = renderHosts(agents, Date.now(), staleMs);
      if (rows.length === 0) {
        ctx.stdout(`No elements. Add one with \`riskguard elements add\`.\n${hosts}`);
        return;
      }
      ctx.stdout(
        renderTable(
          [
            "element",
            "login",
            "server",
            "status",
            "trading",
            "instance",
            "host",
            "last ping",
            "equity",
            "daily P/L",
          ],
          rows.map((row) => [
            row.name === null ? row.id : `${row.name} (${row.id})`,
            row.login === null ? "-" : String(row.login),
            row.server ?? "-",
            row.invalid === null ? row.status : `${row.status} (invalid: ${row.invalid})`,
            row.trading === null
              ? "-"
              : row.lock_reason === null
              ? row.trading
              : `${row.trading} (${row.lock_reason})`,
            row.instance_path ?? row.instance_id ?? "-",
            row.host ?? "-",
            formatAge(row.last_ping_age_s),
            formatMoney(row.equity),
            formatMoney(row.daily_pl),
          ]),
          [false, true, false, false, false, false, false, true, true, true],
        ) + hosts,
      );
    });
}

/** `status --hosts --json`: one object per admin host, its heartbeat and whether it is stale. */
export function hostRows(
  agents: AgentHeartbeat[],
  now: number,
  staleMs: number,
): Array<AgentHeartbeat & { last_seen_age_s: number; stale: boolean }> {
  return agents.map((agent) => ({
    ...agent,
    last_seen_age_s: Math.max(0, Math.round((now - agent.last_seen) / 1000)),
    stale: agent.stopped_at === null && now - agent.last_seen >= staleMs,
  }));
}

/**
 * The hosts section: every admin host with its version, last heartbeat (stale or stopped ones
 * marked), number of children and free/total instances; empty when no admin ever ran.
 */
export function renderHosts(
  agents: readonly AgentHeartbeat[],
  now: number,
  staleMs: number,
): string {
  if (agents.length === 0) return "";
  const rows = agents.map((agent) => {
    const age = Math.max(0, Math.round((now - agent.last_seen) / 1000));
    const state = agent.stopped_at !== null
      ? " (stopped)"
      : now - agent.last_seen >= staleMs
      ? " (STALE)"
      : "";
    return [
      agent.host,
      agent.version,
      `${formatAge(age)} ago${state}`,
      String(agent.pid),
      String(agent.children),
      `${agent.instances_free}/${agent.instances_total}`,
    ];
  });
  return "\nHosts:\n" + renderTable(
    ["host", "version", "last heartbeat", "pid", "children", "free/total instances"],
    rows,
    [false, false, false, true, true, true],
  );
}

/** Builds the status rows from elements and instances at time `now`. */
export function statusRows(
  elements: readonly ParsedElement[],
  instances: readonly Instance[],
  now: number,
): StatusRow[] {
  const paths = new Map(instances.map((instance) => [instance._id, instance.path]));
  return elements.map((parsed) => {
    if (parsed.valid) {
      const e = parsed.element;
      return {
        id: parsed.id,
        name: e.name ?? null,
        login: e.login,
        server: e.server,
        status: e.status,
        trading: e.trading,
        lock_reason: e.lock_reason,
        instance_id: e.instance_id,
        instance_path: e.instance_id === null ? null : paths.get(e.instance_id) ?? null,
        host: e.host,
        last_ping: e.last_ping,
        last_ping_age_s: e.last_ping === null
          ? null
          : Math.max(0, Math.round((now - e.last_ping) / 1000)),
        balance: e.metrics?.balance ?? null,
        equity: e.metrics?.equity ?? null,
        daily_pl: e.metrics?.daily_pl ?? null,
        invalid: null,
      };
    }
    const raw = parsed.raw;
    const text = (value: unknown) => typeof value === "string" ? value : null;
    const num = (value: unknown) => typeof value === "number" ? value : null;
    const instanceId = text(raw.instance_id);
    const lastPing = num(raw.last_ping);
    return {
      id: parsed.id,
      name: text(raw.name),
      login: num(raw.login),
      server: text(raw.server),
      status: text(raw.status) ?? "PENDING",
      trading: text(raw.trading),
      lock_reason: text(raw.lock_reason),
      instance_id: instanceId,
      instance_path: instanceId === null ? null : paths.get(instanceId) ?? null,
      host: text(raw.host),
      last_ping: lastPing,
      last_ping_age_s: lastPing === null ? null : Math.max(0, Math.round((now - lastPing) / 1000)),
      balance: null,
      equity: null,
      daily_pl: null,
      invalid: `${parsed.field} ${parsed.reason}`,
    };
  });
}

/** Renders a plain-text table; `rightAlign[i]` right-aligns column `i`. */
export function renderTable(
  headers: readonly string[],
  rows: readonly (readonly string[])[],
  rightAlign: readonly boolean[] = [],
): string {
  const widths = headers.map((header, i) =>
    Math.max(header.length, ...rows.map((row) => (row[i] ?? "").length))
  );
  const line = (cells: readonly string[]) =>
    cells.map((cell, i) =>
      rightAlign[i] === true ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!)
    ).join("  ").trimEnd();
  return [line(headers), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n") +
    "\n";
}

/** `42s`, `5m03s`, `2h10m`, `3d04h`, or `-`. */
export function formatAge(seconds: number | null): string {
  if (seconds === null) return "-";
  if (seconds < 60) return `${seconds}s`;
  if (seconds < 3600) {
    return `${Math.floor(seconds / 60)}m${String(seconds % 60).padStart(2, "0")}s`;
  }
  if (seconds < 86_400) {
    return `${Math.floor(seconds / 3600)}h${
      String(Math.floor(seconds / 60) % 60).padStart(2, "0")
    }m`;
  }
  return `${Math.floor(seconds / 86_400)}d${
    String(Math.floor(seconds / 3600) % 24).padStart(2, "0")
  }h`;
}

function formatMoney(value: number | null): string {
  return value === null ? "-" : value.toFixed(2);
}
