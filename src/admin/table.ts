/**
 * The periodic table of admin's log: on start and every minute, one compact line per element
 * this host manages or waits for (login, server, status, trading, instance, last ping, equity,
 * day P/L against the daily loss limit), so a glance at the log shows the fleet.
 *
 * @module
 */
import type { Instance, ParsedElement } from "../store/mod.ts";

/** Renders the table of the elements of `host` (held by it, or waiting for it). */
export function renderHostTable(
  elements: readonly ParsedElement[],
  instances: readonly Instance[],
  host: string,
  waiting: ReadonlySet<string>,
  now: number,
): string {
  const paths = new Map(instances.map((instance) => [instance._id, instance.path]));
  const rows: string[][] = [];
  for (const parsed of elements) {
    if (!parsed.valid) {
      if (parsed.raw.host !== host && !waiting.has(parsed.id)) continue;
      rows.push([
        String(parsed.raw.login ?? "-"),
        String(parsed.raw.server ?? "-"),
        `${String(parsed.raw.status ?? "?")} (invalid: ${parsed.field})`,
        "-",
        "-",
        "-",
        "-",
        "-",
      ]);
      continue;
    }
    const e = parsed.element;
    if (e.host !== host && !waiting.has(parsed.id)) continue;
    const limit = e.max_daily_loss === undefined
      ? "-"
      : e.max_daily_loss.kind === "percent"
      ? `${e.max_daily_loss.value}%`
      : e.max_daily_loss.value.toFixed(2);
    rows.push([
      String(e.login),
      e.server,
      e.status,
      e.trading,
      e.instance_id === null ? "-" : paths.get(e.instance_id) ?? e.instance_id,
      e.last_ping === null ? "-" : `${Math.max(0, Math.round((now - e.last_ping) / 1000))}s`,
      e.metrics === null ? "-" : e.metrics.equity.toFixed(2),
      `${e.metrics === null ? "-" : e.metrics.daily_pl.toFixed(2)} / ${limit}`,
    ]);
  }
  const headers = [
    "login",
    "server",
    "status",
    "trading",
    "instance",
    "ping",
    "equity",
    "day P/L / limit",
  ];
  if (rows.length === 0) return `host ${host}: no elements`;
  const widths = headers.map((header, i) =>
    Math.max(header.length, ...rows.map((row) => row[i]!.length))
  );
  const line = (cells: readonly string[]) =>
    cells.map((cell, i) => cell.padEnd(widths[i]!)).join("  ").trimEnd();
  return [`host ${host}: ${rows.length} element(s)`, line(headers), ...rows.map(line)].join("\n");
}
