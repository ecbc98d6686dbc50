import assert from "node:assert/strict";
import {
  type Ack,
  type Command,
  decodeCommand,
  decodeEaMessage,
  encodeMessage,
  fitReason,
  type Hello,
  MAX_COMMAND_ID_LENGTH,
  MAX_REASON_LENGTH,
  PLAIN_USERNAME,
  PROTOCOL_VERSION,
  readCommand,
  type Snapshot,
} from "./protocol.ts";
import { sampleOrder, samplePosition, sampleSnapshot } from "../rules/samples.ts";

const enc = new TextEncoder();

const hello: Hello = {
  type: "hello",
  protocol: PROTOCOL_VERSION,
  ea_version: "1.0.0",
  terminal_build: 4755,
  login: 5001,
  server: "Broker-Live",
  locked: false,
  server_time: 1_767_700_800_000,
  utc_time: 1_767_693_600_000,
};

Deno.test("protocol: constants", () => {
  assert.equal(PROTOCOL_VERSION, 1);
  assert.equal(PLAIN_USERNAME, "riskguard");
  assert.equal(MAX_COMMAND_ID_LENGTH, 64);
});

Deno.test("protocol: every command round-trips through encode and decode", () => {
  const commands: Command[] = [
    { type: "lock", id: "a-1", reason: "daily loss", until: 0 },
    { type: "unlock", id: "a-2" },
    { type: "cancel_orders", id: "a-3" },
    { type: "close_position", id: "a-4", ticket: 123, volume: 0.5, reason: "risk" },
    { type: "close_all", id: "a-5", reason: "max drawdown" },
    { type: "ping", id: "a-6" },
    { type: "ping", id: "a-7", hello: true },
  ];
  for (const command of commands) {
    const decoded = decodeCommand(encodeMessage(command));
    assert.deepEqual(decoded, { ok: true, value: command });
  }
});

Deno.test("protocol: commands are flat JSON (no nested objects or arrays)", () => {
  const command: Command = { type: "close_position", id: "x", ticket: 1, volume: 0, reason: "r" };
  const json = JSON.parse(new TextDecoder().decode(encodeMessage(command)));
  for (const value of Object.values(json)) assert.notEqual(typeof value, "object");
});

Deno.test("protocol: decode reports not_utf8, not_json and invalid without throwing", () => {
  assert.equal(decodeEaMessage(new Uint8Array([0xc3, 0x28])).ok, false);
  const notUtf8 = decodeEaMessage(new Uint8Array([0xff]));
  assert.equal(!notUtf8.ok && notUtf8.reason, "not_utf8");
  const notJson = decodeEaMessage(enc.encode("{"));
  assert.equal(!notJson.ok && notJson.reason, "not_json");
  const invalid = decodeEaMessage(enc.encode(JSON.stringify({ ...hello, login: -1 })));
  assert.equal(!invalid.ok && invalid.reason, "invalid");
  assert.match(!invalid.ok ? invalid.error : "", /^login:/);
});

Deno.test("protocol: hello with the optional fields the EA reports", () => {
  const full = { ...hello, heartbeat_ms: 1000, timer_ms: 250, connected: true };
  assert.deepEqual(decodeEaMessage(encodeMessage(full)), { ok: true, value: full });
});

Deno.test("protocol: unknown fields are ignored (forward compatibility)", () => {
  const decoded = decodeEaMessage(enc.encode(JSON.stringify({ ...hello, future_field: 42 })));
  assert.equal(decoded.ok, true);
  assert.equal(decoded.ok && "future_field" in decoded.value, false);
});

Deno.test("protocol: a command id longer than 64 characters is refused", () => {
  assert.equal(readCommand({ type: "ping", id: "x".repeat(64) }).ok, true);
  assert.equal(readCommand({ type: "ping", id: "x".repeat(65) }).ok, false);
  assert.equal(readCommand({ type: "ping", id: "" }).ok, false);
});

Deno.test("protocol: an ack with per-ticket results and duplicate flag", () => {
  const ack: Ack = {
    type: "ack",
    id: "a-1",
    ok: false,
    retcode: 10018,
    message: "ticket 7: market closed",
    results: [
      { ticket: 6, ok: true, retcode: 10009, volume: 0.1, price: 1.1, attempts: 2 },
      { ticket: 7, ok: false, retcode: 10018, message: "market closed", attempts: 1 },
    ],
    duplicate: true,
    locked: true,
  };
  assert.deepEqual(decodeEaMessage(encodeMessage(ack)), { ok: true, value: ack });
});
Deno.test("fitReason: short reasons unchanged, long ones cut to the limit with an ellipsis", () => {
  assert.equal(fitReason("daily loss"), "daily loss");
  const exact = "a".repeat(MAX_REASON_LENGTH);
  assert.equal(fitReason(exact), exact);
  const long = "b".repeat(MAX_REASON_LENGTH + 60);
  assert.equal(fitReason(long), "b".repeat(MAX_REASON_LENGTH - 1) + "…");
  assert.equal(fitReason(long).length, MAX_REASON_LENGTH);
});

Deno.test("fitReason: never leaves half of a surrogate pair", () => {
  // 198 ASCII characters, then an emoji (two code units) across the cut.
  const text = "c".repeat(MAX_REASON_LENGTH - 2) + "📉📉📉";
  const cut = fitReason(text);
  assert.ok(cut.length <= MAX_REASON_LENGTH);
  assert.equal(cut, "c".repeat(MAX_REASON_LENGTH - 2) + "…");
  assert.doesNotThrow(() => encodeURIComponent(cut));
});

/** A valid snapshot with one position and one pending order, each with `magic`. */
function snapshotWithMagic(magic: number): Snapshot {
  const at = 1_767_693_600_000;
  return sampleSnapshot({
    utc: at,
    positions: [samplePosition({ ticket: 7, magic }, at)],
    orders: [{ ...sampleOrder(8, at), magic }],
  });
}

Deno.test("protocol: a magic number past 2^53 (MQL5 ulong) keeps the snapshot", () => {
  // 18446744073709551615 (ULONG_MAX) as JSON writes it: rounded to 2^64.
  const json = JSON.stringify(snapshotWithMagic(0)).replaceAll(
    '"magic":0',
    '"magic":18446744073709551615',
  );
  const decoded = decodeEaMessage(enc.encode(json));
  assert.equal(decoded.ok, true, decoded.ok ? "" : decoded.error);
  const snapshot = decoded.ok && decoded.value.type === "snapshot" ? decoded.value : undefined;
  assert.equal(snapshot?.positions[0]?.magic, 2 ** 64);
  assert.equal(snapshot?.orders[0]?.magic, 2 ** 64);
  for (const magic of [2 ** 53, 2 ** 53 + 2, -(2 ** 63), -1, 0.5]) {
    assert.equal(
      decodeEaMessage(encodeMessage(snapshotWithMagic(magic))).ok,
      true,
      `${magic}`,
    );
  }
  // Still a number: a string magic is refused, naming the field.
  const json1 = JSON.stringify(snapshotWithMagic(1)).replace('"magic":1', '"magic":"1"');
  const text = decodeEaMessage(enc.encode(json1));
  assert.match(!text.ok ? text.error : "", /^positions\.0\.magic: expected a finite number/);
});

Deno.test("protocol: close_position needs a ticket > 0, as docs/protocol.md says", () => {
  const command = { type: "close_position", id: "c-1", volume: 0, reason: "r" };
  assert.equal(readCommand({ ...command, ticket: 1 }).ok, true);
  for (const ticket of [0, -1, 1.5, undefined]) {
    const checked = readCommand({ ...command, ticket });
    assert.match(!checked.ok ? checked.error : "", /^ticket: expected an integer > 0/, `${ticket}`);
  }
});
