import assert from "node:assert/strict";
import fc from "fast-check";
import {
  Decoder,
  type DecoderEvent,
  DEFAULT_MAX_MESSAGE_SIZE,
  encodeCancel,
  encodeCommand,
  encodeErrorCommand,
  encodeFrame,
  encodeFrameHeader,
  encodeGreeting,
  encodeLibzmq43PlainError,
  encodeMessage,
  encodeMetadata,
  encodePing,
  encodePong,
  encodeReady,
  encodeSubscribe,
  encodeSubscriptionMessage,
  negotiateVersion,
  parseCommand,
  parseErrorReason,
  parseGreeting,
  parseMetadata,
  parsePing,
} from "./codec.ts";
import { encodeHello, parseHello } from "./mechanism.ts";

const text = new TextEncoder();

function bytes(...parts: (number[] | string)[]): Uint8Array {
  const out: number[] = [];
  for (const part of parts) {
    if (typeof part === "string") out.push(...text.encode(part));
    else out.push(...part);
  }
  return Uint8Array.from(out);
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

// RFC 23 "The greeting": signature %xFF padding(8) %x7F, version 3.x, mechanism (20), as-server,
// filler (31).
const NULL_GREETING_31 = bytes(
  [0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0x7f, 3, 1],
  "NULL",
  new Array(16).fill(0),
  [0],
  new Array(31).fill(0),
);

Deno.test("greeting: encodes the 64-byte RFC 23 layout", () => {
  assert.deepEqual(encodeGreeting({ mechanism: "NULL", asServer: false }), NULL_GREETING_31);
  const plain = encodeGreeting({ mechanism: "PLAIN", asServer: true, minor: 0 });
  assert.equal(plain.length, 64);
  assert.equal(plain[11], 0);
  assert.deepEqual(plain.subarray(12, 18), bytes("PLAIN", [0]));
  assert.equal(plain[32], 1);
});

Deno.test("greeting: parses version, mechanism and as-server; negotiates down", () => {
  const libzmq42 = bytes(
    [0xff, 0, 0, 0, 0, 0, 0, 0, 1, 0x7f, 3, 0],
    "PLAIN",
    new Array(15).fill(0),
    [0],
    new Array(31).fill(0),
  );
  const greeting = parseGreeting(libzmq42);
  assert.deepEqual(greeting, { major: 3, minor: 0, mechanism: "PLAIN", asServer: false });
  assert.deepEqual(negotiateVersion(greeting), { major: 3, minor: 0 });
  assert.deepEqual(negotiateVersion({ ...greeting, minor: 1 }), { major: 3, minor: 1 });
  assert.deepEqual(negotiateVersion({ ...greeting, minor: 7 }), { major: 3, minor: 1 });
  assert.deepEqual(negotiateVersion({ ...greeting, major: 4, minor: 0 }), { major: 3, minor: 1 });
});

Deno.test("frames: short and long sizes, MORE and COMMAND flags (RFC 23 byte vectors)", () => {
  assert.deepEqual(encodeFrame(text.encode("hello")), bytes([0x00, 5], "hello"));
  assert.deepEqual(encodeFrame(text.encode("hi"), true), bytes([0x01, 2], "hi"));
  assert.deepEqual(encodeFrame(new Uint8Array(0)), bytes([0x00, 0]));
  assert.deepEqual(encodeFrameHeader(255, false, false), bytes([0x00, 255]));
  assert.deepEqual(encodeFrameHeader(256, false, false), bytes([0x02, 0, 0, 0, 0, 0, 0, 1, 0]));
  assert.deepEqual(
    encodeFrameHeader(0x1_0000_0001, true, false),
    bytes([0x03, 0, 0, 0, 1, 0, 0, 0, 1]),
  );
  assert.deepEqual(encodeFrameHeader(3, false, true), bytes([0x04, 3]));
  assert.deepEqual(
    encodeMessage([text.encode("a"), text.encode("bc")]),
    bytes([1, 1], "a", [0, 2], "bc"),
  );
});

Deno.test("commands: READY with Socket-Type metadata (RFC 23 example layout)", () => {
  assert.deepEqual(
    encodeReady([["Socket-Type", "PUSH"]]),
    bytes([0x04, 26, 5], "READY", [11], "Socket-Type", [0, 0, 0, 4], "PUSH"),
  );
  const metadata = encodeMetadata([["Socket-Type", "PULL"], ["Identity", ""]]);
  const parsed = parseMetadata(metadata);
  assert.ok(parsed instanceof Map);
  assert.deepEqual(parsed.get("socket-type"), text.encode("PULL"));
  assert.deepEqual(parsed.get("identity"), new Uint8Array(0));
  assert.match(String(parseMetadata(bytes([11], "Socket-Type", [0, 0, 0, 9], "PUSH"))), /9 bytes/);
  assert.match(String(parseMetadata(bytes([0]))), /empty name/);
  assert.match(String(parseMetadata(bytes([20], "abc"))), /truncated/);
});

Deno.test("commands: ERROR, PING/PONG, SUBSCRIBE/CANCEL, ZMTP 3.0 subscription message", () => {
  assert.deepEqual(encodeErrorCommand("400"), bytes([0x04, 10, 5], "ERROR", [3], "400"));
  assert.equal(parseErrorReason(bytes([3], "400")), "400");
  const ping = encodePing(15, bytes("ctx"));
  assert.deepEqual(ping, bytes([0x04, 10, 4], "PING", [0, 15], "ctx"));
  const parsed = parseCommand(ping.subarray(2));
  assert.ok(typeof parsed !== "string");
  assert.deepEqual(parsePing(parsed.data), { ttl: 15, context: bytes("ctx") });
  assert.match(String(parsePing(bytes([1]))), /no TTL/);
  assert.match(String(parsePing(new Uint8Array(19))), /exceeds 16/);
  assert.deepEqual(encodePong(), bytes([0x04, 5, 4], "PONG"));
  assert.deepEqual(encodeSubscribe(bytes("t")), bytes([0x04, 11, 9], "SUBSCRIBE", "t"));
  assert.deepEqual(encodeCancel(bytes("t")), bytes([0x04, 8, 6], "CANCEL", "t"));
  assert.deepEqual(encodeSubscriptionMessage(true, bytes("t")), bytes([0, 2, 1], "t"));
  assert.deepEqual(encodeSubscriptionMessage(false, bytes("t")), bytes([0, 2, 0], "t"));
});

Deno.test("commands: PLAIN HELLO matches the RFC 24 bytes", () => {
  // RFC 24 layout: %x04 size %x05 "HELLO" username-size username password-size password.
  assert.deepEqual(
    encodeHello("admin", "secret"),
    bytes([0x04, 0x13, 0x05], "HELLO", [5], "admin", [6], "secret"),
  );
  assert.deepEqual(parseHello(bytes([5], "admin", [6], "secret")), {
    username: "admin",
    password: "secret",
  });
  assert.match(String(parseHello(bytes([5], "admin", [9], "secret"))), /does not match/);
  assert.match(String(parseHello(new Uint8Array(0))), /without a username/);
});

Deno.test("commands: libzmq 4.3's PLAIN ERROR (0x5E 'RROR') is read as ERROR", () => {
  const quirk = encodeLibzmq43PlainError("400");
  assert.deepEqual(quirk, bytes([0x04, 9, 0x5e], "RROR", [3], "400"));
  const command = parseCommand(quirk.subarray(2));
  assert.ok(typeof command !== "string");
  assert.equal(command.name, "ERROR");
  assert.equal(parseErrorReason(command.data), "400");
  assert.match(String(parseCommand(bytes([0x30], "abc"))), /exceeds frame/);
  assert.match(String(parseCommand(bytes([0]))), /without a name/);
});

function stream(): Uint8Array {
  return concat(
    NULL_GREETING_31,
    encodeReady([["Socket-Type", "PUSH"]]),
    encodeMessage([bytes("one")]),
    encodeMessage([bytes("a"), new Uint8Array(0), new Uint8Array(300).fill(7)]),
    encodePing(10, bytes("x")),
    encodeMessage([new Uint8Array(70_000).fill(9)]),
  );
}

function summarize(events: DecoderEvent[]): string[] {
  return events.map((event) => {
    switch (event.type) {
      case "greeting":
        return `greeting ${event.greeting.mechanism} ${event.greeting.major}.${event.greeting.minor}`;
      case "command":
        return `command ${event.name} ${[...event.data].join(",")}`;
      case "message":
        return `message ${event.frames.map((f) => `${f.length}:${f[0] ?? "-"}`).join("|")}`;
      case "error":
        return `error ${event.reason}`;
    }
  });
}

const EXPECTED = [
  "greeting NULL 3.1",
  `command READY ${[...encodeMetadata([["Socket-Type", "PUSH"]])].join(",")}`,
  "message 3:111",
  "message 1:97|0:-|300:7",
  "command PING 0,10,120",
  "message 70000:9",
];

Deno.test("decoder: decodes a whole stream in one chunk", () => {
  assert.deepEqual(summarize(new Decoder().decode(stream())), EXPECTED);
});

Deno.test("decoder: split reads at every byte boundary give the same events", () => {
  const all = stream();
  // Every boundary in the first 800 bytes (greeting, commands, short and long frames), then a
  // sample of boundaries inside the 70 000-byte body.
  const cuts = [...Array(800).keys(), ...Array.from({ length: 50 }, (_, i) => 800 + i * 1399)];
  for (const cut of cuts) {
    const decoder = new Decoder();
    const events = [...decoder.decode(all.subarray(0, cut)), ...decoder.decode(all.subarray(cut))];
    assert.deepEqual(summarize(events), EXPECTED, `split at ${cut}`);
  }
});

Deno.test("decoder: one byte at a time", () => {
  const all = stream().subarray(0, 1200);
  const decoder = new Decoder();
  const events: DecoderEvent[] = [];
  for (let i = 0; i < all.length; i++) events.push(...decoder.decode(all.subarray(i, i + 1)));
  assert.deepEqual(summarize(events), EXPECTED.slice(0, 5));
});

function firstError(...chunks: Uint8Array[]): string | undefined {
  const decoder = new Decoder({ maxMessageSize: 1000 });
  for (const chunk of chunks) {
    const error = decoder.decode(chunk).find((e) => e.type === "error");
    if (error !== undefined && error.type === "error") {
      assert.equal(decoder.failed, true);
      assert.deepEqual(decoder.decode(stream()), [], "a failed decoder stays silent");
      return error.reason;
    }
  }
  return undefined;
}

Deno.test("decoder: protocol errors are events, never exceptions", () => {
  assert.match(firstError(bytes([0x01]))!, /wrong signature: first byte 0x01/);
  const badTenth = NULL_GREETING_31.slice();
  badTenth[9] = 0x01;
  assert.match(firstError(badTenth.subarray(0, 10))!, /tenth byte/);
  const zmtp2 = NULL_GREETING_31.slice();
  zmtp2[10] = 2;
  assert.match(firstError(zmtp2.subarray(0, 11))!, /unsupported ZMTP major version 2/);
  const g = NULL_GREETING_31;
  assert.match(firstError(g, bytes([0x08, 0]))!, /reserved frame flag bits/);
  assert.match(firstError(g, bytes([0x05, 0]))!, /command frame with MORE/);
  assert.match(firstError(g, bytes([0x01, 1], "a", [0x04, 0]))!, /inside a multi-part/);
  assert.match(firstError(g, bytes([0x02, 0, 0, 0, 0, 0, 0, 0x03, 0xe9]))!, /1001 bytes/);
  assert.match(
    firstError(g, bytes([0x02, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]))!,
    /exceeds the maximum/,
  );
  assert.match(
    firstError(
      g,
      bytes([0x03, 0, 0, 0, 0, 0, 0, 0x03, 0x84]),
      new Uint8Array(900),
      bytes([0x00, 255]),
    )!,
    /exceeds the maximum 1000/,
  );
  assert.match(firstError(g, bytes([0x06, 0, 0, 0, 0, 0, 1, 0, 1]))!, /command frame of 65537/);
  assert.match(firstError(g, bytes([0x04, 2, 9], "x"))!, /exceeds frame/);
  assert.equal(firstError(g, encodeCommand("READY")), undefined);
});

Deno.test("decoder: without options a declared size beyond 16 MiB is refused before allocating", () => {
  const decoder = new Decoder();
  decoder.decode(NULL_GREETING_31);
  // 12 bytes that declare a 16 GiB frame: the decoder must not trust them.
  const before = Deno.memoryUsage().external;
  const events = decoder.decode(bytes([0x02, 0, 0, 0, 0x04, 0, 0, 0, 0]));
  assert.equal(events.length, 1);
  const event = events[0]!;
  assert.equal(event.type, "error");
  assert.match(event.type === "error" ? event.reason : "", /exceeds the maximum 16777216/);
  assert.ok(Deno.memoryUsage().external - before < DEFAULT_MAX_MESSAGE_SIZE);
  // A message right at the default still decodes.
  const ok = new Decoder();
  ok.decode(NULL_GREETING_31);
  const body = new Uint8Array(DEFAULT_MAX_MESSAGE_SIZE - 64);
  const got = ok.decode(encodeFrame(body));
  assert.equal(got[0]?.type, "message");
});

Deno.test("decoder: a limit that is not finite is refused at construction", () => {
  assert.throws(() => new Decoder({ maxMessageSize: Number.POSITIVE_INFINITY }), RangeError);
  assert.throws(() => new Decoder({ maxMessageSize: 0 }), /finite number > 0, got 0/);
  assert.throws(() => new Decoder({ maxCommandSize: Number.NaN }), RangeError);
});

Deno.test("decoder: an allocation the runtime refuses is a protocol error event", () => {
  // A caller may allow more than the runtime can allocate (2^50 bytes is beyond any typed
  // array): the failure is the peer's protocol error, not a decoder fault.
  const decoder = new Decoder({ maxMessageSize: 2 ** 52 });
  decoder.decode(NULL_GREETING_31);
  const events = decoder.decode(bytes([0x02, 0, 0x04, 0, 0, 0, 0, 0, 0], [1, 2, 3]));
  assert.equal(events.length, 1);
  const event = events[0]!;
  assert.equal(event.type, "error");
  const reason = event.type === "error" ? event.reason : "";
  assert.match(reason, /cannot allocate 1125899906842624 bytes for a frame/);
  assert.doesNotMatch(reason, /decoder fault/);
  assert.equal(decoder.failed, true);
});

const framesArb = fc.array(fc.uint8Array({ maxLength: 600 }), { minLength: 1, maxLength: 4 });

Deno.test("property: encode -> decode round trip under any chunking", () => {
  fc.assert(
    fc.property(
      fc.array(framesArb, { maxLength: 8 }),
      fc.array(fc.integer({ min: 1, max: 700 }), { minLength: 1, maxLength: 20 }),
      (messages, sizes) => {
        const wire = concat(NULL_GREETING_31, ...messages.map((m) => encodeMessage(m)));
        const decoder = new Decoder();
        const events: DecoderEvent[] = [];
        let at = 0;
        for (let i = 0; at < wire.length; i++) {
          const size = sizes[i % sizes.length]!;
          events.push(...decoder.decode(wire.subarray(at, at + size)));
          at += size;
        }
        assert.equal(events[0]?.type, "greeting");
        const decoded = events.slice(1).map((e) => {
          assert.equal(e.type, "message");
          return e.type === "message" ? e.frames : [];
        });
        assert.deepEqual(decoded, messages);
      },
    ),
    { numRuns: 300 },
  );
});

Deno.test("property: random garbage never throws and yields at most one error, then nothing", () => {
  fc.assert(
    fc.property(
      fc.boolean(),
      fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 10 }),
      (withGreeting, chunks) => {
        const decoder = new Decoder({ maxMessageSize: 4096 });
        const events: DecoderEvent[] = [];
        if (withGreeting) events.push(...decoder.decode(NULL_GREETING_31));
        for (const chunk of chunks) events.push(...decoder.decode(chunk));
        const errors = events.filter((e) => e.type === "error");
        assert.ok(errors.length <= 1);
        if (errors.length === 1) assert.equal(events.at(-1)?.type, "error");
        const first = withGreeting ? NULL_GREETING_31[0] : chunks.find((c) => c.length > 0)?.[0];
        if (first !== undefined && first !== 0xff) assert.equal(errors.length, 1);
      },
    ),
    { numRuns: 1000 },
  );
});
