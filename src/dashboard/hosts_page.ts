/**
 * The hosts page: every host that has MT5 terminals (instances) or manages accounts, with its
 * free/total instances and the accounts it runs. Heartbeats (version, last seen) come from the
 * admin mode; until a host reports one, its last sign of life is the newest ping of its
 * instances.
 *
 * @module
 */
import type { AgentHeartbeat, Instance } from "../store/mod.ts";
import { attrs, type Html, html } from "./_html.ts";
import { age } from "./_format.ts";
import { layout } from "./_layout.ts";
import type { FleetRow } from "./rows.ts";
import type { RowOptions } from "./fleet_page.ts";

/** One host as the hosts page shows it. */
export interface HostSummary {
  /** Host name. */
  host: string;
  /** Instances registered on it. */
  instances: number;
  /** Of those, FREE ones. */
  free: number;
  /** Accounts it manages now (its risk children). */
  children: number;
  /** Of those, locked ones. */
  locked: number;
  /** Newest ping of its instances, epoch ms. */
  last_ping: number | null;
  /** The admin's heartbeat, when admin mode runs (or ran) on the host. */
  heartbeat: AgentHeartbeat | null;
}

/** Groups instances and rows by host. */
export function hostSummaries(
  instances: readonly Instance[],
  rows: readonly FleetRow[],
  heartbeats: readonly AgentHeartbeat[] = [],
): HostSummary[] {
  const hosts = new Map<string, HostSummary>();
  const of = (host: string) => {
    let summary = hosts.get(host);
    if (summary === undefined) {
      summary = {
        host,
        instances: 0,
        free: 0,
        children: 0,
        locked: 0,
        last_ping: null,
        heartbeat: null,
      };
      hosts.set(host, summary);
    }
    return summary;
  };
  for (const instance of instances) {
    const summary = of(instance.host);
    summary.instances++;
    if (instance.status === "FREE") summary.free++;
    if (instance.last_ping !== null) {
      summary.last_ping = Math.max(summary.last_ping ?? 0, instance.last_ping);
    }
  }
  for (const beat of heartbeats) of(beat.host).heartbeat = beat;
  for (const row of rows) {
    if (row.host === null) continue;
    const summary = of(row.host);
    summary.children++;
    if (row.trading !== null && row.trading !== "ALLOWED") summary.locked++;
  }
  return [...hosts.values()].sort((a, b) => a.host.localeCompare(b.host));
}

/** The whole hosts page. */
export function hostsPage(hosts: readonly HostSummary[], options: RowOptions): Html {
  const rows = hosts.map((host) => hostRow(host, options));
  const body = html`
    <h1>Hosts <small>${hosts.length}</small></h1>
    <table class="fleet">
      <thead>
        <tr>
          <th>Host</th>
          <th>Accounts running</th>
          <th>Locked</th>
          <th>Free / total instances</th>
          <th>Last instance ping</th>
          <th>Admin</th>
          <th>Last heartbeat</th>
        </tr>
      </thead>
      <tbody>${rows}</tbody>
    </table>
    <p class="note">${NOTE}</p>
  `;
  return layout({ title: "Hosts", page: "hosts", data: { "stale-ms": options.staleMs } }, body);
}

const NOTE = "Admin columns come from each host's admin heartbeat (admin mode); instance figures " +
  "from the instances themselves.";

/** One host's row. */
function hostRow(host: HostSummary, options: RowOptions): Html {
  const pingAge = host.last_ping === null ? null : options.now - host.last_ping;
  const stale = pingAge !== null && pingAge > options.staleMs;
  const ping = attrs({ "data-ping": host.last_ping, class: stale ? "ping stale" : "ping" });
  return html`
    <tr>
      <td>${host.host}</td>
      <td class="num">${host.children}</td>
      <td class="num">${host.locked}</td>
      <td class="num">${host.free} / ${host.instances}</td>
      <td${ping}>${pingAge === null ? "never" : age(pingAge)}</td>
      ${adminCells(host.heartbeat, options)}
    </tr>
  `;
}

/** Version, state and heartbeat age of a host's admin (from its heartbeat). */
function adminCells(beat: AgentHeartbeat | null, options: RowOptions): Html {
  if (beat === null) {
    return html`
      <td>no admin heartbeat</td>
      <td>–</td>
    `;
  }
  const ageMs = options.now - beat.last_seen;
  const state = beat.stopped_at !== null ? "stopped" : `running, ${beat.children} children`;
  const free = `${beat.instances_free} / ${beat.instances_total} free`;
  const stale = beat.stopped_at === null && ageMs > options.staleMs;
  const seen = attrs({ "data-ping": beat.last_seen, class: stale ? "ping stale" : "ping" });
  return html`
    <td>${beat.version} (${state}; ${free})</td>
    <td${seen}>${age(ageMs)}</td>
  `;
}
