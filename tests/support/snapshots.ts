/**
 * Snapshot builders for tests, on top of the rule samples (`src/rules/samples.ts`): a position,
 * an order and a validated snapshot with sensible defaults and field overrides.
 *
 * @module
 */
import { type Order, type Position, readEaMessage, type Snapshot } from "../../src/mt5/protocol.ts";
import { sampleOrder, samplePosition, sampleSnapshot } from "../../src/rules/samples.ts";

const AT = Date.UTC(2026, 10, 24, 10);

/** A 1-lot EURUSD buy (ticket 1001) with the given overrides. */
export function position(overrides: Partial<Position> = {}): Position {
  return samplePosition({ ticket: 1001, ...overrides }, AT);
}

/** A pending EURUSD buy limit (ticket 2001) with the given overrides. */
export function order(overrides: Partial<Order> = {}): Order {
  return { ...sampleOrder(2001, AT), ...overrides };
}

/** A snapshot of a 10,000 USD account with the given field overrides, validated. */
export function snapshot(overrides: Partial<Snapshot> = {}): Snapshot {
  const read = readEaMessage({ ...sampleSnapshot({ utc: AT }), ...overrides });
  if (!read.ok) throw new TypeError(`Invalid test snapshot: ${read.error}`);
  if (read.value.type !== "snapshot") throw new TypeError(`Not a snapshot: ${read.value.type}`);
  return read.value;
}
