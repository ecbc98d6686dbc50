/**
 * The risk process of one account, wired from its parts:
 *
 * - {@link claimElement} loads the element and takes its lease;
 * - a {@link LeasedWriter} sends every store write through one queue, fenced by the lease;
 * - an {@link AuditTrail} records what happens in `events` and notifies;
 * - an {@link AccountGuard} evaluates every snapshot and enforces the rules' actions;
 * - a {@link TerminalSession} runs the terminal and its bridge, restarting it after silence;
 * - a {@link LiveConfig} applies configuration changes while the process runs.
 *
 * Safety rules of this process:
 * - built-in rules are evaluated synchronously on every snapshot; plugins run in workers and
 *   their actions are merged when they arrive, so a slow plugin never delays a built-in;
 * - store writes never pause enforcement: a database outage only queues them;
 * - a lock survives restarts (element `trading`, `locked_until`, and the EA's own lock mode);
 * - silence from the EA raises an alarm, and a longer silence restarts the terminal;
 * - a lost lease stops the process at once: another manager owns the account;
 * - a stop never closes positions and never unlocks: it finishes the writes and gives the
 *   lease back; state changes the store could not take by then are kept in the local
 *   {@link StateJournal}, which the next process for the element replays before it decides.
 *
 * @module
 */
import type { BridgeEvent } from "../mt5/bridge.ts";
import type { SimLaunchMode } from "../mt5/sim/launch.ts";
import type { LaunchTerminalOptions, TerminalHandle } from "../mt5/terminal.ts";
import { type Clock, systemClock } from "../shared/clock.ts";
import { describeError, RiskGuardError } from "../shared/errors.ts";
import { accountLogger, type Logger } from "../shared/logging.ts";
import type { Store } from "../store/mod.ts";
import { AccountGuard, type RiskStatus } from "./account_guard.ts";
import { AuditTrail, type RiskEvent } from "./audit_trail.ts";
import { type ClaimedElement, claimElement } from "./element_lease.ts";
import { LeasedWriter } from "./leased_writer.ts";
import { LiveConfig, riskSettingsOf } from "./live_config.ts";
import type { WebhookNotifier } from "./notifier.ts";
import { RulePlugins } from "./rule_plugins.ts";
import type { ProtectedPath } from "../rules/plugins.ts";
import { TerminalSession } from "./terminal_session.ts";
import { type Replay, replayJournal, StateJournal } from "./state_journal.ts";
import { DEFAULT_STALE_MS } from "../shared/stale.ts";

/** Timings of the risk loop; every one can be shortened for tests. */
export interface RiskTiming {
  /** Between two pings of element and instance. */
  pingIntervalMs: number;
  /** A holder whose ping is older than this may be replaced (taking the lease by hand). */
  leaseStaleMs: number;
  /** Between two metrics writes (state changes are written at once). */
  metricsIntervalMs: number;
  /** EA silence after which an alarm is raised (bridge "stale"). */
  snapshotAlarmMs: number;
  /** EA silence after which the terminal is restarted. */
  terminalRestartMs: number;
  /** Ack timeout of one command attempt. */
  ackTimeoutMs: number;
  /** First resend delay of an unconfirmed protective command. */
  retryBaseMs: number;
  /** Attempts after which an unconfirmed command is escalated. */
  escalateAfter: number;
  /** Retry delay of the live-configuration feed after a store error. */
  feedRetryMs: number;
}

/** Defaults of {@link RiskTiming}. */
export const DEFAULT_RISK_TIMING: RiskTiming = {
  pingIntervalMs: 10_000,
  leaseStaleMs: DEFAULT_STALE_MS,
  metricsIntervalMs: 5_000,
  snapshotAlarmMs: 10_000,
  terminalRestartMs: 60_000,
  ackTimeoutMs: 5_000,
  retryBaseMs: 1_000,
  escalateAfter: 3,
  feedRetryMs: 2_000,
};

/** Options of {@link runRisk}. */
export interface RiskRunOptions {
  /** The store holding the element. */
  store: Store;
  /** The element (account) to guard. */
  elementId: string;
  /** This machine's name. */
  host: string;
  /** Terminal folder or `sim:<scenario>`; default: the instance's path. */
  pathway?: string | undefined;
  /** Instance to run on; default: the element's instance, or the instance of `pathway`. */
  instanceId?: string | undefined;
  /** Evaluate and record actions without sending them. */
  dryRun?: boolean;
  /** Extra plugin files (`--rules`), besides the element's `rules`. */
  ruleFiles?: readonly string[];
  /** Key that decrypts `password_enc`. */
  secretKey?: string | undefined;
  /** Stops the run cleanly when aborted. */
  signal: AbortSignal;
  /** Time source (rules, backoff, pings). */
  clock?: Clock;
  /** Webhook for breach/lock/error notifications. */
  notifier?: WebhookNotifier | undefined;
  /** Timings (tests shorten them). */
  timing?: Partial<RiskTiming>;
  /** How a `sim:` pathway is run (default in process), its seed and speed. */
  sim?: { mode?: SimLaunchMode; seed?: number; speed?: number };
  /** Receives a status line after every snapshot. */
  onStatus?: (status: RiskStatus) => void;
  /** Receives every audit event as it is recorded. */
  onEvent?: (event: RiskEvent) => void;
  /** Starts the terminal; default {@link launchTerminal} (benchmarks plug in a scripted EA). */
  launchTerminal?: (options: LaunchTerminalOptions) => Promise<TerminalHandle>;
  /** Receives the started terminal (tests inspect the simulator through it). */
  onTerminal?: (terminal: TerminalHandle) => void;
  /**
   * Folder of the local state journal (see {@link StateJournal}); without one, state the store
   * could not take at a stop is lost.
   */
  journalDir?: string | undefined;
  /** The log file, when logging goes to one: no plugin may share its folder. */
  logFile?: string | undefined;
}

/**
 * Guards one account until `signal` aborts (resolves) or a fatal error happens (rejects with a
 * {@link RiskGuardError}: `ELEMENT_INVALID`/`ELEMENT_HELD`/`NOT_FOUND` exit 2, `LEASE_LOST` 1).
 */
export async function runRisk(options: RiskRunOptions): Promise<void> {
  const timing = { ...DEFAULT_RISK_TIMING, ...options.timing };
  const clock = options.clock ?? systemClock;
  const log = accountLogger(options.elementId, "risk");
  const stop = new AbortController();
  const onAbort = () => stop.abort();
  options.signal.addEventListener("abort", onAbort, { once: true });
  if (options.signal.aborted) stop.abort();
  let fatal: unknown;
  const die = (error: unknown) => {
    if (fatal !== undefined) return;
    fatal = error;
    log.fatal("stopping: {error}", { error: describeError(error) });
    stop.abort();
  };
  let parts: RiskParts | undefined;
  try {
    const claimed = await claimElement({
      store: options.store,
      elementId: options.elementId,
      host: options.host,
      instanceId: options.instanceId,
      pathway: options.pathway,
      leaseStaleMs: timing.leaseStaleMs,
      now: clock.now(),
    });
    const journal = options.journalDir === undefined
      ? undefined
      : new StateJournal(options.journalDir, options.elementId);
    const replay = await readJournal(journal, claimed, clock.now(), log);
    const claim = replay === undefined ? claimed : { ...claimed, element: replay.element };
    const run = { options, timing, clock, log, signal: stop.signal, die, journal };
    parts = assemble(claim, run);
    if (replay !== undefined) recordReplay(parts, replay, journal!);
    await start(parts, claim, run);
    const { live, writer, session, guard } = parts;
    await Promise.all([
      live.run(stop.signal, { ...parts, stop: () => stop.abort(), die }),
      writer.pingUntil(stop.signal, () => session.pid),
      writer.writeMetricsUntil(stop.signal),
      guard.resendUntil(stop.signal),
      session.restartWhenSilent(stop.signal),
    ]);
  } catch (error) {
    // Once the lease is held, say on the element why this process could not go on.
    if (parts !== undefined) {
      const message = describeError(error);
      parts.audit.record("error", `risk process failed: ${message}`);
      parts.writer.patch({
        error: {
          code: error instanceof RiskGuardError ? error.code : "CRASH",
          message,
          at: clock.now(),
        },
      });
    }
    throw error;
  } finally {
    options.signal.removeEventListener("abort", onAbort);
    stop.abort();
    if (parts !== undefined) await shutdown(parts, fatal === undefined, clock, log);
  }
  if (fatal !== undefined) throw fatal;
}

/** What every part of one run shares. */
interface RunContext {
  options: RiskRunOptions;
  timing: RiskTiming;
  clock: Clock;
  log: Logger;
  /** Aborted when the process stops. */
  signal: AbortSignal;
  /** Stops the process with a fatal error. */
  die: (error: unknown) => void;
  /** The local state journal, when there is a folder for it. */
  journal: StateJournal | undefined;
}

/** The parts of a running risk process. */
interface RiskParts {
  live: LiveConfig;
  writer: LeasedWriter;
  audit: AuditTrail;
  plugins: RulePlugins;
  guard: AccountGuard;
  session: TerminalSession;
  journal: StateJournal | undefined;
}

/** Builds the parts around a held lease; nothing starts yet. */
function assemble(claim: ClaimedElement, run: RunContext): RiskParts {
  const { options, timing, clock, log, signal } = run;
  const dryRun = options.dryRun === true;
  const live = new LiveConfig({
    store: options.store,
    element: claim.element,
    retryMs: timing.feedRetryMs,
    dryRun,
    clock,
    log,
  });
  const writer = new LeasedWriter({
    store: options.store,
    lease: claim.lease,
    clock,
    dryRun,
    metricsIntervalMs: timing.metricsIntervalMs,
    pingIntervalMs: timing.pingIntervalMs,
    onFatal: run.die,
    log,
  });
  const audit = new AuditTrail({
    elementId: options.elementId,
    host: options.host,
    clock,
    store: writer,
    notifier: options.notifier,
    onEvent: options.onEvent,
    account: () => live.element,
    log,
  });
  const plugins = new RulePlugins({
    ruleFiles: options.ruleFiles ?? [],
    clock,
    audit,
    writer,
    log,
    protectedPaths: protectedPaths(options, claim.instance.path),
  });
  const guard = new AccountGuard({
    element: claim.element,
    settings: riskSettingsOf(claim.element),
    sender: { send: (command, sendOptions) => session.bridge.send(command, sendOptions) },
    clock,
    dryRun,
    retryBaseMs: timing.retryBaseMs,
    escalateAfter: timing.escalateAfter,
    plugins,
    audit,
    writer,
    stale: () => session.stale,
    onStatus: options.onStatus,
    signal,
    log,
  });
  const session = new TerminalSession({
    instance: claim.lease.instance,
    pathway: options.pathway ?? claim.instance.path,
    element: () => live.element,
    secretKey: options.secretKey,
    clock,
    ackTimeoutMs: timing.ackTimeoutMs,
    snapshotAlarmMs: timing.snapshotAlarmMs,
    terminalRestartMs: timing.terminalRestartMs,
    sim: options.sim,
    launch: options.launchTerminal,
    onTerminal: options.onTerminal,
    onBridgeEvent: (event) => routeBridgeEvent(event, guard, audit),
    audit,
    signal,
    log,
  });
  return { live, writer, audit, plugins, guard, session, journal: run.journal };
}

/**
 * The journal left by an earlier process, merged into the element as loaded. A journal that
 * cannot be read is reported and ignored: the EA's own lock still protects the account (an
 * EA lock nothing proves lifted is adopted).
 */
async function readJournal(
  journal: StateJournal | undefined,
  claim: ClaimedElement,
  now: number,
  log: Logger,
): Promise<Replay | undefined> {
  if (journal === undefined) return undefined;
  let entry;
  try {
    entry = await journal.load();
  } catch (error) {
    log.error("cannot replay the state journal: {error}", { error: describeError(error) });
    return undefined;
  }
  return entry === undefined ? undefined : replayJournal(claim.element, entry, now);
}

/** Writes what the journal added and records the replay; the file goes once it is stored. */
function recordReplay(parts: RiskParts, replay: Replay, journal: StateJournal): void {
  if (Object.keys(replay.patch).length > 0) parts.writer.patch(replay.patch);
  parts.audit.record(
    "lifecycle",
    `state replayed from the local journal left by the previous process: ${
      replay.notes.join(", ") || "nothing newer than the store"
    }`,
    { detail: { journal: journal.path, ...replay.patch } },
  );
}

/** Marks the element ACTIVE, loads the plugins and starts the terminal. */
async function start(parts: RiskParts, claim: ClaimedElement, run: RunContext): Promise<void> {
  const { writer, audit, plugins, guard, session } = parts;
  const { instance, lease } = claim;
  const pathway = run.options.pathway ?? instance.path;
  run.log.info("lease {lease} taken on instance {instance} ({path}, port {port})", {
    lease: lease.lease,
    instance: instance._id,
    path: pathway,
    port: instance.port,
  });
  writer.patch({ status: "ACTIVE", error: null });
  audit.record("lifecycle", `risk process started (lease ${lease.lease})`, {
    detail: {
      instance_id: instance._id,
      pathway,
      dry_run: run.options.dryRun === true,
      pid: Deno.pid,
    },
  });
  await plugins.load(guard.settings);
  await session.open();
}

/** Hands a bridge event to the guard (state) and the audit trail (record). */
function routeBridgeEvent(event: BridgeEvent, guard: AccountGuard, audit: AuditTrail): void {
  switch (event.type) {
    case "hello":
      guard.eaConnected();
      break;
    case "fresh":
      guard.dataFlowingAgain();
      break;
    case "snapshot":
      guard.onSnapshot(event.snapshot);
      return;
    default:
      break;
  }
  audit.recordBridgeEvent(event);
}

/**
 * Stops in order: no more enforcement (the lease may be gone), no terminal restart left
 * running, plugins stopped, commands still waiting for an ack ended, the terminal stopped;
 * then, unless the lease was lost, the latest metrics with the day and peak state are written,
 * the writes are finished and the lease is given back.
 */
async function shutdown(
  parts: RiskParts,
  leaseHeld: boolean,
  clock: Clock,
  log: Logger,
): Promise<void> {
  const { session, plugins, guard, audit, writer, journal } = parts;
  await session.detach();
  await plugins.close();
  // Closing the bridge first ends commands still waiting for an ack at once (CLOSED).
  await session.closeBridge();
  await guard.settle();
  await session.stopTerminal();
  if (leaseHeld) {
    // The latest day and peak state must survive the stop, even after a quiet market, with the
    // warnings of the last second.
    guard.flushNotified(true);
    writer.flushMetrics();
    audit.record("lifecycle", "risk process stopped");
    // Kept locally first, so that a stop cut short (admin kills a child that overruns its stop
    // timeout) still leaves it; removed again once the store took every write.
    const kept = journal !== undefined && writer.stateUnwritten &&
      await saveJournal(journal, parts, clock, log);
    const flushed = await writer.flush(STOP_FLUSH_MS);
    if (flushed && journal !== undefined) {
      await journal.clear().catch((error) =>
        log.warn("cannot remove the state journal: {error}", { error: describeError(error) })
      );
    } else if (!flushed) {
      log.warn(
        kept
          ? "store unreachable at stop: the lock, day and peak state are kept in {path}"
          : "store unreachable at stop: unwritten state changes are lost (no journal folder)",
        { path: journal?.path },
      );
    }
    await writer.release();
  } else {
    await writer.flush(2_000);
  }
  await writer.close();
}

/** How long a stop keeps retrying writes the store has not taken (admin waits 10 s by default). */
const STOP_FLUSH_MS = 5_000;

/** Saves the guard's durable state; true when it is on disk. */
async function saveJournal(
  journal: StateJournal,
  parts: RiskParts,
  clock: Clock,
  log: Logger,
): Promise<boolean> {
  try {
    await journal.save(parts.guard.durableState(), parts.writer.lease.lease, clock.now());
    return true;
  } catch (error) {
    log.error("cannot write the state journal {path}: {error}", {
      path: journal.path,
      error: describeError(error),
    });
    return false;
  }
}

/** What no plugin may share a folder with: the store file, the log file, the terminal folder. */
function protectedPaths(options: RiskRunOptions, instancePath: string): ProtectedPath[] {
  const paths: ProtectedPath[] = [];
  const store = options.store.description;
  if (store.startsWith("sqlite:")) paths.push({ path: store.slice(7), what: "the store file" });
  if (options.logFile !== undefined) paths.push({ path: options.logFile, what: "the log file" });
  const terminal = options.pathway ?? instancePath;
  if (!terminal.startsWith("sim:")) {
    paths.push({ path: terminal, what: "the terminal folder" });
  }
  return paths;
}
