/**
 * The account's terminal and its bridge: binds the bridge with a fresh token, starts the
 * terminal (or the simulator) for it, notices when the EA goes silent and restarts the terminal
 * after a long silence, and closes both in order on stop.
 *
 * @module
 */
import type { Logger } from "../shared/logging.ts";
import { Bridge, type BridgeEvent, makeToken } from "../mt5/bridge.ts";
import type { SimLaunchMode } from "../mt5/sim/launch.ts";
import {
  launchTerminal,
  type LaunchTerminalOptions,
  type TerminalHandle,
} from "../mt5/terminal.ts";
import { abortableSleep } from "../shared/async.ts";
import type { Clock } from "../shared/clock.ts";
import { describeError, RiskGuardError } from "../shared/errors.ts";
import type { Element, Instance } from "../store/mod.ts";
// The store's schema-free file, not its mod.ts: a risk process must not load the store's schemas.
import { revealPassword } from "../store/password.ts";
import type { AuditTrail } from "./audit_trail.ts";

/** Options of {@link TerminalSession}. */
export interface TerminalSessionOptions {
  /** The instance (terminal folder and bridge port) the lease is on. */
  instance: Instance;
  /** Terminal folder or `sim:<scenario>` to start. */
  pathway: string;
  /** The account as configured now (login, server, password). */
  element: () => Element;
  /** Key that decrypts `password_enc`. */
  secretKey: string | undefined;
  /** Time source of the bridge and the silence check (both on its monotonic reading). */
  clock: Clock;
  /** Ack timeout of one command. */
  ackTimeoutMs: number;
  /** EA silence after which the bridge reports `stale`. */
  snapshotAlarmMs: number;
  /** EA silence after which the terminal is restarted. */
  terminalRestartMs: number;
  /** How a `sim:` pathway is run, its seed and speed. */
  sim?: { mode?: SimLaunchMode; seed?: number; speed?: number } | undefined;
  /** Starts the terminal; default {@link launchTerminal}. */
  launch?: ((options: LaunchTerminalOptions) => Promise<TerminalHandle>) | undefined;
  /** Receives each started terminal. */
  onTerminal?: ((terminal: TerminalHandle) => void) | undefined;
  /** Receives every bridge event (after the session noted what it means for silence). */
  onBridgeEvent: (event: BridgeEvent) => void;
  /** Records terminal exits, restarts and failures. */
  audit: AuditTrail;
  /** Aborted when the process stops: a restart in progress starts nothing more. */
  signal: AbortSignal;
  /** The account's logger. */
  log: Logger;
}

/** See the module documentation. */
export class TerminalSession {
  readonly #options: TerminalSessionOptions;
  #bridge: Bridge | undefined;
  #terminal: TerminalHandle | undefined;
  /** Detaches the listener of the current bridge. */
  #bridgeOff: (() => void) | undefined;
  /** Since when (monotonic ms) the EA has sent nothing; undefined while data flows. */
  #silentSince: number | undefined;
  /** A terminal restart in progress; closing waits for it so nothing it starts is orphaned. */
  #restarting: Promise<void> | undefined;
  /** Set by {@link detach}: nothing listens to a bridge any more. */
  #detached = false;

  /** Creates a session; {@link open} starts it. */
  constructor(options: TerminalSessionOptions) {
    this.#options = options;
  }

  /** The open bridge; throws BRIDGE_LOST before {@link open} succeeded. */
  get bridge(): Bridge {
    if (this.#bridge === undefined) throw new RiskGuardError("BRIDGE_LOST", "Bridge not open");
    return this.#bridge;
  }

  /** True while the EA is silent past the alarm threshold. */
  get stale(): boolean {
    return this.#bridge?.stale ?? false;
  }

  /** Process id of the terminal, or of this process when the terminal runs inside it. */
  get pid(): number {
    return this.#terminal?.pid ?? Deno.pid;
  }

  /** Binds the bridge and starts the terminal; the silence clock starts now. */
  async open(): Promise<void> {
    await this.#connect();
    this.#silentSince = this.#options.clock.monotonic();
  }

  /** Restarts the terminal whenever the EA stays silent too long, until `signal` aborts. */
  async restartWhenSilent(signal: AbortSignal): Promise<void> {
    const tick = Math.min(1_000, Math.max(50, this.#options.terminalRestartMs / 4));
    while (!signal.aborted) {
      this.#checkSilence(this.#options.clock.monotonic());
      await abortableSleep(tick, signal);
    }
  }

  /** Stops listening to the bridge (no more enforcement) and waits for a restart in progress. */
  async detach(): Promise<void> {
    this.#detached = true;
    this.#bridgeOff?.();
    await this.#restarting;
  }

  /** Closes the bridge: commands still waiting for an ack end at once (CLOSED). */
  async closeBridge(): Promise<void> {
    await this.#bridge?.close().catch(() => {});
  }

  /** Stops the terminal. */
  async stopTerminal(): Promise<void> {
    await this.#terminal?.stop().catch(() => {});
  }

  /** Binds a bridge with a fresh token, listens to it, and starts the terminal for it. */
  async #connect(): Promise<void> {
    const { instance, clock } = this.#options;
    const token = makeToken();
    this.#bridge = await Bridge.open({
      port: instance.port,
      token,
      expectedLogin: this.#options.element().login,
      clock,
      ackTimeoutMs: this.#options.ackTimeoutMs,
      staleAfterMs: this.#options.snapshotAlarmMs,
    });
    this.#bridgeOff?.();
    // A restart that was under way when the process detached must not listen again (no more
    // enforcement after detach); the bridge it opened is closed by closeBridge.
    if (this.#detached) return;
    this.#bridgeOff = this.#bridge.on((event) => {
      try {
        this.#onBridgeEvent(event);
      } catch (error) {
        // A bug in handling one event must not end enforcement of the next ones.
        this.#options.log.error("failed to handle bridge event {type}: {error}", {
          type: event.type,
          error: describeError(error),
        });
      }
    });
    this.#terminal = await this.#launch(token);
  }

  async #launch(token: string): Promise<TerminalHandle> {
    const { instance, sim, audit } = this.#options;
    const element = this.#options.element();
    const password = await revealPassword(element, this.#options.secretKey);
    const launch = this.#options.launch ?? launchTerminal;
    const terminal = await launch({
      path: this.#options.pathway,
      login: element.login,
      password,
      server: element.server,
      port: instance.port,
      symbol: instance.symbol,
      token,
      ...(sim?.mode === undefined ? {} : { simMode: sim.mode }),
      ...(sim?.seed === undefined ? {} : { simSeed: sim.seed }),
      ...(sim?.speed === undefined ? {} : { simSpeed: sim.speed }),
      onEvent: (event) => {
        if (event.type === "exited") {
          audit.record("error", `terminal exited with code ${event.code}`, {
            detail: { code: event.code, restart_in_ms: event.restartInMs },
          });
        } else if (event.type === "error") {
          audit.record("error", `terminal: ${event.error.message}`);
        }
      },
    });
    this.#options.onTerminal?.(terminal);
    return terminal;
  }

  #onBridgeEvent(event: BridgeEvent): void {
    switch (event.type) {
      case "hello":
        this.#silentSince = undefined;
        void this.#terminal?.helloReceived().catch((error) =>
          this.#options.log.warn("could not remove startup files: {error}", {
            error: describeError(error),
          })
        );
        break;
      case "snapshot":
      case "heartbeat":
      case "fresh":
        this.#silentSince = undefined;
        break;
      case "stale":
        this.#silentSince ??= this.#options.clock.monotonic() - event.silentMs;
        break;
      default:
        break;
    }
    this.#options.onBridgeEvent(event);
  }

  #checkSilence(now: number): void {
    if (this.#silentSince === undefined || this.#restarting !== undefined) return;
    if (now - this.#silentSince < this.#options.terminalRestartMs) return;
    const { audit } = this.#options;
    audit.record(
      "error",
      `no data from the EA for ${
        Math.round((now - this.#silentSince) / 1000)
      } s: restarting the terminal`,
    );
    audit.notify("error", "critical", "terminal restarted after a long silence");
    this.#restarting = this.#restart().finally(() => {
      this.#restarting = undefined;
      this.#silentSince = this.#options.clock.monotonic();
    });
  }

  async #restart(): Promise<void> {
    try {
      await this.#terminal?.stop();
      if (this.#options.signal.aborted) return;
      await this.#bridge?.close().catch(() => {});
      await this.#connect();
    } catch (error) {
      this.#options.audit.record("error", `terminal restart failed: ${describeError(error)}`);
    }
  }
}
