/**
 * Live configuration: watches the element in the store and applies what changed while the
 * process runs. New limits apply at once, new plugins are loaded, a person's unlock lifts the
 * lock, and a deleted or DISABLED element (or a lease taken by another manager) stops the
 * process. An invalid configuration is reported and the previous one kept.
 *
 * @module
 */
import type { Logger } from "../shared/logging.ts";
import type { RiskSettings } from "../rules/rule.ts";
import { parseRiskSettings } from "../rules/settings.ts";
import { abortableSleep } from "../shared/async.ts";
import type { Clock } from "../shared/clock.ts";
import { describeError, RiskGuardError } from "../shared/errors.ts";
import type { Element, ElementChange, Store } from "../store/mod.ts";
import type { AccountGuard } from "./account_guard.ts";
import type { AuditTrail } from "./audit_trail.ts";
import type { LeasedWriter } from "./leased_writer.ts";
import { isLocked, type LockState } from "./lock_state.ts";
import type { RulePlugins } from "./rule_plugins.ts";

/** Options of {@link LiveConfig}. */
export interface LiveConfigOptions {
  /** The store to watch. */
  store: Store;
  /** The element as loaded at start. */
  element: Element;
  /** Retry delay of the feed after a store error. */
  retryMs: number;
  /** A dry run never reads a change as a person's unlock (it stores no lock). */
  dryRun: boolean;
  /** Time source of error timestamps. */
  clock: Clock;
  /** The account's logger. */
  log: Logger;
}

/** The parts a configuration change acts on. */
export interface LiveConfigTarget {
  /** Takes new settings and a person's unlock. */
  guard: AccountGuard;
  /** Reloads when the plugin list changed. */
  plugins: RulePlugins;
  /** Records what changed. */
  audit: AuditTrail;
  /** Stores an invalid configuration's error; knows the lease. */
  writer: LeasedWriter;
  /** Stops the process cleanly (element deleted or disabled). */
  stop(): void;
  /** Stops the process with a fatal error (lease lost). */
  die(error: unknown): void;
}

/** See the module documentation. */
export class LiveConfig {
  readonly #options: LiveConfigOptions;
  #element: Element;

  /** Starts from the element as loaded. */
  constructor(options: LiveConfigOptions) {
    this.#options = options;
    this.#element = options.element;
  }

  /** The element as configured now (the latest valid version seen). */
  get element(): Element {
    return this.#element;
  }

  /** Watches the element and applies its changes until `signal` aborts; retries on errors. */
  async run(signal: AbortSignal, target: LiveConfigTarget): Promise<void> {
    const { store, retryMs, log } = this.#options;
    while (!signal.aborted) {
      const feed = store.watchElements({ elementId: this.#element._id });
      const onAbort = () => void feed.close();
      signal.addEventListener("abort", onAbort, { once: true });
      try {
        for await (const change of feed) {
          if (signal.aborted) break;
          await this.#apply(change, target);
        }
      } catch (error) {
        log.warn("live configuration feed failed, retrying: {error}", {
          error: describeError(error),
        });
      } finally {
        signal.removeEventListener("abort", onAbort);
        await feed.close().catch(() => {});
      }
      await abortableSleep(retryMs, signal);
    }
  }

  async #apply(change: ElementChange, target: LiveConfigTarget): Promise<void> {
    const { audit, writer, guard } = target;
    if (change.op === "synced") return;
    if (change.op === "delete") {
      this.#options.log.warn("element deleted: stopping");
      audit.record("lifecycle", "element deleted: risk process stops");
      target.stop();
      return;
    }
    const parsed = change.element;
    if (!parsed.valid) {
      const message = `new configuration is invalid (${parsed.field} ${parsed.reason}); ` +
        `keeping the previous one`;
      audit.record("error", message);
      writer.patch({
        error: { code: "ELEMENT_INVALID", message, at: this.#options.clock.now() },
      });
      return;
    }
    const element = parsed.element;
    if (element.status === "DISABLED") {
      audit.record("lifecycle", "element DISABLED: risk process stops");
      target.stop();
      return;
    }
    if (element.lease !== writer.lease.lease) {
      target.die(
        new RiskGuardError(
          "LEASE_LOST",
          `Element ${element._id} lease moved from ${writer.lease.lease} to ${element.lease}`,
        ),
      );
      return;
    }
    this.#element = element;
    if (
      !this.#options.dryRun && writer.tradingStored && isLocked(guard.lock) &&
      element.trading === "ALLOWED"
    ) {
      await this.#unlockByPerson(element, guard, audit);
    }
    const settings = riskSettingsOf(element);
    if (JSON.stringify(settings) !== JSON.stringify(guard.settings)) {
      guard.changeSettings(settings);
      audit.record("lifecycle", "configuration changed: new limits apply now");
      await target.plugins.load(settings);
    }
  }

  /**
   * Lifts the lock a person unlocked. A change may be delivered with a copy of the element read
   * before this process's own lock write landed: only a fresh read that still says ALLOWED is a
   * person's unlock. When the store cannot be asked, the lock stays (the safe side). The person
   * unlocked the lock they saw: a different lock made while the store was read (a drawdown
   * raising a day lock to a permanent one) is not theirs to lift, and stays with its closes.
   */
  async #unlockByPerson(element: Element, guard: AccountGuard, audit: AuditTrail): Promise<void> {
    const seen = guard.lock;
    const current = await this.#options.store.getElement(this.#element._id).catch(() => null);
    if (current?.valid !== true || current.element.trading !== "ALLOWED") return;
    const now = guard.lock;
    if (!isLocked(now)) return;
    if (sameLock(now, seen)) {
      guard.unlock(
        "unlocked by a person (element trading set to ALLOWED)",
        element.unlocked_at ?? this.#options.clock.now(),
      );
      return;
    }
    audit.record(
      "warning",
      `unlock by a person not applied: the account was locked again (${now.trading}: ` +
        `${now.reason ?? "no reason"}) while the unlock was checked; the new lock stays ` +
        `until a person unlocks it`,
      { detail: { unlocked: seen.trading, trading: now.trading, until: now.lockedUntil } },
    );
  }
}

/**
 * The same lock: same state and reason. A day lock whose end the same rule slid forward is
 * still the lock the person saw; a new rule's lock, or a day lock made permanent, is not.
 */
function sameLock(a: LockState, b: LockState): boolean {
  return a.trading === b.trading && a.reason === b.reason;
}

/** The risk settings an element configures. */
export function riskSettingsOf(element: Element): RiskSettings {
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
