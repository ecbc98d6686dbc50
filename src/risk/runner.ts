/**
 * The risk process of one account: takes the element's lease, starts its terminal (or the
 * simulator) with the bridge EA, evaluates the rules on every snapshot and enforces their
 * actions, records everything in `events`, keeps the element's state and metrics up to date,
 * pings, and applies configuration changes live.
 *
 * Safety rules of this loop:
 * - built-in rules are evaluated synchronously on every snapshot; plugins run in workers and
 *   their actions are merged when they arrive, so a slow plugin never delays a built-in;
 * - store writes go through a {@link WriteQueue}: a database outage never pauses enforcement;
 * - a lock survives restarts (element `trading`, `locked_until`, and the EA's own lock mode);
 * - silence from the EA raises an alarm, and a longer silence restarts the terminal;
 * - a lost lease stops the process at once: another manager owns the account.
 *
 * @module
 */
import type { Logger } from "@logtape/logtape";
import { Bridge, type BridgeEvent, makeToken } from "../mt5/bridge.ts";
import type { Snapshot } from "../mt5/protocol.ts";
import type { SimLaunchMode } from "../mt5/sim/launch.ts";
import {
  launchTerminal,
  type LaunchTerminalOptions,
  type TerminalHandle,
} from "../mt5/terminal.ts";
import type { Action, RiskSettings } from "../rules/rule.ts";
import { parseRiskSettings } from "../rules/settings.ts";
import { formatLoadError, PluginHost, type PluginSpec } from "../rules/plugins.ts";
import { resolveLimit } from "../rules/helpers.ts";
import { type Clock, systemClock } from "../shared/clock.ts";
import { abortableSleep } from "../shared/async.ts";
import { describeError, RiskGuardError } from "../shared/errors.ts";
import { accountLogger } from "../shared/logging.ts";
import {
  type Element,
  type ElementChange,
  type Instance,
  type Lease,
  type ManagedPatch,
  revealPassword,
  type Store,
  type TradingState,
} from "../store/mod.ts";
import { type EngineState, evaluateSnapshot, mergeLateActions } from "./engine.ts";
import { Executor, type ExecutorEvent, type ProtectiveAction } from "./executor.ts";
import type { Notification, WebhookNotifier } from "./notifier.ts";
import { WriteQueue } from "./write_queue.ts";

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
  leaseStaleMs: 300_000,
  metricsIntervalMs: 5_000,
  snapshotAlarmMs: 10_000,
  terminalRestartMs: 60_000,
  ackTimeoutMs: 5_000,
  retryBaseMs: 1_000,
  escalateAfter: 3,
  feedRetryMs: 2_000,
};

/** A line of live status, after every snapshot (the demo prints it). */
export interface RiskStatus {
  element_id: string;
  seq: number;
  balance: number;
  equity: number;
  currency: string;
  /** `equity - baseline`. */
  daily_pnl: number;
  /** The daily loss limit in money, when configured. */
  daily_loss_limit: number | undefined;
  trading: TradingState;
  positions: number;
  orders: number;
  /** True while the EA is silent past the alarm threshold. */
  stale: boolean;
}

/** An audit event as the risk process records it (every field filled in). */
export interface RiskEvent {
  element_id: string;
  /** UTC epoch ms. */
  at: number;
  /** `lifecycle`, `breach`, `warning`, `command`, `ack`, `lock`, `unlock` or `error`. */
  type: string;
  message: string;
  rule: string | null;
  /** The snapshot's server time when the event comes from one. */
  server_time: number | null;
  detail: Record<string, unknown>;
  host: string;
}

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
}

/**
 * Guards one account until `signal` aborts (resolves) or a fatal error happens (rejects with a
 * {@link RiskGuardError}: `ELEMENT_INVALID`/`ELEMENT_HELD`/`NOT_FOUND` exit 2, `LEASE_LOST` 1).
 */
export async function runRisk(options: RiskRunOptions): Promise<void> {
  const runner = new RiskRunner(options);
  await runner.run();
}

class RiskRunner {
  readonly #o: RiskRunOptions;
  readonly #timing: RiskTiming;
  readonly #clock: Clock;
  readonly #store: Store;
  readonly #log: Logger;
  readonly #writes: WriteQueue;
  readonly #stop = new AbortController();
  #fatal: unknown;

  #element!: Element;
  #settings!: RiskSettings;
  #lease!: Lease;
  #bridge: Bridge | undefined;
  #terminal: TerminalHandle | undefined;
  #plugins: PluginHost | undefined;
  #executor!: Executor;

  #engine: EngineState = {};
  #fresh = true;
  #trading: TradingState = "ALLOWED";
  #lockedUntil: number | null = null;
  #lockReason: string | null = null;
  /** True once the current trading state is known to be in the store. */
  #tradingPersisted = true;
  #lastSnapshot: Snapshot | undefined;
  #lastMetricsAt = 0;
  #silentSince: number | undefined;
  #pluginsKey = "";
  /** When an unlock was last sent to the EA in this EA session (retried until it holds). */
  #eaUnlockAt: number | undefined;
  /** Detaches the listener of the current bridge. */
  #bridgeOff: (() => void) | undefined;
  /** A terminal restart in progress; shutdown waits for it so nothing it starts is orphaned. */
  #restartPromise: Promise<void> | undefined;

  constructor(options: RiskRunOptions) {
    this.#o = options;
    this.#timing = { ...DEFAULT_RISK_TIMING, ...options.timing };
    this.#clock = options.clock ?? systemClock;
    this.#store = options.store;
    this.#log = accountLogger(options.elementId, "risk");
    this.#writes = new WriteQueue({
      log: this.#log,
      onFatal: (error) => this.#die(error),
      onOnlineChange: (online) => {
        if (online) this.#log.info("store reachable again: queued writes flushed");
        else this.#log.warn("store unreachable: enforcing from local state, writes queued");
      },
    });
  }

  async run(): Promise<void> {
    const onAbort = () => this.#stop.abort();
    this.#o.signal.addEventListener("abort", onAbort, { once: true });
    if (this.#o.signal.aborted) this.#stop.abort();
    try {
      await this.#start();
      await Promise.all([this.#feedLoop(), this.#timers()]);
    } catch (error) {
      // Once the lease is held, say on the element why this process could not go on.
      if (this.#lease !== undefined) {
        const message = describeError(error);
        this.#record("error", `risk process failed: ${message}`);
        this.#persist({
          error: {
            code: error instanceof RiskGuardError ? error.code : "CRASH",
            message,
            at: this.#clock.now(),
          },
        });
      }
      throw error;
    } finally {
      this.#o.signal.removeEventListener("abort", onAbort);
      await this.#shutdown();
    }
    if (this.#fatal !== undefined) throw this.#fatal;
  }

  // ---------------------------------------------------------------- start

  async #start(): Promise<void> {
    const now = this.#clock.now();
    const parsed = await this.#store.getElement(this.#o.elementId);
    if (parsed === null) {
      throw new RiskGuardError("NOT_FOUND", `No element with id ${this.#o.elementId}`);
    }
    if (!parsed.valid) {
      const message = `Element ${parsed.id} is invalid: ${parsed.field} ${parsed.reason}`;
      await this.#store.setElementStatus(parsed.id, "ERROR", {
        error: { code: "ELEMENT_INVALID", message, at: now },
        now,
      }).catch(() => {});
      throw new RiskGuardError("ELEMENT_INVALID", message);
    }
    if (parsed.element.status === "DISABLED") {
      throw new RiskGuardError(
        "CONFIG_INVALID",
        `Element ${parsed.id} is DISABLED; enable it with \`riskguard elements enable ${parsed.id}\``,
      );
    }
    this.#element = parsed.element;
    this.#settings = this.#settingsOf(parsed.element);

    const instance = await this.#resolveInstance(parsed.element);
    this.#lease = await this.#takeLease(instance, now);
    this.#log.info("lease {lease} taken on instance {instance} ({path}, port {port})", {
      lease: this.#lease.lease,
      instance: instance._id,
      path: this.#pathway(instance),
      port: instance.port,
    });
    this.#restoreState(parsed.element);
    this.#executor = new Executor({
      sender: { send: (command) => this.#requireBridge().send(command) },
      clock: this.#clock,
      dryRun: this.#o.dryRun === true,
      retryBaseMs: this.#timing.retryBaseMs,
      escalateAfter: this.#timing.escalateAfter,
      onEvent: (event) => this.#onExecutorEvent(event),
    });
    if (this.#trading !== "ALLOWED") {
      this.#executor.holdLocked(this.#lockedUntil ?? 0, "lock", this.#lockReason ?? "locked");
    }
    this.#persist({ status: "ACTIVE", error: null });
    this.#record("lifecycle", `risk process started (lease ${this.#lease.lease})`, {
      detail: {
        instance_id: instance._id,
        pathway: this.#pathway(instance),
        dry_run: this.#o.dryRun === true,
        pid: Deno.pid,
      },
    });

    await this.#loadPlugins();
    await this.#connectTerminal(instance);
    this.#silentSince = this.#clock.now();
  }

  async #resolveInstance(element: Element): Promise<Instance> {
    const wanted = this.#o.instanceId ?? element.instance_id ?? undefined;
    if (wanted !== undefined) {
      const instance = await this.#store.getInstance(wanted);
      if (instance === null) throw new RiskGuardError("NOT_FOUND", `No instance with id ${wanted}`);
      return instance;
    }
    if (this.#o.pathway === undefined) {
      throw new RiskGuardError(
        "CONFIG_INVALID",
        `Element ${element._id} has no instance: pass --instance <id> or --pathway <terminal folder>`,
      );
    }
    // Run by hand with only a pathway: use this host's instance for that folder, or register it.
    const existing = (await this.#store.listInstances({ host: this.#o.host }))
      .find((instance) => instance.path === this.#o.pathway);
    return existing ?? await this.#store.addInstance({ path: this.#o.pathway, host: this.#o.host });
  }

  async #takeLease(instance: Instance, now: number): Promise<Lease> {
    try {
      return await this.#store.takeLease(this.#o.elementId, instance._id, {
        host: this.#o.host,
        now,
        staleAfterMs: this.#timing.leaseStaleMs,
      });
    } catch (error) {
      if (error instanceof RiskGuardError && error.code === "ELEMENT_HELD") {
        const current = await this.#store.getElement(this.#o.elementId).catch(() => null);
        const doc = current?.valid ? current.element : undefined;
        const age = doc?.last_ping == null
          ? "never pinged"
          : `last ping ${Math.round((now - doc.last_ping) / 1000)} s ago`;
        throw new RiskGuardError(
          "ELEMENT_HELD",
          `Element ${this.#o.elementId} is held by a live manager: host ${doc?.host ?? "?"}, ` +
            `instance ${doc?.instance_id ?? "?"}, ${age}. Stop it first, or wait until its ` +
            `lease is stale (${Math.round(this.#timing.leaseStaleMs / 1000)} s without a ping).`,
          { cause: error },
        );
      }
      throw error;
    }
  }

  #restoreState(element: Element): void {
    this.#trading = element.trading;
    this.#lockedUntil = element.locked_until;
    this.#lockReason = element.lock_reason;
    this.#engine = {
      day: element.day ?? undefined,
      peak: element.peak ?? undefined,
    };
  }

  #pathway(instance: Instance): string {
    return this.#o.pathway ?? instance.path;
  }

  /** Binds a bridge with a fresh token, listens to it, and starts the terminal for it. */
  async #connectTerminal(instance: Instance): Promise<void> {
    const token = makeToken();
    this.#bridge = await Bridge.open({
      port: instance.port,
      token,
      expectedLogin: this.#element.login,
      clock: this.#clock,
      ackTimeoutMs: this.#timing.ackTimeoutMs,
      staleAfterMs: this.#timing.snapshotAlarmMs,
    });
    this.#bridgeOff?.();
    this.#bridgeOff = this.#bridge.on((event) => {
      try {
        this.#onBridgeEvent(event);
      } catch (error) {
        // A bug in handling one event must not end enforcement of the next ones.
        this.#log.error("failed to handle bridge event {type}: {error}", {
          type: event.type,
          error: describeError(error),
        });
      }
    });
    this.#terminal = await this.#launchTerminal(instance, token);
  }

  async #launchTerminal(instance: Instance, token: string): Promise<TerminalHandle> {
    const password = await revealPassword(this.#element, this.#o.secretKey);
    const launch = this.#o.launchTerminal ?? launchTerminal;
    const terminal = await launch({
      path: this.#pathway(instance),
      login: this.#element.login,
      password,
      server: this.#element.server,
      port: instance.port,
      symbol: instance.symbol,
      token,
      ...(this.#o.sim?.mode === undefined ? {} : { simMode: this.#o.sim.mode }),
      ...(this.#o.sim?.seed === undefined ? {} : { simSeed: this.#o.sim.seed }),
      ...(this.#o.sim?.speed === undefined ? {} : { simSpeed: this.#o.sim.speed }),
      onEvent: (event) => {
        if (event.type === "exited") {
          this.#record("error", `terminal exited with code ${event.code}`, {
            detail: { code: event.code, restart_in_ms: event.restartInMs },
          });
        } else if (event.type === "error") {
          this.#record("error", `terminal: ${event.error.message}`);
        }
      },
    });
    this.#o.onTerminal?.(terminal);
    return terminal;
  }

  async #loadPlugins(): Promise<void> {
    const specs: PluginSpec[] = [
      ...this.#settings.rules.map((rule) => ({ module: rule.module, options: rule.options })),
      ...(this.#o.ruleFiles ?? []).map((module) => ({ module })),
    ];
    const key = JSON.stringify(specs);
    if (key === this.#pluginsKey) return;
    this.#pluginsKey = key;
    const previous = this.#plugins;
    this.#plugins = undefined;
    await previous?.close();
    if (specs.length === 0) return;
    this.#plugins = await PluginHost.start(specs, { clock: this.#clock });
    for (const error of this.#plugins.loadErrors) {
      const message = `rule plugin failed to load: ${formatLoadError(error)}`;
      this.#log.error(message);
      this.#record("error", message, { rule: error.module, detail: { ...error } });
      this.#persist({ error: { code: "PLUGIN_LOAD", message, at: this.#clock.now() } });
      this.#notify("error", "critical", message, error.module);
    }
  }

  // ---------------------------------------------------------------- loops

  async #feedLoop(): Promise<void> {
    while (!this.#stop.signal.aborted) {
      const feed = this.#store.watchElements({ elementId: this.#o.elementId });
      const onAbort = () => void feed.close();
      this.#stop.signal.addEventListener("abort", onAbort, { once: true });
      try {
        for await (const change of feed) {
          if (this.#stop.signal.aborted) break;
          await this.#onElementChange(change);
        }
      } catch (error) {
        this.#log.warn("live configuration feed failed, retrying: {error}", {
          error: describeError(error),
        });
      } finally {
        this.#stop.signal.removeEventListener("abort", onAbort);
        await feed.close().catch(() => {});
      }
      await abortableSleep(this.#timing.feedRetryMs, this.#stop.signal);
    }
  }

  async #timers(): Promise<void> {
    const pid = () => this.#terminal?.pid ?? Deno.pid;
    const tick = Math.min(this.#timing.pingIntervalMs, 1_000);
    let lastPing = Number.NEGATIVE_INFINITY;
    while (!this.#stop.signal.aborted) {
      const now = this.#clock.now();
      if (now - lastPing >= this.#timing.pingIntervalMs) {
        lastPing = now;
        const lease = this.#lease;
        this.#writes.submit({
          kind: "ping",
          key: "ping",
          run: () => this.#store.ping(lease, this.#clock.now(), { pid: pid() }),
        });
      }
      this.#checkSilence(now);
      await abortableSleep(tick, this.#stop.signal);
    }
  }

  // ---------------------------------------------------------------- bridge events

  #onBridgeEvent(event: BridgeEvent): void {
    switch (event.type) {
      case "hello":
        this.#silentSince = undefined;
        this.#eaUnlockAt = undefined;
        // Nobody watched the account while the EA was away: if a reset passed meanwhile, the
        // day is rebuilt from the terminal's own figures instead of rolled over from now.
        this.#fresh = true;
        void this.#terminal?.helloReceived().catch((error) =>
          this.#log.warn("could not remove startup files: {error}", { error: describeError(error) })
        );
        this.#record(
          "lifecycle",
          event.restart ? "EA said hello again (restart)" : "EA connected",
          {
            server_time: event.hello.server_time,
            detail: {
              ea_version: event.hello.ea_version,
              terminal_build: event.hello.terminal_build,
              locked: event.hello.locked,
            },
          },
        );
        break;
      case "snapshot":
        this.#onSnapshot(event.snapshot);
        break;
      case "heartbeat":
        this.#silentSince = undefined;
        break;
      case "stale":
        this.#silentSince ??= this.#clock.now() - event.silentMs;
        this.#record("error", `no data from the EA for ${Math.round(event.silentMs / 1000)} s`, {
          detail: { silent_ms: event.silentMs },
        });
        this.#notify("error", "warning", "bridge silent: account data is stale");
        break;
      case "fresh":
        this.#silentSince = undefined;
        this.#fresh = true; // as after a hello: the silence may have spanned a reset
        this.#record("lifecycle", "EA data flowing again");
        break;
      case "protocol_mismatch":
        this.#record("error", `EA speaks protocol ${event.protocol}, expected another version`);
        this.#notify("error", "critical", "bridge protocol mismatch: update the EA");
        break;
      case "wrong_account":
        this.#record("error", `EA reports login ${event.login}, not ${this.#element.login}`);
        break;
      case "auth_failure":
        this.#record(
          "error",
          `bridge ${event.socket} socket refused a peer with wrong credentials`,
        );
        break;
      case "dropped":
        this.#log.debug("dropped a bridge message ({reason}): {detail}", {
          reason: event.reason,
          detail: event.detail,
        });
        break;
      default:
        break;
    }
  }

  #onSnapshot(snapshot: Snapshot): void {
    this.#silentSince = undefined;
    this.#lastSnapshot = snapshot;
    const now = this.#clock.now();
    const evaluation = evaluateSnapshot({
      snapshot,
      settings: this.#settings,
      state: this.#engine,
      now,
      fresh: this.#fresh,
    });
    this.#fresh = false;
    const dayChanged = evaluation.day_change !== "same" ||
      evaluation.state.day.date !== this.#engine.day?.date;
    this.#engine = evaluation.state;
    if (dayChanged && evaluation.day_estimated) {
      this.#record(
        "warning",
        "trading day rebuilt mid-day with a reset that is not 00:00 server time: the start " +
          "balance is an estimate that counts all of the terminal's realized losses of today",
        { server_time: snapshot.server_time, detail: { ...evaluation.state.day } },
      );
    }
    if (dayChanged) {
      this.#record(
        "lifecycle",
        `trading day ${evaluation.state.day.date} (${evaluation.day_change})`,
        {
          server_time: snapshot.server_time,
          detail: { ...evaluation.state.day },
        },
      );
      this.#persist({ day: evaluation.state.day, peak: evaluation.state.peak });
    }
    for (const error of evaluation.errors) {
      this.#record("error", `rule ${error.rule} failed: ${error.message}`, { rule: error.rule });
    }
    this.#expireLock(now);
    this.#reconcileEaLock(snapshot);
    this.#log.debug("snapshot {seq}: equity {equity}, day P/L {pnl}, {count} action(s)", {
      seq: snapshot.seq,
      equity: snapshot.account.equity,
      pnl: round2(evaluation.context.day.pnl),
      count: evaluation.actions.length,
    });
    this.#enforce(snapshot, evaluation.actions, evaluation.context.day.ends_at);
    this.#askPlugins(evaluation.context, evaluation.state.day.date);
    this.#writeMetrics(snapshot, evaluation.context.day.pnl, now);
    this.#observe(() => this.#o.onStatus?.(this.#status(snapshot, evaluation.context.day.pnl)));
  }

  #askPlugins(context: Parameters<PluginHost["evaluate"]>[0], date: string): void {
    const plugins = this.#plugins;
    if (plugins === undefined) return;
    void plugins.evaluate(context).then((outcome) => {
      if (this.#stop.signal.aborted) return;
      for (const error of outcome.errors) {
        // Where in the plugin and on which snapshot: what its author needs to fix it.
        const at = error.file === undefined
          ? ""
          : ` at ${error.file}${error.line === undefined ? "" : `:${error.line}`}`;
        this.#record("error", `rule plugin ${error.rule} ${error.kind}${at}: ${error.message}`, {
          rule: error.rule,
          server_time: context.snapshot.server_time,
          detail: { ...error },
        });
      }
      if (outcome.actions.length === 0) return;
      // An answer about a previous trading day is stale: its locks would end at that day's
      // reset and its once-a-day memory belongs to that day.
      if (date !== this.#engine.day?.date) return;
      const merged = mergeLateActions(outcome.actions, this.#engine.notified, date);
      this.#engine = { ...this.#engine, notified: merged.memory };
      const snapshot = this.#lastSnapshot;
      if (snapshot !== undefined) {
        this.#enforce(snapshot, merged.actions, context.day.ends_at);
      }
    }, (error) => {
      this.#log.error("plugin evaluation failed: {error}", { error: describeError(error) });
    });
  }

  // ---------------------------------------------------------------- enforcement

  #enforce(snapshot: Snapshot, actions: readonly Action[], dayEndsAt: number): void {
    const protective: ProtectiveAction[] = [];
    let locked = false;
    for (const action of actions) {
      switch (action.type) {
        case "notify":
          this.#record("warning", action.reason, {
            rule: action.rule,
            server_time: snapshot.server_time,
            detail: { level: action.level },
          });
          this.#notify("warning", action.level, action.reason, action.rule);
          break;
        case "lock": {
          // A day lock must end in the future; one that does not (a rule's mistake) holds
          // until the end of the trading day instead of flapping on every snapshot.
          const until = action.scope === "permanent"
            ? 0 // permanent means permanent, whatever `until` a plugin put beside it
            : action.until <= this.#clock.now()
            ? dayEndsAt
            : action.until;
          const lock = { ...action, until };
          locked = this.#applyLock(lock.scope, lock.until, lock.rule, lock.reason, snapshot) ||
            locked;
          protective.push(lock);
          break;
        }
        default:
          protective.push(action);
      }
    }
    const started = this.#executor.apply(snapshot, protective);
    // A lock records its own breach, and while locked every close belongs to that lock. Other
    // new targets (one position over its risk, a close before the weekend) are breaches of
    // their own; targets already in progress are not recorded again, so a breach that lasts
    // many snapshots is one event.
    if (locked || this.#trading !== "ALLOWED") return;
    for (const action of started) {
      if (action.type === "lock") continue;
      this.#record("breach", action.reason, {
        rule: action.rule,
        server_time: snapshot.server_time,
        detail: { action: action.type, ...("ticket" in action ? { ticket: action.ticket } : {}) },
      });
    }
  }

  /** Moves to a locked state; returns false when the account is already locked as strictly. */
  #applyLock(
    scope: "day" | "permanent",
    until: number,
    rule: string,
    reason: string,
    snapshot: Snapshot,
  ): boolean {
    const next: TradingState = scope === "permanent" ? "LOCKED" : "LOCKED_DAY";
    if (this.#trading === "LOCKED") return false;
    if (
      this.#trading === "LOCKED_DAY" && next === "LOCKED_DAY" && (this.#lockedUntil ?? 0) >= until
    ) {
      return false;
    }
    this.#trading = next;
    this.#lockedUntil = next === "LOCKED" ? null : until;
    this.#lockReason = reason;
    this.#record("breach", reason, { rule, server_time: snapshot.server_time });
    const dry = this.#o.dryRun === true ? "dry run: would be " : "";
    this.#record("lock", `${dry}${next}: ${reason}`, {
      rule,
      server_time: snapshot.server_time,
      detail: {
        trading: next,
        until: this.#lockedUntil,
        equity: snapshot.account.equity,
        balance: snapshot.account.balance,
      },
    });
    this.#persistTrading();
    this.#notify("lock", "critical", `account locked (${next}): ${reason}`, rule);
    this.#log.warn("account locked ({trading}) by {rule}: {reason}", {
      trading: next,
      rule,
      reason,
    });
    return true;
  }

  /** Ends a day lock once its time has come. */
  #expireLock(now: number): void {
    if (this.#trading !== "LOCKED_DAY" || this.#lockedUntil === null || now < this.#lockedUntil) {
      return;
    }
    this.#unlock(`day lock ended at ${new Date(this.#lockedUntil).toISOString()}`);
  }

  /**
   * The element is the truth: when it says ALLOWED but the EA still holds a lock of its own (a
   * person unlocked the account while no risk process ran, or an unlock did not land), the EA
   * is unlocked, and the unlock is resent every few seconds until a snapshot shows it took. A
   * lock this process decides on is held by the executor and never undone here.
   */
  #reconcileEaLock(snapshot: Snapshot): void {
    if (this.#trading !== "ALLOWED" || !snapshot.locked || this.#executor.holding) return;
    if (this.#o.dryRun === true) return;
    const now = this.#clock.now();
    if (this.#eaUnlockAt !== undefined && now - this.#eaUnlockAt < EA_UNLOCK_RETRY_MS) return;
    if (this.#eaUnlockAt === undefined) {
      this.#record("unlock", "the EA is locked but the account is ALLOWED: unlocking the EA", {
        server_time: snapshot.server_time,
      });
    }
    this.#sendUnlock();
  }

  /** Sends `unlock` to the EA; a failure is recorded, and reconciliation retries it. */
  #sendUnlock(): void {
    this.#eaUnlockAt = this.#clock.now();
    void this.#requireBridge().send({ type: "unlock" }).then((ack) => {
      if (!ack.ok) this.#record("error", `unlock refused by the EA (retcode ${ack.retcode})`);
    }, (error) => this.#record("error", `unlock command failed: ${describeError(error)}`));
  }

  #unlock(why: string): void {
    this.#trading = "ALLOWED";
    this.#lockedUntil = null;
    this.#lockReason = null;
    this.#executor.release();
    this.#record("unlock", why);
    this.#persistTrading();
    this.#notify("unlock", "info", `account unlocked: ${why}`);
    // Snapshots may show the EA locked until this unlock lands; reconciliation resends it
    // only if it still has not taken a few seconds later.
    if (this.#o.dryRun !== true) this.#sendUnlock();
  }

  #onExecutorEvent(event: ExecutorEvent): void {
    switch (event.type) {
      case "command_sent":
        this.#record("command", `${event.command.type} sent (attempt ${event.attempt})`, {
          rule: event.rule,
          detail: { ...event.command, attempt: event.attempt },
        });
        break;
      case "command_acked":
        this.#record(
          "ack",
          `${event.command.type} ${
            event.ack.ok ? "done" : "failed"
          } (retcode ${event.ack.retcode})`,
          {
            rule: event.rule,
            detail: { command: event.command.type, ...event.ack },
          },
        );
        break;
      case "command_failed":
        this.#record("error", `${event.command.type} not acknowledged: ${event.error}`, {
          rule: event.rule,
        });
        break;
      case "confirmed":
        this.#record(
          "lifecycle",
          `${event.target} confirmed by snapshot after ${event.attempts} attempt(s)`,
          {
            rule: event.rule,
          },
        );
        break;
      case "escalation": {
        const message =
          `${event.target} still not done after ${event.attempts} attempts: ${event.reason}`;
        this.#record("error", message, { rule: event.rule, detail: { escalation: true } });
        this.#notify("escalation", "critical", message, event.rule);
        this.#log.error(message);
        break;
      }
      case "dry_run":
        this.#record("command", `dry run: would send ${event.command.type}`, {
          rule: event.rule,
          detail: { ...event.command, dry_run: true },
        });
        break;
    }
  }

  #checkSilence(now: number): void {
    if (this.#silentSince === undefined || this.#restartPromise !== undefined) return;
    if (now - this.#silentSince < this.#timing.terminalRestartMs) return;
    this.#record(
      "error",
      `no data from the EA for ${
        Math.round((now - this.#silentSince) / 1000)
      } s: restarting the terminal`,
    );
    this.#notify("error", "critical", "terminal restarted after a long silence");
    this.#restartPromise = this.#restartTerminal().finally(() => {
      this.#restartPromise = undefined;
      this.#silentSince = this.#clock.now();
    });
  }

  async #restartTerminal(): Promise<void> {
    const instance = this.#lease.instance;
    try {
      await this.#terminal?.stop();
      if (this.#stop.signal.aborted) return;
      await this.#bridge?.close().catch(() => {});
      await this.#connectTerminal(instance);
    } catch (error) {
      this.#record("error", `terminal restart failed: ${describeError(error)}`);
    }
  }

  // ---------------------------------------------------------------- live configuration

  async #onElementChange(change: ElementChange): Promise<void> {
    if (change.op === "synced") return;
    if (change.op === "delete") {
      this.#log.warn("element deleted: stopping");
      this.#record("lifecycle", "element deleted: risk process stops");
      this.#stop.abort();
      return;
    }
    const parsed = change.element;
    if (!parsed.valid) {
      const message = `new configuration is invalid (${parsed.field} ${parsed.reason}); ` +
        `keeping the previous one`;
      this.#record("error", message);
      this.#persist({ error: { code: "ELEMENT_INVALID", message, at: this.#clock.now() } });
      return;
    }
    const element = parsed.element;
    if (element.status === "DISABLED") {
      this.#record("lifecycle", "element DISABLED: risk process stops");
      this.#stop.abort();
      return;
    }
    if (element.lease !== this.#lease.lease) {
      this.#die(
        new RiskGuardError(
          "LEASE_LOST",
          `Element ${element._id} lease moved from ${this.#lease.lease} to ${element.lease}`,
        ),
      );
      return;
    }
    this.#element = element;
    if (
      this.#o.dryRun !== true && this.#tradingPersisted && this.#trading !== "ALLOWED" &&
      element.trading === "ALLOWED" && await this.#unlockedInStore()
    ) {
      this.#unlock("unlocked by a person (element trading set to ALLOWED)");
    }
    const settings = this.#settingsOf(element);
    if (JSON.stringify(settings) !== JSON.stringify(this.#settings)) {
      if (JSON.stringify(settings.daily) !== JSON.stringify(this.#settings.daily)) {
        // Another reset time or zone means other day boundaries: rebuild the day from the
        // terminal's figures rather than keep a date label that no longer fits.
        this.#engine = { ...this.#engine, day: undefined };
        this.#fresh = true;
      }
      this.#settings = settings;
      this.#record("lifecycle", "configuration changed: new limits apply now");
      await this.#loadPlugins();
    }
  }

  /**
   * A change may be delivered with a copy of the element read before this process's own lock
   * write landed: only a fresh read that still says ALLOWED is a person's unlock. When the
   * store cannot be asked, the lock stays (the safe side).
   */
  async #unlockedInStore(): Promise<boolean> {
    const current = await this.#store.getElement(this.#o.elementId).catch(() => null);
    return current?.valid === true && current.element.trading === "ALLOWED" &&
      this.#trading !== "ALLOWED";
  }

  #settingsOf(element: Element): RiskSettings {
    return parseRiskSettings({
      max_daily_loss: element.max_daily_loss,
      max_position_risk: element.max_position_risk,
      max_profit: element.max_profit,
      max_drawdown: element.max_drawdown,
      daily: element.daily,
      warn_at: element.warn_at,
      require_stop_loss: element.require_stop_loss,
      position_risk_action: element.position_risk_action,
      max_open_positions: element.max_open_positions,
      max_total_lots: element.max_total_lots,
      max_lots_per_symbol: element.max_lots_per_symbol,
      trading_hours: element.trading_hours,
      close_before_weekend: element.close_before_weekend,
      initial_balance: element.initial_balance,
      rules: element.rules,
    });
  }

  // ---------------------------------------------------------------- persistence

  #record(
    type: string,
    message: string,
    extra: { rule?: string; server_time?: number; detail?: Record<string, unknown> } = {},
  ): void {
    const event: RiskEvent = {
      element_id: this.#o.elementId,
      at: this.#clock.now(),
      type,
      message,
      rule: extra.rule ?? null,
      server_time: extra.server_time ?? null,
      detail: extra.detail ?? {},
      host: this.#o.host,
    };
    this.#writes.submit({
      kind: "event",
      run: async () => void await this.#store.appendEvent(event),
    });
    this.#observe(() => this.#o.onEvent?.(event));
  }

  /** Runs an observer callback; its failure is logged, never allowed into enforcement. */
  #observe(callback: () => void): void {
    try {
      callback();
    } catch (error) {
      this.#log.warn("an event or status listener failed: {error}", {
        error: describeError(error),
      });
    }
  }

  #persist(patch: ManagedPatch): void {
    const lease = this.#lease;
    const key = Object.keys(patch).sort().join(",");
    this.#writes.submit({
      kind: "state",
      key,
      run: () => this.#store.updateElement(lease, patch, this.#clock.now()),
    });
  }

  #persistTrading(): void {
    // A dry run locks nothing for real, so the stored trading state must not claim it did.
    if (this.#o.dryRun === true) return;
    this.#tradingPersisted = false;
    const lease = this.#lease;
    const patch: ManagedPatch = {
      trading: this.#trading,
      locked_until: this.#lockedUntil,
      lock_reason: this.#lockReason,
    };
    this.#writes.submit({
      kind: "state",
      key: "trading",
      run: async () => {
        await this.#store.updateElement(lease, patch, this.#clock.now());
        if (patch.trading === this.#trading) this.#tradingPersisted = true;
      },
    });
  }

  #writeMetrics(snapshot: Snapshot, dailyPnl: number, now: number): void {
    if (now - this.#lastMetricsAt < this.#timing.metricsIntervalMs) return;
    this.#lastMetricsAt = now;
    const lease = this.#lease;
    const { day, peak } = this.#engine;
    const patch: ManagedPatch = {
      metrics: {
        balance: snapshot.account.balance,
        equity: snapshot.account.equity,
        daily_pl: round2(dailyPnl),
        positions: snapshot.positions.length,
        orders: snapshot.orders.length,
        updated_at: now,
      },
      ...(day === undefined ? {} : { day }),
      ...(peak === undefined ? {} : { peak }),
    };
    this.#writes.submit({
      kind: "metrics",
      key: "metrics",
      run: () => this.#store.updateElement(lease, patch, this.#clock.now()),
    });
  }

  #notify(
    kind: Notification["kind"],
    level: Notification["level"],
    message: string,
    rule?: string,
  ): void {
    this.#o.notifier?.notify({
      kind,
      level,
      message,
      element_id: this.#o.elementId,
      at: new Date(this.#clock.now()).toISOString(),
      ...(rule === undefined ? {} : { rule }),
      detail: { login: this.#element?.login, server: this.#element?.server, host: this.#o.host },
    });
  }

  #status(snapshot: Snapshot, dailyPnl: number): RiskStatus {
    const baseline = this.#engine.day?.baseline ?? snapshot.account.balance;
    const limit = this.#settings.max_daily_loss;
    return {
      element_id: this.#o.elementId,
      seq: snapshot.seq,
      balance: snapshot.account.balance,
      equity: snapshot.account.equity,
      currency: snapshot.account.currency,
      daily_pnl: round2(dailyPnl),
      daily_loss_limit: limit === undefined ? undefined : resolveLimit(limit, baseline),
      trading: this.#trading,
      positions: snapshot.positions.length,
      orders: snapshot.orders.length,
      stale: this.#bridge?.stale ?? false,
    };
  }

  // ---------------------------------------------------------------- shutdown

  #die(error: unknown): void {
    if (this.#fatal !== undefined) return;
    this.#fatal = error;
    this.#log.fatal("stopping: {error}", { error: describeError(error) });
    this.#stop.abort();
  }

  async #shutdown(): Promise<void> {
    this.#stop.abort();
    this.#bridgeOff?.(); // no more enforcement once stopping (the lease may be gone)
    await this.#restartPromise;
    await this.#plugins?.close();
    // Closing the bridge first ends commands still waiting for an ack at once (CLOSED).
    await this.#bridge?.close().catch(() => {});
    await this.#executor?.settle();
    await this.#terminal?.stop().catch(() => {});
    if (this.#lease !== undefined && this.#fatal === undefined) {
      this.#record("lifecycle", "risk process stopped");
      await this.#writes.flush(5_000);
      await this.#store.release(this.#lease, { status: "INACTIVE", now: this.#clock.now() })
        .catch((error) =>
          this.#log.warn("could not release the lease: {error}", {
            error: describeError(error),
          })
        );
    } else {
      await this.#writes.flush(2_000);
    }
    await this.#writes.close();
  }

  #requireBridge(): Bridge {
    if (this.#bridge === undefined) throw new RiskGuardError("BRIDGE_LOST", "Bridge not open");
    return this.#bridge;
  }
}

/** How often an unlock that has not taken yet is resent to the EA. */
const EA_UNLOCK_RETRY_MS = 5_000;

function round2(value: number): number {
  return Math.round(value * 100) / 100;
}
