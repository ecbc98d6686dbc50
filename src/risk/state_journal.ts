/**
 * The local state journal: what a risk process could not write to the store before it stopped
 * (the store was unreachable), kept in a small file so that the next process for the same
 * element replays it before it decides anything. Without it a lock decided during a store
 * outage, then a graceful stop, would be forgotten: the next process would start ALLOWED.
 *
 * - One JSON file per element, `<dir>/<element id>.json`, written atomically (a temporary file
 *   renamed over it) and readable by its owner only. It holds the trading state (lock), the day
 *   and peak state, the person's unlock last seen on the EA, and the protective commands still
 *   being enforced when the process stopped.
 * - Written at a stop while state writes are still waiting (before the last flush, so a stop
 *   cut short by a kill keeps it), removed once every write reached the store.
 * - Replayed ({@link replayJournal}) only where nothing newer is known: a person's unlock after
 *   the journal was written wins over its lock, and day/peak are taken only when no metrics were
 *   written since.
 *
 * @module
 */
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sha256Hex } from "../shared/sha256.ts";
import { describeValue, isCount, isRecord } from "../shared/validation.ts";
// The store's schema-free files, not its mod.ts: a risk process must not load the store's schemas.
import {
  type DayState,
  type PeakState,
  readDayState,
  readPeakState,
  type StateIssue,
} from "../store/day_peak.ts";
import {
  FLATTEN_TARGETS,
  type FlattenTarget,
  TRADING_STATES,
  type TradingState,
} from "../store/document_values.ts";
import type { Element, ManagedPatch } from "../store/mod.ts";
import { applyLock, type LockState, lockStateOf } from "./lock_state.ts";

/** Environment variable naming the journal folder of risk processes. */
export const JOURNAL_DIR_ENV = "RISKGUARD_JOURNAL_DIR";

/** One journal file. */
export interface JournalEntry {
  version: 1;
  element_id: string;
  /** The lease of the process that wrote it. */
  lease: number;
  /** UTC epoch ms. */
  written_at: number;
  trading: TradingState;
  /** UTC epoch ms, or `null`. */
  locked_until: number | null;
  lock_reason: string | null;
  day: DayState | null;
  peak: PeakState | null;
  /** UTC epoch ms, or `null`. */
  unlock_applied_at: number | null;
  /** Protective targets still being enforced while locked (`cancel_orders`, `close_all`). */
  flatten: FlattenTarget[];
}

/** The state a process keeps in the journal (see {@link AccountGuard.durableState}). */
export interface DurableState {
  lock: LockState;
  day: JournalEntry["day"];
  peak: JournalEntry["peak"];
  unlockAppliedAt: number | null;
  flatten: JournalEntry["flatten"];
}

/** The journal file of one element. */
export class StateJournal {
  /** The file. */
  readonly path: string;
  readonly #dir: string;
  readonly #elementId: string;

  /** The journal of `elementId` in `dir` (created on first save). */
  constructor(dir: string, elementId: string) {
    this.#dir = dir;
    this.#elementId = elementId;
    this.path = join(dir, `${elementId.replace(/[^A-Za-z0-9_.-]/g, "_")}.json`);
  }

  /** Writes the state atomically. */
  async save(state: DurableState, lease: number, now: number): Promise<void> {
    const entry: JournalEntry = {
      version: 1,
      element_id: this.#elementId,
      lease,
      written_at: now,
      trading: state.lock.trading,
      locked_until: state.lock.lockedUntil,
      lock_reason: state.lock.reason,
      day: state.day,
      peak: state.peak,
      unlock_applied_at: state.unlockAppliedAt,
      flatten: state.flatten,
    };
    await Deno.mkdir(this.#dir, { recursive: true, mode: 0o700 });
    const temporary = `${this.path}.${crypto.randomUUID()}.tmp`;
    await Deno.writeTextFile(temporary, `${JSON.stringify(entry, null, 2)}\n`, { mode: 0o600 });
    await Deno.rename(temporary, this.path);
  }

  /**
   * The entry on disk, or undefined when there is none. A file that is not a valid entry for
   * this element is moved aside (`.bad`) and reported through the error.
   */
  async load(): Promise<JournalEntry | undefined> {
    let text: string;
    try {
      text = await Deno.readTextFile(this.path);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return undefined;
      throw error;
    }
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch {
      raw = undefined; // not JSON: refused below like any other invalid entry
    }
    const parsed = readJournalEntry(raw);
    const why = typeof parsed === "string"
      ? parsed
      : parsed.element_id === this.#elementId
      ? undefined
      : `written for element ${parsed.element_id}`;
    if (why !== undefined) {
      await Deno.rename(this.path, `${this.path}.bad`).catch(() => {});
      throw new Error(
        `the state journal ${this.path} is not valid for element ${this.#elementId}: ` +
          `moved aside to ${this.path}.bad (${why})`,
      );
    }
    return parsed as JournalEntry;
  }

  /** Removes the file (every write reached the store). */
  async clear(): Promise<void> {
    await Deno.remove(this.path).catch((error) => {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    });
  }
}

/** A journal entry read from its parsed JSON, or the first reason why it is not one. */
export function readJournalEntry(raw: unknown): JournalEntry | string {
  if (!isRecord(raw)) return `(entry): expected an object, got ${describeValue(raw)}`;
  const { version, element_id, lease, written_at, trading, locked_until, lock_reason } = raw;
  if (version !== 1) return expected("version", "1", version);
  if (typeof element_id !== "string" || element_id === "") {
    return expected("element_id", "a non-empty string", element_id);
  }
  if (!isCount(lease)) return expected("lease", "an integer >= 0", lease);
  if (!isCount(written_at)) return expected("written_at", "an integer >= 0", written_at);
  if (!(TRADING_STATES as readonly unknown[]).includes(trading)) {
    return expected("trading", `one of ${TRADING_STATES.join(", ")}`, trading);
  }
  if (locked_until !== null && !isCount(locked_until)) {
    return expected("locked_until", "an integer >= 0 or null", locked_until);
  }
  if (lock_reason !== null && typeof lock_reason !== "string") {
    return expected("lock_reason", "a string or null", lock_reason);
  }
  const issues: StateIssue[] = [];
  const day = raw.day === null ? null : readDayState(raw.day, issues);
  if (day === undefined) return stateProblem("day", issues);
  const peak = raw.peak === null ? null : readPeakState(raw.peak, issues);
  if (peak === undefined) return stateProblem("peak", issues);
  const { unlock_applied_at, flatten = [] } = raw;
  if (unlock_applied_at !== null && !isCount(unlock_applied_at)) {
    return expected("unlock_applied_at", "an integer >= 0 or null", unlock_applied_at);
  }
  if (
    !Array.isArray(flatten) ||
    !flatten.every((target) => (FLATTEN_TARGETS as readonly unknown[]).includes(target))
  ) {
    return expected("flatten", `a list of ${FLATTEN_TARGETS.join(", ")}`, flatten);
  }
  return {
    version,
    element_id,
    lease,
    written_at,
    trading: trading as TradingState,
    locked_until,
    lock_reason,
    day,
    peak,
    unlock_applied_at,
    flatten: [...flatten],
  };
}

function expected(field: string, what: string, value: unknown): string {
  return `${field}: expected ${what}, got ${describeValue(value)}`;
}

function stateProblem(field: string, issues: StateIssue[]): string {
  const first = issues[0];
  return first === undefined
    ? `${field}: invalid`
    : `${[field, ...first.path].join(".")}: ${first.reason}`;
}

/** What {@link replayJournal} decided. */
export interface Replay {
  /** The element with the journal's state merged in. */
  element: Element;
  /** What to write to the store (empty when the journal added nothing). */
  patch: ManagedPatch;
  /** Which parts were replayed, or why not (for the audit trail). */
  notes: string[];
}

/**
 * Merges a journal into the element as loaded, where nothing newer is known: its lock when it
 * is stronger than the stored one, still in force, and no person unlocked the account after it
 * was written; its day and peak when no metrics were written after it; its applied unlock when
 * newer. Pure.
 */
export function replayJournal(element: Element, entry: JournalEntry, now: number): Replay {
  const patch: ManagedPatch = {};
  const notes: string[] = [];
  let merged: Element = element;
  if (entry.trading !== "ALLOWED") {
    const personUnlocked = element.unlocked_at !== null && element.unlocked_at >= entry.written_at;
    const ended = entry.trading === "LOCKED_DAY" && (entry.locked_until ?? 0) <= now;
    const next = personUnlocked || ended ? undefined : applyLock(lockStateOf(element), {
      scope: entry.trading === "LOCKED" ? "permanent" : "day",
      until: entry.trading === "LOCKED" ? 0 : entry.locked_until ?? 0,
      reason: entry.lock_reason ?? "locked (from the local journal)",
    });
    if (next !== undefined) {
      patch.trading = next.trading;
      patch.locked_until = next.lockedUntil;
      patch.lock_reason = next.reason;
      merged = {
        ...merged,
        trading: next.trading,
        locked_until: next.lockedUntil,
        lock_reason: next.reason,
      };
      notes.push(`lock ${next.trading}`);
    } else if (personUnlocked) {
      notes.push("lock not replayed: a person unlocked the account since");
    }
  }
  const flatten = entry.flatten.filter((key) => !merged.flatten_pending.includes(key));
  if (merged.trading !== "ALLOWED" && entry.trading !== "ALLOWED" && flatten.length > 0) {
    patch.flatten_pending = [...merged.flatten_pending, ...flatten];
    merged = { ...merged, flatten_pending: patch.flatten_pending };
    notes.push(`pending ${flatten.join(" and ")}`);
  }
  const metricsSince = (element.metrics?.updated_at ?? 0) > entry.written_at;
  if (metricsSince) {
    notes.push("day and peak not replayed: newer ones are stored");
  } else {
    if (entry.day !== null && (element.day === null || entry.day.date >= element.day.date)) {
      patch.day = entry.day;
      merged = { ...merged, day: entry.day };
      notes.push(`day ${entry.day.date}`);
    }
    if (entry.peak !== null) {
      patch.peak = entry.peak;
      merged = { ...merged, peak: entry.peak };
      notes.push("peak");
    }
  }
  const applied = entry.unlock_applied_at;
  if (applied !== null && (element.unlock_applied_at ?? -1) < applied) {
    patch.unlock_applied_at = applied;
    merged = { ...merged, unlock_applied_at: applied };
  }
  return { element: merged, patch, notes };
}

/**
 * The default journal folder of one store on this machine: `RISKGUARD_JOURNAL_DIR` when set,
 * else `riskguard/journal/<store key>` under the user's local data folder (`%LOCALAPPDATA%` on
 * Windows, `$XDG_STATE_HOME` or `~/.local/state` elsewhere; the temp folder as a last resort).
 * The key is a hash of the store's description and database, so two stores never share
 * journals and no store address appears in a path.
 */
export function defaultJournalDir(
  env: Readonly<Record<string, string | undefined>>,
  storeDescription: string,
  db: string,
): string {
  const given = env[JOURNAL_DIR_ENV];
  if (given !== undefined && given !== "") return given;
  const home = env.HOME ?? env.USERPROFILE;
  const base = env.LOCALAPPDATA ?? env.XDG_STATE_HOME ??
    (home === undefined ? tmpdir() : join(home, ".local", "state"));
  const key = sha256Hex(`${storeDescription}\u0000${db}`);
  return join(base, "riskguard", "journal", key.slice(0, 16));
}
