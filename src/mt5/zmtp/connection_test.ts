import assert from "node:assert/strict";
import fc from "fast-check";
import {
  encodeCommand,
  encodeErrorCommand,
  encodeGreeting,
  encodeMessage,
  encodePing,
  encodeReady,
} from "./codec.ts";
import { type ConnectionEvent, ZmtpConnection } from "./connection.ts";
import { encodeHello, type Mechanism, type SocketType } from "./mechanism.ts";

const text = new TextEncoder();
const PASSWORD = "hunter2-token";

function server(): Mechanism {
  return {
    type: "plain",
    role: "server",
    authenticate: (user, password) => user === "riskguard" && password === PASSWORD,
  };
}

function client(password = PASSWORD): Mechanism {
  return { type: "plain", role: "client", username: "riskguard", password };
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/** Pumps bytes between two sans-IO connections until both are quiet. */
function pair(
  a: { type: SocketType; mechanism: Mechanism },
  b: { type: SocketType; mechanism: Mechanism },
): {
  a: ZmtpConnection;
  b: ZmtpConnection;
  aEvents: ConnectionEvent[];
  bEvents: ConnectionEvent[];
} {
  const left = new ZmtpConnection({ socketType: a.type, mechanism: a.mechanism });
  const right = new ZmtpConnection({ socketType: b.type, mechanism: b.mechanism });
  const aEvents: ConnectionEvent[] = [];
  const bEvents: ConnectionEvent[] = [];
  for (let round = 0; round < 10; round++) {
    const toRight = concat(left.takeOutput());
    const toLeft = concat(right.takeOutput());
    if (toRight.length === 0 && toLeft.length === 0) break;
    if (toRight.length > 0) bEvents.push(...right.receive(toRight));
    if (toLeft.length > 0) aEvents.push(...left.receive(toLeft));
  }
  return { a: left, b: right, aEvents, bEvents };
}

Deno.test("connection: NULL PUSH <-> PULL handshake, then a message", () => {
  const { a, b, aEvents, bEvents } = pair(
    { type: "PUSH", mechanism: { type: "null" } },
    { type: "PULL", mechanism: { type: "null" } },
  );
  assert.ok(a.ready && b.ready);
  const ready = bEvents.find((e) => e.type === "ready");
  assert.ok(ready?.type === "ready");
  assert.equal(ready.peer.socketType, "PUSH");
  assert.deepEqual(ready.peer.version, { major: 3, minor: 1 });
  assert.equal(aEvents[0]?.type, "ready");
  const events = b.receive(concat(a.encodeMessage([text.encode("x"), text.encode("yz")])));
  assert.deepEqual(events, [{ type: "message", frames: [text.encode("x"), text.encode("yz")] }]);
});

Deno.test("connection: PLAIN with the right credentials reports the username", () => {
  const { a, b, bEvents } = pair(
    { type: "PUSH", mechanism: client() },
    { type: "PULL", mechanism: server() },
  );
  assert.ok(a.ready && b.ready);
  const ready = bEvents.find((e) => e.type === "ready");
  assert.ok(ready?.type === "ready");
  assert.equal(ready.peer.username, "riskguard");
});

Deno.test("connection: PLAIN with a wrong password: ERROR to the client, both fail as auth", () => {
  const { a, b, aEvents, bEvents } = pair(
    { type: "PUSH", mechanism: client("wrong-password") },
    { type: "PULL", mechanism: server() },
  );
  assert.ok(a.failed && b.failed);
  const serverFailure = bEvents.find((e) => e.type === "failed");
  const clientFailure = aEvents.find((e) => e.type === "failed");
  assert.ok(serverFailure?.type === "failed" && clientFailure?.type === "failed");
  assert.equal(serverFailure.kind, "auth");
  assert.equal(serverFailure.handshake, true);
  assert.equal(clientFailure.kind, "auth");
  assert.match(clientFailure.reason, /ERROR: 400/);
  assert.doesNotMatch(JSON.stringify([aEvents, bEvents]), /wrong-password|hunter2/);
});

Deno.test("connection: a ZMTP 3.0 PLAIN client gets the RFC 23 ERROR form", () => {
  const conn = new ZmtpConnection({ socketType: "PULL", mechanism: server() });
  conn.takeOutput();
  const greeting = encodeGreeting({ mechanism: "PLAIN", asServer: false, minor: 0 });
  const events = conn.receive(concat([greeting, encodeHello("riskguard", "bad")]));
  assert.equal(events[0]?.type, "failed");
  assert.deepEqual(conn.version, { major: 3, minor: 0 });
  assert.deepEqual(concat(conn.takeOutput()), encodeErrorCommand("400"));
});

Deno.test("connection: a ZMTP 3.1 PLAIN client gets libzmq 4.3's ERROR form", () => {
  const conn = new ZmtpConnection({ socketType: "PULL", mechanism: server() });
  conn.takeOutput();
  const greeting = encodeGreeting({ mechanism: "PLAIN", asServer: false, minor: 1 });
  conn.receive(concat([greeting, encodeHello("riskguard", "bad")]));
  const out = concat(conn.takeOutput());
  assert.deepEqual([...out.subarray(0, 3)], [0x04, 9, 0x5e]);
});

Deno.test("connection: libzmq 4.3.0/4.3.1 HELLO sent under the name WELCOME is accepted", () => {
  const conn = new ZmtpConnection({ socketType: "PULL", mechanism: server() });
  conn.takeOutput();
  const hello = encodeHello("riskguard", PASSWORD);
  const renamed = encodeCommand("WELCOME", hello.subarray(2 + 6));
  const events = conn.receive(
    concat([encodeGreeting({ mechanism: "PLAIN", asServer: false }), renamed]),
  );
  assert.deepEqual(events, []);
  assert.equal(conn.failed, false);
});

Deno.test("connection: socket types are checked against the valid pairs", () => {
  const { a, b, bEvents } = pair(
    { type: "PULL", mechanism: { type: "null" } },
    { type: "PULL", mechanism: { type: "null" } },
  );
  assert.ok(a.failed && b.failed);
  const failure = bEvents.find((e) => e.type === "failed");
  assert.ok(failure?.type === "failed");
  assert.equal(failure.kind, "socket_type");
  assert.match(failure.reason, /"PULL" cannot talk to PULL/);
});

Deno.test("connection: mechanism mismatch is a protocol error", () => {
  const { b, bEvents } = pair(
    { type: "PUSH", mechanism: { type: "null" } },
    { type: "PULL", mechanism: server() },
  );
  assert.ok(b.failed);
  const failure = bEvents.find((e) => e.type === "failed");
  assert.ok(failure?.type === "failed");
  assert.equal(failure.kind, "protocol");
  assert.match(failure.reason, /mechanism "NULL" does not match ours \(PLAIN\)/);
});

function readyNullPull(minor = 1): ZmtpConnection {
  const conn = new ZmtpConnection({ socketType: "PULL", mechanism: { type: "null" } });
  const events = conn.receive(
    concat([
      encodeGreeting({ mechanism: "NULL", asServer: false, minor }),
      encodeReady([["Socket-Type", "PUSH"]]),
    ]),
  );
  assert.equal(events[0]?.type, "ready");
  conn.takeOutput();
  return conn;
}

Deno.test("connection: PING is answered with PONG echoing the context; bare PONG accepted", () => {
  const conn = readyNullPull(0);
  assert.deepEqual(conn.version, { major: 3, minor: 0 });
  const events = conn.receive(encodePing(50, text.encode("ctx")));
  assert.deepEqual(events, [{ type: "ping", ttlMs: 5000 }]);
  assert.deepEqual(concat(conn.takeOutput()), encodeCommand("PONG", text.encode("ctx")));
  // libzmq 4.2 (ZMTP 3.0) may send PONG without context.
  assert.deepEqual(conn.receive(encodeCommand("PONG")), [{ type: "pong" }]);
  assert.deepEqual(conn.receive(encodeCommand("UNKNOWN-CMD")), []);
  conn.ping(1500);
  assert.deepEqual(concat(conn.takeOutput()), encodePing(15));
});

Deno.test("connection: a message before the handshake ends is a protocol error", () => {
  const conn = new ZmtpConnection({ socketType: "PULL", mechanism: { type: "null" } });
  const events = conn.receive(
    concat([
      encodeGreeting({ mechanism: "NULL", asServer: false }),
      encodeMessage([text.encode("x")]),
    ]),
  );
  assert.deepEqual(events, [{
    type: "failed",
    kind: "protocol",
    reason: "message frame before the handshake ended",
    handshake: true,
  }]);
});

Deno.test("connection: ERROR from a NULL peer during the handshake", () => {
  const conn = new ZmtpConnection({ socketType: "PULL", mechanism: { type: "null" } });
  const events = conn.receive(
    concat([encodeGreeting({ mechanism: "NULL", asServer: false }), encodeErrorCommand("nope")]),
  );
  assert.equal(events[0]?.type, "failed");
  assert.ok(events[0]?.type === "failed" && events[0].kind === "peer_error");
});

Deno.test("property: garbage after the handshake never throws; a failure is final", () => {
  fc.assert(
    fc.property(fc.array(fc.uint8Array({ maxLength: 200 }), { maxLength: 8 }), (chunks) => {
      const conn = readyNullPull();
      let failures = 0;
      for (const chunk of chunks) {
        const events = conn.receive(chunk);
        failures += events.filter((e) => e.type === "failed").length;
        if (failures > 0) assert.equal(conn.failed, true);
      }
      assert.ok(failures <= 1);
    }),
    { numRuns: 500 },
  );
});
