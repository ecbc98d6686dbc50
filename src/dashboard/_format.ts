/**
 * Formatting of figures for the pages (folder-private).
 *
 * @module
 */
import type { Limit } from "../store/mod.ts";

/** `1234.5` -> `"1,234.50"`; `null` -> an en dash. */
export function money(value: number | null | undefined): string {
  if (value === null || value === undefined) return "–";
  return value.toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
}

/** `0.423` -> `"42%"`; `null` -> an en dash. */
export function percent(share: number | null | undefined): string {
  if (share === null || share === undefined) return "–";
  return `${Math.round(share * 100)}%`;
}

/** Epoch ms -> `"2025-01-31 14:05:09 UTC"`; `null` -> an en dash. */
export function utcTime(at: number | null | undefined): string {
  if (at === null || at === undefined) return "–";
  return `${new Date(at).toISOString().slice(0, 19).replace("T", " ")} UTC`;
}

/** A duration in ms -> `"4s"`, `"3m 12s"`, `"2h 5m"`, `"3d 4h"`. */
export function age(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h ${Math.floor(s % 3600 / 60)}m`;
  return `${Math.floor(s / 86_400)}d ${Math.floor(s % 86_400 / 3600)}h`;
}

/** A limit as configured: `"5%"` or `"250.00"`; absent -> an en dash. */
export function limit(value: Limit | undefined): string {
  if (value === undefined) return "–";
  return value.kind === "percent" ? `${value.value}%` : money(value.value);
}
