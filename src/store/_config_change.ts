/**
 * The configuration-change policy (folder-private): which element fields a person may change
 * with `configureElement`, and what such a change writes. Both adapters call
 * {@link prepareConfigChange}; they differ only in how they write the result.
 *
 * @module
 */
import type { InsertResult } from "./types.ts";
import { type FieldIssue, isRecord, parseElement, type ValidElement } from "./schemas.ts";

/**
 * Element fields a person (or another system) may change with `configureElement`. Every other
 * field (status, host, instance_id, lease, last_ping, day, peak, metrics, error, ids, times) is
 * written by riskguard itself. `trading` may only be set back to `ALLOWED` (an unlock).
 */
export const CONFIG_ELEMENT_FIELDS = [
  "name",
  "server",
  "login",
  "password",
  "password_enc",
  "max_daily_loss",
  "max_position_risk",
  "max_profit",
  "max_drawdown",
  "daily",
  "warn_at",
  "require_stop_loss",
  "position_risk_action",
  "max_open_positions",
  "max_total_lots",
  "max_lots_per_symbol",
  "trading_hours",
  "close_before_weekend",
  "rules",
  "initial_balance",
  "pin_host",
  "trading",
] as const;

const CONFIG_FIELD_SET: ReadonlySet<string> = new Set(CONFIG_ELEMENT_FIELDS);

/** Why `configureElement` refuses a field that is not a configuration field. */
export const MANAGED_FIELD_REASON = "cannot be changed by configureElement (managed by riskguard)";

/** A person's change checked against the current document: what to write, and the result. */
export interface ConfigChange {
  /** Always `true`. */
  ok: true;
  /** Fields to set (JSON values), `updated_at` included. */
  set: Record<string, unknown>;
  /** Fields to remove. */
  unset: string[];
  /** The whole document after the change, as it is to be stored. */
  doc: Record<string, unknown>;
  /** The document after the change, parsed. */
  element: ValidElement;
}

/**
 * Checks a person's configuration change (`configureElement`) against the element's current
 * document and returns what to write, or the refusal. Only {@link CONFIG_ELEMENT_FIELDS} may be
 * given; `null` removes a field; `trading` may only be `"ALLOWED"`, which also clears
 * `lock_reason` and `locked_until` and records `unlocked_at` (the proof of a person's unlock that a
 * risk process needs before it unlocks an EA). Setting `password` without `password_enc` removes a stored
 * `password_enc` (and the other way round), so that the new password is the one used. The merged
 * document must be a valid element. Never throws.
 */
export function prepareConfigChange(
  current: Record<string, unknown>,
  changes: unknown,
  now: number,
): ConfigChange | (InsertResult & { ok: false }) {
  if (!isRecord(changes)) {
    return refusal([{ field: "(document)", reason: "must be an object of fields to change" }]);
  }
  const issues: FieldIssue[] = [];
  const given: Record<string, unknown> = {};
  const unset = new Set<string>();
  for (const [key, value] of Object.entries(changes)) {
    if (value === undefined) continue;
    if (!CONFIG_FIELD_SET.has(key)) {
      issues.push({ field: key, reason: MANAGED_FIELD_REASON });
    } else if (key === "trading") {
      if (value === "ALLOWED") {
        given.trading = "ALLOWED";
        given.lock_reason = null;
        given.locked_until = null;
        // The proof of a person's unlock: a risk process only unlocks an EA for one of these.
        given.unlocked_at = now;
      } else {
        issues.push({
          field: "trading",
          reason: `may only be set to "ALLOWED" (unlock); locks are set by the risk process, got ${
            showValue(value)
          }`,
        });
      }
    } else if (value === null) {
      unset.add(key);
    } else {
      given[key] = value;
    }
  }
  if (issues.length > 0) return refusal(issues);
  const pairs = [["password", "password_enc"], ["password_enc", "password"]] as const;
  for (const [field, other] of pairs) {
    if (given[field] !== undefined && !(other in changes) && current[other] !== undefined) {
      unset.add(other);
    }
  }
  // Validate what was given, then what will be stored (JSON values, the same in both adapters).
  const checked = mergeAndParse(current, given, unset, now);
  if (!checked.ok) return checked;
  const set: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(given)) {
    let text: string | undefined;
    try {
      text = JSON.stringify(value);
    } catch (error) {
      return refusal([{ field: key, reason: `cannot be stored: ${(error as Error).message}` }]);
    }
    if (text === undefined) return refusal([{ field: key, reason: "cannot be stored as JSON" }]);
    set[key] = JSON.parse(text);
  }
  const stored = mergeAndParse(current, set, unset, now);
  if (!stored.ok) return stored;
  set.updated_at = now;
  return { ok: true, set, unset: [...unset], doc: stored.doc, element: stored.element };
}

function mergeAndParse(
  current: Record<string, unknown>,
  set: Record<string, unknown>,
  unset: ReadonlySet<string>,
  now: number,
):
  | { ok: true; doc: Record<string, unknown>; element: ValidElement }
  | (InsertResult & { ok: false }) {
  const doc: Record<string, unknown> = { ...current, ...set, updated_at: now };
  for (const key of unset) delete doc[key];
  const parsed = parseElement(doc);
  if (!parsed.valid) return refusal(parsed.issues);
  return { ok: true, doc, element: parsed };
}

function refusal(issues: FieldIssue[]): InsertResult & { ok: false } {
  const first = issues[0] ?? { field: "(document)", reason: "is invalid" };
  return { ok: false, field: first.field, reason: first.reason, issues };
}

function showValue(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value.slice(0, 40));
  if (typeof value === "number" || typeof value === "boolean" || value === null) {
    return String(value);
  }
  return Array.isArray(value) ? "an array" : typeof value;
}
