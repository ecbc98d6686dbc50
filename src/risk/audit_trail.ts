/**
 * The risk process's audit trail: every breach, command, acknowledgement, lock, error and
 * lifecycle change becomes an event in `events` (and reaches the `onEvent` listener), and the
 * ones a person must hear about become webhook notifications. Bridge and executor events are
 * turned into entries here, so their wording lives in one place.
 *
 * @module
 */
import type { Logger } from "../shared/logging.ts";
import type { BridgeEvent } from "../mt5/bridge.ts";
import type { Ack } from "../mt5/protocol.ts";
import type { Clock } from "../shared/clock.ts";
import { describeError } from "../shared/errors.ts";
import type { EventType } from "../store/mod.ts";
import type { ExecutorEvent } from "./executor.ts";
import type { Notification, WebhookNotifier } from "./notifier.ts";

/** An audit event as the risk process records it (every field filled in). */
export interface RiskEvent {
  element_id: string;
  /** UTC epoch ms. */
  at: number;
  /** `lifecycle`, `breach`, `warning`, `command`, `ack`, `lock`, `unlock` or `error`. */
  type: EventType;
  message: string;
  rule: string | null;
  /** The snapshot's server time when the event comes from one. */
  server_time: number | null;
  detail: Record<string, unknown>;
  host: string;
}

/** Optional fields of an event. */
export interface EventExtra {
  /** The rule the event belongs to. */
  rule?: string;
  /** The snapshot's server time when the event comes from one. */
  server_time?: number;
  /** Structured detail. */
  detail?: Record<string, unknown>;
}

/** Options of {@link AuditTrail}. */
export interface AuditTrailOptions {
  /** The account. */
  elementId: string;
  /** This machine's name. */
  host: string;
  /** Time source of `at`. */
  clock: Clock;
  /** Where events are stored (the leased writer). */
  store: { appendEvent(event: RiskEvent): void };
  /** Webhook for breach/lock/error notifications. */
  notifier?: WebhookNotifier | undefined;
  /** Receives every event as it is recorded. */
  onEvent?: ((event: RiskEvent) => void) | undefined;
  /** The account's login and server, as configured now (notifications name them). */
  account: () => { login: number; server: string };
  /** The account's logger. */
  log: Logger;
}

/** See the module documentation. */
export class AuditTrail {
  readonly #options: AuditTrailOptions;

  /** Creates the trail of one account. */
  constructor(options: AuditTrailOptions) {
    this.#options = options;
  }

  /** Records one event: stored through the write queue and handed to the listener. */
  record(type: EventType, message: string, extra: EventExtra = {}): void {
    const event: RiskEvent = {
      element_id: this.#options.elementId,
      at: this.#options.clock.now(),
      type,
      message,
      rule: extra.rule ?? null,
      server_time: extra.server_time ?? null,
      detail: extra.detail ?? {},
      host: this.#options.host,
    };
    this.#options.store.appendEvent(event);
    this.observe(() => this.#options.onEvent?.(event));
  }

  /** Sends a webhook notification (when a webhook is configured). */
  notify(
    kind: Notification["kind"],
    level: Notification["level"],
    message: string,
    rule?: string,
  ): void {
    const notifier = this.#options.notifier;
    if (notifier === undefined) return;
    const { login, server } = this.#options.account();
    notifier.notify({
      kind,
      level,
      message,
      element_id: this.#options.elementId,
      at: new Date(this.#options.clock.now()).toISOString(),
      ...(rule === undefined ? {} : { rule }),
      detail: { login, server, host: this.#options.host },
    });
  }

  /** Runs an observer callback; its failure is logged, never allowed into enforcement. */
  observe(callback: () => void): void {
    try {
      callback();
    } catch (error) {
      this.#options.log.warn("an event or status listener failed: {error}", {
        error: describeError(error),
      });
    }
  }

  /**
   * Records the EA's answer to a command (the executor's, or the guard's unlock); `late`: it came
   * after the send had given up waiting.
   */
  recordAck(
    command: string,
    ack: Ack,
    options: { rule?: string; late?: boolean | undefined } = {},
  ): void {
    const late = options.late === true;
    this.record(
      "ack",
      `${command} ${ack.ok ? "done" : "failed"} (retcode ${ack.retcode})${
        late ? " after the ack timeout" : ""
      }`,
      {
        ...(options.rule === undefined ? {} : { rule: options.rule }),
        detail: { command, ...ack, ...(late ? { late: true } : {}) },
      },
    );
  }

  /** Records what the executor did or saw. */
  recordExecutorEvent(event: ExecutorEvent): void {
    switch (event.type) {
      case "command_sent":
        this.record("command", `${event.command.type} sent (attempt ${event.attempt})`, {
          rule: event.rule,
          detail: { ...event.command, attempt: event.attempt },
        });
        break;
      case "command_resent":
        this.record(
          "command",
          `${event.command.type} resent with the same id (attempt ${event.attempt}, delivery ${event.delivery})`,
          {
            rule: event.rule,
            detail: { ...event.command, attempt: event.attempt, delivery: event.delivery },
          },
        );
        break;
      case "command_acked":
        this.recordAck(event.command.type, event.ack, { rule: event.rule, late: event.late });
        break;
      case "command_failed":
        this.record("error", `${event.command.type} failed: ${event.error}`, {
          rule: event.rule,
        });
        break;
      case "confirmed":
        this.record(
          "lifecycle",
          `${event.target} confirmed by snapshot after ${event.attempts} attempt(s)`,
          { rule: event.rule },
        );
        break;
      case "escalation": {
        const message = `${event.target} still not done after ${event.attempts} attempt(s) in ${
          Math.round(event.elapsedMs / 100) / 10
        } s: ${event.reason}`;
        this.record("error", message, {
          rule: event.rule,
          detail: { escalation: true, attempts: event.attempts, elapsed_ms: event.elapsedMs },
        });
        this.notify("escalation", "critical", message, event.rule);
        this.#options.log.error(message);
        break;
      }
      case "dry_run":
        this.record("command", `dry run: would send ${event.command.type}`, {
          rule: event.rule,
          detail: { ...event.command, dry_run: true },
        });
        break;
    }
  }

  /**
   * Records what the bridge reported about the EA and its connection (snapshots, heartbeats
   * and acks are not audit entries themselves).
   */
  recordBridgeEvent(event: BridgeEvent): void {
    switch (event.type) {
      case "hello":
        this.record("lifecycle", event.restart ? "EA said hello again (restart)" : "EA connected", {
          server_time: event.hello.server_time,
          detail: {
            ea_version: event.hello.ea_version,
            terminal_build: event.hello.terminal_build,
            locked: event.hello.locked,
          },
        });
        break;
      case "stale":
        this.record("error", `no data from the EA for ${Math.round(event.silentMs / 1000)} s`, {
          detail: { silent_ms: event.silentMs },
        });
        this.notify("error", "warning", "bridge silent: account data is stale");
        break;
      case "fresh":
        this.record("lifecycle", "EA data flowing again");
        break;
      case "protocol_mismatch":
        this.record("error", `EA speaks protocol ${event.protocol}, expected another version`);
        this.notify("error", "critical", "bridge protocol mismatch: update the EA");
        break;
      case "wrong_account":
        this.record(
          "error",
          `EA reports login ${event.login}, not ${this.#options.account().login}`,
        );
        break;
      case "auth_failure":
        this.record("error", `bridge ${event.socket} socket refused a peer with wrong credentials`);
        break;
      case "dropped":
        this.#options.log.debug("dropped a bridge message ({reason}): {detail}", {
          reason: event.reason,
          detail: event.detail,
        });
        break;
      default:
        break;
    }
  }
}
