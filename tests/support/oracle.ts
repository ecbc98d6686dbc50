/**
 * The oracle: holds what really happened on each simulated account (the simulator's truth log,
 * `src/mt5/sim/truth_log.ts`) against what the risk processes recorded in the store, and
 * decides per account whether the promise held:
 *
 * 1. **No missed breach**: every crossing of a limit by the account's equity, as the EA
 *    reported it in a snapshot, was followed by the EA's lock mode and a flat account (no
 *    position, no pending order) within `targetMs` of that snapshot. Time the broker spent
 *    refusing trade requests is not the agent's: the deadline moves by the real ms of every
 *    refused request (`requote`, `market_closed` trade lines), and after a refusal because the
 *    market was closed it is at least the reopening (`market` line) + `targetMs`. Time spent on
 *    accepted requests and by the agent (a delay, a retry it never sends) still counts.
 * 2. **No false lock**: the EA was never switched to lock mode without such a crossing (or a
 *    lock carried over from an earlier run of the account).
 * 3. **Nobody else's commands**: no command reached the account after its lease went to
 *    another manager (a later `risk process started` event of another process).
 * 4. **Nothing lost**: every protective command the EA answered has its `ack` event in the
 *    store, exactly once, in the order the EA answered them. Not owed: answers given while the
 *    EA was silent by a drill's `silent` fault (they never left it), and answers in the last
 *    second before the run ended or lost its agent for good (a `link` down with no `link` up
 *    after it: the risk process was stopped or killed, and the simulator, a process of its own,
 *    went on).
 *
 * The formulas are those of `docs/rules.md`, written again here rather than imported, so that
 * the oracle does not share a bug with the code it checks: `max_daily_loss` (equity <=
 * baseline - limit), `max_profit` (equity >= baseline + limit), `max_drawdown` (equity <=
 * floor, `static`, `trailing_balance` or `trailing_equity`, `stop_at_initial`). The trading day
 * is computed in server time (`daily.timezone: "server"`, the default); another zone is refused.
 * The day is taken from real time (the risk process's clock) plus the server offset, as the rules
 * do; day start figures and highs follow the snapshots the EA sent, as the risk process sees
 * them; a day persisted across a restart is kept. Crossings within `epsilon` of a limit count
 * neither way.
 *
 * @module
 */

/** One parsed line of a truth log. */
export interface TruthLine {
  type: string;
  wall: number;
  sim: number;
  [field: string]: unknown;
}

/** One run of a simulator: from its `start` line to the next one (or the end of the file). */
export interface TruthRun {
  start: TruthLine;
  lines: TruthLine[];
  /** True when the run ended with a `stop` line (a killed process has none). */
  clean: boolean;
}

/** Reads a truth log file into runs; lines cut off by a killed process are skipped. */
export async function readTruthLog(path: string): Promise<TruthRun[]> {
  return parseTruthLog(await Deno.readTextFile(path));
}

/**
 * Parses the text of a truth log into runs, in the order they started. A line goes to the latest
 * run of its `pid`: a simulator of its own process may still write after the next run started
 * (its risk process was killed); a line without `pid` goes to the latest run.
 */
export function parseTruthLog(text: string): TruthRun[] {
  const runs: TruthRun[] = [];
  const byPid = new Map<unknown, TruthRun>();
  for (const raw of text.split("\n")) {
    if (raw.trim() === "") continue;
    let line: TruthLine;
    try {
      line = JSON.parse(raw);
    } catch {
      continue; // the last line of a killed run
    }
    if (line.type === "start") {
      const run = { start: line, lines: [], clean: false };
      runs.push(run);
      byPid.set(line.pid, run);
      continue;
    }
    const run = (line.pid === undefined ? undefined : byPid.get(line.pid)) ?? runs.at(-1);
    if (run === undefined) continue;
    run.lines.push(line);
    if (line.type === "stop") run.clean = true;
  }
  return runs;
}

/** A limit as in the element: money, or `"N%"`. */
export type OracleLimit = number | string;

/** The settings the oracle checks, as in the element document. */
export interface OracleSettings {
  max_daily_loss?: OracleLimit | null;
  max_profit?: OracleLimit | null;
  max_drawdown?: {
    limit: OracleLimit;
    mode?: "static" | "trailing_balance" | "trailing_equity";
    stop_at_initial?: boolean;
  } | null;
  daily?: { reset?: string; timezone?: string; baseline?: "balance" | "equity" | "max" } | null;
  initial_balance?: number | null;
}

/** The part of a store event the oracle reads. */
export interface OracleEvent {
  type: string;
  at: number;
  message: string;
  detail: Record<string, unknown>;
}

/** Options of {@link checkAccount}. */
export interface OracleOptions {
  /** Longest wall time from the snapshot that shows a crossing to locked and flat (default 5 s). */
  targetMs?: number;
  /** Amount within which a crossing counts neither as one nor as none (default 0.01). */
  epsilon?: number;
  /** Check the managers' leases against the commands (off when clocks are shifted on purpose). */
  checkManagers?: boolean;
}

/** One finding, with the wall time it is about and what was seen. */
export interface Finding {
  wall: number;
  what: string;
}

/** The oracle's verdict on one account. */
export interface AccountVerdict {
  /** Crossings seen in snapshots (one per breach: a crossing while locked is the same breach). */
  crossings: number;
  /** Crossings followed by lock and flat in time. */
  enforced: number;
  /** Wall ms from each enforced crossing's snapshot to locked and flat. */
  breachToFlatMs: number[];
  /** Of each of those, the ms the broker spent refusing requests (not charged to the agent). */
  refusedMs: number[];
  /** Crossings not followed by lock and flat in time. */
  missed: Finding[];
  /** Crossings whose run ended (the process was stopped) before the target time. */
  undecided: Finding[];
  /** Locks without a crossing. */
  falseLocks: Finding[];
  /** Commands received from a process that no longer held the lease. */
  foreignCommands: Finding[];
  /** Acks of protective commands with no `ack` event in the store. */
  missingEvents: Finding[];
  /** Ack events stored more than once, or in another order than the EA answered. */
  disorderedEvents: Finding[];
  /** Acks not required in the store: answered in the last second of a run (stopped or killed). */
  exemptEvents: number;
  /** Tick-level crossings that no snapshot showed (the EA sampled past them). */
  transient: number;
  /** True when missed, falseLocks, foreignCommands, missingEvents and disorderedEvents are empty. */
  ok: boolean;
}

const DAY_MS = 86_400_000;
const PROTECTIVE = new Set(["lock", "cancel_orders", "close_all", "close_position"]);
/**
 * A process that stops (or is killed) closes its bridge before the EA's last answers arrive, or
 * dies before writing them: acks this close to the end of a run are not required in the store.
 */
const STOP_LOSS_MS = 1_000;

interface DayFigures {
  date: number;
  start_balance: number;
  start_equity: number;
}

interface PeakFigures {
  initial: number;
  high_balance: number;
  high_equity: number;
}

interface Pending {
  wall: number;
  rule: string;
  /**
   * When the crossing must be enforced by (moved to the next run when a run ends first, and by
   * the broker's refusals).
   */
  deadline: number;
  /** Real ms of refused trade requests added to the deadline. */
  refusedMs: number;
  /** A request was refused because the market is closed: no deadline until it reopens. */
  awaitingReopen: boolean;
}

/** When a pending crossing is due: never while the market that refused it is still closed. */
function due(pending: Pending): number {
  return pending.awaitingReopen ? Infinity : pending.deadline;
}

/** How a missed crossing is described: its target, and the broker's time added to it. */
function within(targetMs: number, pending: Pending): string {
  return pending.refusedMs > 0
    ? `${targetMs} ms + ${pending.refusedMs} ms of refused requests`
    : `${targetMs} ms`;
}

/**
 * Decides whether the promise held for one account, from its truth log runs (oldest first)
 * and its store events (oldest first).
 */
export function checkAccount(
  runs: readonly TruthRun[],
  events: readonly OracleEvent[],
  settings: OracleSettings,
  options: OracleOptions = {},
): AccountVerdict {
  const targetMs = options.targetMs ?? 5_000;
  const eps = options.epsilon ?? 0.01;
  const daily = settings.daily ?? {};
  if ((daily.timezone ?? "server") !== "server") {
    throw new Error(`the oracle computes days in server time only, not ${daily.timezone}`);
  }
  const resetMs = parseReset(daily.reset ?? "00:00");
  const baselineMode = daily.baseline ?? "balance";
  const verdict: AccountVerdict = {
    crossings: 0,
    enforced: 0,
    breachToFlatMs: [],
    refusedMs: [],
    missed: [],
    undecided: [],
    falseLocks: [],
    foreignCommands: [],
    missingEvents: [],
    disorderedEvents: [],
    exemptEvents: 0,
    transient: 0,
    ok: false,
  };

  let day: DayFigures | undefined;
  let peak: PeakFigures | undefined;
  /** The EA was locked at the end of the previous run by a lock the oracle accepted. */
  let carriedLock = false;
  let pending: Pending | undefined;
  const acked: { id: string; wall: number; exempt: boolean }[] = [];

  for (const run of runs) {
    const offset = num(run.start.server_offset);
    const manager = [num(run.start.pid), num(run.start.ppid)];
    // The rules take the day from the process's clock (real time) plus the server offset.
    const dateOf = (wall: number) => Math.floor((wall + offset - resetMs) / DAY_MS);
    // The simulated account starts flat, with its starting balance.
    let locked = false;
    let flat = true;
    let lastWall = run.start.wall;
    /** A crossing seen in a snapshot since the EA was last unlocked. */
    let crossedSinceUnlock = false;
    let tickCrossed = false;
    /** The simulator's market: closed in a scenario's market-closed windows (`market` lines). */
    let marketOpen = true;
    const endedAt = agentLostAt(run) ?? run.lines.at(-1)?.wall ?? run.start.wall;
    /** Windows in which the EA sent nothing (a `silent` fault): its answers never left it. */
    const silences = run.lines.filter((l) => l.type === "fault" && l.fault === "silent")
      .map((l) => ({ from: l.wall, to: l.wall + num(l.ms) }));
    if (day === undefined || dateOf(run.start.wall) > day.date) {
      const balance = num(run.start.balance);
      day = { date: dateOf(run.start.wall), start_balance: balance, start_equity: balance };
    }
    if (peak === undefined) {
      const initial = settings.initial_balance ?? num(run.start.balance);
      peak = { initial, high_balance: initial, high_equity: initial };
    }
    if (pending !== undefined) {
      pending.deadline = run.start.wall + targetMs;
      pending.awaitingReopen = false; // a new simulator starts with the market open
    }

    const crossing = (equity: number, strict: boolean): string | undefined => {
      const d = day!;
      const p = peak!;
      const margin = strict ? -eps : eps;
      const baseline = baselineMode === "balance"
        ? d.start_balance
        : baselineMode === "equity"
        ? d.start_equity
        : Math.max(d.start_balance, d.start_equity);
      if (settings.max_daily_loss != null) {
        const limit = resolve(settings.max_daily_loss, baseline);
        if (equity <= baseline - limit + margin) return "max_daily_loss";
      }
      if (settings.max_profit != null) {
        const limit = resolve(settings.max_profit, baseline);
        if (equity >= baseline + limit - margin) return "max_profit";
      }
      const dd = settings.max_drawdown;
      if (dd != null) {
        const mode = dd.mode ?? "static";
        const reference = mode === "static"
          ? p.initial
          : mode === "trailing_balance"
          ? p.high_balance
          : p.high_equity;
        let floor = reference - resolve(dd.limit, p.initial);
        if (dd.stop_at_initial === true && mode !== "static") floor = Math.min(floor, p.initial);
        if (equity <= floor + margin) return "max_drawdown";
      }
      return undefined;
    };

    const settle = (wall: number) => {
      if (pending === undefined || !locked || !flat) return;
      verdict.enforced++;
      verdict.breachToFlatMs.push(wall - pending.wall);
      verdict.refusedMs.push(pending.refusedMs);
      if (wall > due(pending)) {
        verdict.missed.push({
          wall: pending.wall,
          what: `${pending.rule} crossed; locked and flat only after ${wall - pending.wall} ms ` +
            `(target ${within(targetMs, pending)})`,
        });
      }
      pending = undefined;
    };

    for (const line of run.lines) {
      lastWall = line.wall;
      if (pending !== undefined && line.wall > due(pending) && !(locked && flat)) {
        verdict.missed.push({
          wall: pending.wall,
          what:
            `${pending.rule} crossed; not locked and flat within ${within(targetMs, pending)} ` +
            `(locked ${locked}, flat ${flat})`,
        });
        pending = undefined;
      }
      switch (line.type) {
        case "account": {
          flat = num(line.positions) === 0 && num(line.orders) === 0;
          const crossed = crossing(num(line.equity), true) !== undefined;
          if (crossed && !tickCrossed && !locked) tickCrossed = true;
          settle(line.wall);
          break;
        }
        case "snapshot": {
          const equity = num(line.equity);
          const balance = num(line.balance);
          flat = num(line.positions) === 0 && num(line.orders) === 0;
          const date = dateOf(line.wall);
          if (date > day.date) {
            day = { date, start_balance: balance, start_equity: equity };
          }
          peak.high_balance = Math.max(peak.high_balance, balance);
          peak.high_equity = Math.max(peak.high_equity, equity);
          if (crossing(equity, false) !== undefined) crossedSinceUnlock = true;
          const rule = crossing(equity, true);
          // While locked the breach is being enforced: positions the trader opens meanwhile are
          // the EA's to close, not a new breach.
          if (rule !== undefined && pending === undefined && !locked) {
            tickCrossed = false;
            verdict.crossings++;
            pending = {
              wall: line.wall,
              rule,
              deadline: line.wall + targetMs,
              refusedMs: 0,
              awaitingReopen: false,
            };
          } else if (rule === undefined && tickCrossed && pending === undefined) {
            verdict.transient++;
            tickCrossed = false;
          }
          break;
        }
        case "lock": {
          if (line.locked === true) {
            if (!locked && !crossedSinceUnlock && !carriedLock) {
              verdict.falseLocks.push({
                wall: line.wall,
                what: `EA locked without a crossing (equity within every limit)`,
              });
            }
            locked = true;
            settle(line.wall);
          } else {
            locked = false;
            carriedLock = false;
            crossedSinceUnlock = false;
          }
          break;
        }
        case "trade": {
          const refused = line.action === "requote" || line.action === "market_closed";
          if (pending === undefined || !refused) break;
          // The refused request ended at `wall` after `ms`; only its part after the crossing.
          const ms = Math.max(0, Math.min(num(line.ms ?? 0), line.wall - pending.wall));
          pending.deadline += ms;
          pending.refusedMs += ms;
          if (line.action === "market_closed" && !marketOpen) pending.awaitingReopen = true;
          break;
        }
        case "market": {
          marketOpen = line.open === true;
          if (marketOpen && pending?.awaitingReopen === true) {
            pending.awaitingReopen = false;
            pending.deadline = Math.max(pending.deadline, line.wall + targetMs);
          }
          break;
        }
        case "command": {
          if (options.checkManagers !== false) {
            const holder = holderAt(events, line.wall);
            if (holder !== undefined && !manager.includes(holder)) {
              verdict.foreignCommands.push({
                wall: line.wall,
                what: `${commandType(line)} ${line.id} received from the process of pid ${
                  manager[0]
                } after pid ${holder} took the lease`,
              });
            }
          }
          break;
        }
        case "ack": {
          if (line.ok === true || line.ok === false) {
            const command = run.lines.find((l) => l.type === "command" && l.id === line.id);
            if (command !== undefined && PROTECTIVE.has(commandType(command))) {
              const exempt = line.wall >= endedAt - STOP_LOSS_MS ||
                silences.some((w) => line.wall >= w.from && line.wall <= w.to);
              acked.push({ id: String(line.id), wall: line.wall, exempt });
            }
          }
          break;
        }
      }
    }
    if (pending !== undefined && lastWall <= due(pending)) {
      // The run ended before the target time: the next run must enforce it (checked there).
      if (run === runs[runs.length - 1]) {
        verdict.undecided.push({
          wall: pending.wall,
          what: `${pending.rule} crossed ${lastWall - pending.wall} ms before the log ends`,
        });
        pending = undefined;
      }
    } else if (pending !== undefined) {
      verdict.missed.push({
        wall: pending.wall,
        what: `${pending.rule} crossed; not locked and flat within ${within(targetMs, pending)}`,
      });
      pending = undefined;
    }
    carriedLock = locked || carriedLock && !run.lines.some((l) => l.type === "lock");
  }

  checkAcks(acked, events, verdict);
  verdict.ok = verdict.missed.length === 0 && verdict.falseLocks.length === 0 &&
    verdict.foreignCommands.length === 0 && verdict.missingEvents.length === 0 &&
    verdict.disorderedEvents.length === 0;
  return verdict;
}

/**
 * When the run lost its agent for good: its last `link` down with no `link` up after it, before
 * the run's end (none when the link came back, or the run has no `link` lines).
 */
function agentLostAt(run: TruthRun): number | undefined {
  const last = run.lines.findLast((l) => l.type === "link");
  return last !== undefined && last.up === false ? last.wall : undefined;
}

/** Every acked protective command has its ack event once, in the EA's order. */
function checkAcks(
  acked: readonly { id: string; wall: number; exempt: boolean }[],
  events: readonly OracleEvent[],
  verdict: AccountVerdict,
): void {
  const stored = events.filter((e) => e.type === "ack" && typeof e.detail.id === "string")
    .map((e) => String(e.detail.id));
  const counts = new Map<string, number>();
  for (const id of stored) counts.set(id, (counts.get(id) ?? 0) + 1);
  for (const [id, count] of counts) {
    if (count > 1) {
      verdict.disorderedEvents.push({ wall: 0, what: `ack ${id} stored ${count} times` });
    }
  }
  const position = new Map(stored.map((id, index) => [id, index]));
  let previous = -1;
  for (const ack of acked) {
    const index = position.get(ack.id);
    if (index === undefined) {
      if (ack.exempt) verdict.exemptEvents++;
      else verdict.missingEvents.push({ wall: ack.wall, what: `no ack event for ${ack.id}` });
      continue;
    }
    if (index < previous) {
      verdict.disorderedEvents.push({
        wall: ack.wall,
        what: `ack ${ack.id} stored before an ack the EA sent earlier`,
      });
    }
    previous = Math.max(previous, index);
  }
}

/** The pid of the process whose lease was the latest taken at `wall`, from lifecycle events. */
function holderAt(events: readonly OracleEvent[], wall: number): number | undefined {
  let holder: number | undefined;
  for (const event of events) {
    if (event.at > wall) break;
    if (event.type === "lifecycle" && /^risk process started/.test(event.message)) {
      const pid = event.detail.pid;
      if (typeof pid === "number") holder = pid;
    }
  }
  return holder;
}

function commandType(line: TruthLine): string {
  const command = line.command as { type?: unknown } | undefined;
  return typeof command?.type === "string" ? command.type : "?";
}

function resolve(limit: OracleLimit, base: number): number {
  if (typeof limit === "number") return limit;
  const text = limit.trim();
  if (text.endsWith("%")) return (base * Number(text.slice(0, -1))) / 100;
  return Number(text);
}

function parseReset(text: string): number {
  const match = /^(\d{2}):(\d{2})$/.exec(text);
  if (match === null) throw new Error(`daily.reset must be HH:MM, got ${text}`);
  return (Number(match[1]) * 60 + Number(match[2])) * 60_000;
}

function num(value: unknown): number {
  return typeof value === "number" ? value : Number(value);
}

/** A one-line summary of a verdict, for test messages and the soak report. */
export function describeVerdict(verdict: AccountVerdict): string {
  const parts = [
    `${verdict.crossings} crossings, ${verdict.enforced} enforced`,
    `${verdict.missed.length} missed`,
    `${verdict.falseLocks.length} false locks`,
    `${verdict.foreignCommands.length} foreign commands`,
    `${verdict.missingEvents.length} missing events`,
    `${verdict.disorderedEvents.length} disordered events`,
    `${verdict.undecided.length} undecided`,
  ];
  const findings = [
    ...verdict.missed,
    ...verdict.falseLocks,
    ...verdict.foreignCommands,
    ...verdict.missingEvents,
    ...verdict.disorderedEvents,
  ].slice(0, 5).map((f) => `${new Date(f.wall).toISOString()} ${f.what}`);
  return parts.join(", ") + (findings.length > 0 ? `: ${findings.join("; ")}` : "");
}
