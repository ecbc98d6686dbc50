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
} from "./protocol.ts";

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
