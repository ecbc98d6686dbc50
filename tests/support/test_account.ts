/**
 * The parts of a risk process's account for unit tests, short of its guard: account `e1`
 * (server `S`, login 1) with the element fields given, a manual clock at 2026-11-24 10:00 UTC,
 * the leased writer on the store given (lease 1 on instance `i1`, host `h`) and the audit trail.
 *
 * @module
 */
import assert from "node:assert/strict";
import { AuditTrail, type RiskEvent } from "../../src/risk/audit_trail.ts";
import { LeasedWriter } from "../../src/risk/leased_writer.ts";
import type { WebhookNotifier } from "../../src/risk/notifier.ts";
import { ManualClock } from "../../src/shared/clock.ts";
import { logger } from "../../src/shared/logging.ts";
import { type Lease, parseElement, type Store } from "../../src/store/mod.ts";

/** Options of {@link testAccount}. */
export interface TestAccountOptions {
  /** What the writer writes to (usually a Proxy that records the calls). */
  store: Store;
  /** Element fields besides `_id`, `server`, `login` and `password`. */
  fields?: Record<string, unknown>;
  /** Hears every event recorded. */
  onEvent?: (event: RiskEvent) => void;
  /** Gets the notifications. */
  notifier?: WebhookNotifier;
  /** The logger's name. */
  name: string;
}

/** See the module documentation. */
export function testAccount(options: TestAccountOptions) {
  const parsed = parseElement({
    _id: "e1",
    server: "S",
    login: 1,
    password: "p",
    ...options.fields,
  });
  assert.ok(parsed.valid);
  const element = parsed.element;
  const clock = new ManualClock(Date.UTC(2026, 10, 24, 10));
  const log = logger("test", options.name);
  const writer = new LeasedWriter({
    store: options.store,
    lease: { element_id: "e1", instance_id: "i1", lease: 1, host: "h" } as Lease,
    clock,
    dryRun: false,
    metricsIntervalMs: 5_000,
    pingIntervalMs: 10_000,
    onFatal: () => {},
    log,
  });
  const audit = new AuditTrail({
    elementId: "e1",
    host: "h",
    clock,
    store: writer,
    notifier: options.notifier,
    onEvent: options.onEvent,
    account: () => element,
    log,
  });
  return { element, clock, log, writer, audit };
}
