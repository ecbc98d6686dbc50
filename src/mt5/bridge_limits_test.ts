/**
 * What the bridge says when the transport closes a connection (issue 11 item 9): a message far
 * over the limit and a message that stalls halfway are closed with a log line and a counter,
 * over real TCP with a PLAIN peer that has authenticated.
 */
import assert from "node:assert/strict";
import { Bridge, makeToken } from "./bridge.ts";
import {
  Decoder,
  encodeCommand,
  encodeFrameHeader,
  encodeGreeting,
  encodeMetadata,
} from "./zmtp/codec.ts";
import { encodeHello } from "./zmtp/mechanism.ts";
import { PushSocket } from "./zmtp/mod.ts";
import { setupLogging, shutdownLogging } from "../shared/logging.ts";

async function until(condition: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** A hand-made PLAIN PUSH client that has authenticated: the test writes its raw bytes. */
async function rawAuthenticatedPeer(port: number, token: string): Promise<Deno.TcpConn> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await conn.write(encodeGreeting({ mechanism: "PLAIN", asServer: false }));
  await conn.write(encodeHello("riskguard", token));
  const decoder = new Decoder();
  const buffer = new Uint8Array(4096);
  const seen: string[] = [];
  while (!seen.includes("WELCOME")) {
    const n = await conn.read(buffer);
    if (n === null) throw new Error("closed during the handshake");
    for (const event of decoder.decode(buffer.slice(0, n))) {
      if (event.type === "command") seen.push(event.name);
    }
  }
  await conn.write(encodeCommand("INITIATE", encodeMetadata([["Socket-Type", "PUSH"]])));
  while (!seen.includes("READY")) {
    const n = await conn.read(buffer);
    if (n === null) throw new Error("closed during the handshake");
    for (const event of decoder.decode(buffer.slice(0, n))) {
      if (event.type === "command") seen.push(event.name);
    }
  }
  return conn;
}

Deno.test("bridge: a message over the transport limit closes the connection with a log line and a counter", async () => {
  const lines: string[] = [];
  await setupLogging({ level: "debug", writeConsole: (line) => lines.push(line) });
  const token = makeToken();
  const bridge = await Bridge.open({ port: 0, token, maxMessageSize: 1000 });
  const errors: string[] = [];
  bridge.on((event) => {
    if (event.type === "protocol_error") errors.push(`${event.socket}: ${event.reason}`);
  });
  const push = new PushSocket({
    mechanism: { type: "plain", role: "client", username: "riskguard", password: token },
    reconnectIntervalMs: 5_000,
  });
  try {
    push.connect(`tcp://127.0.0.1:${bridge.port}`);
    // 8 MiB: beyond the transport limit (4 x 1000 bytes, at least 4 MiB).
    await push.send(new Uint8Array(8 * 1024 * 1024));
    await until(() => bridge.stats.protocolErrors === 1, 5_000, "the protocol error");
    assert.match(errors[0]!, /^pull: message of \d+ bytes or more exceeds the maximum 4194304/);
    assert.equal(bridge.stats.transport.pull.protocolErrors, 1);
    await until(() => lines.some((l) => /exceeds the maximum 4194304/.test(l)), 2_000, "log");
    const line = lines.find((l) => /exceeds the maximum 4194304/.test(l))!;
    assert.match(line, / WRN mt5\.zmtp /);
    assert.match(line, /EA connection: protocol error \(peer 127\.0\.0\.1:\d+/);
    assert.ok(!line.includes(token), "the token never reaches a log line");
  } finally {
    await push.close();
    await bridge.close();
    await shutdownLogging();
  }
});

Deno.test("bridge: an authenticated peer that declares a large message and stalls is dropped at the message deadline", async () => {
  const lines: string[] = [];
  await setupLogging({ level: "debug", writeConsole: (line) => lines.push(line) });
  const token = makeToken();
  const bridge = await Bridge.open({ port: 0, token, messageTimeoutMs: 200 });
  let conn: Deno.TcpConn | undefined;
  try {
    conn = await rawAuthenticatedPeer(bridge.port, token);
    // Declares 1 MiB and sends 10 bytes of it, then nothing (the connection stays open).
    await conn.write(encodeFrameHeader(1024 * 1024, false, false));
    await conn.write(new Uint8Array(10));
    await until(() => bridge.stats.transport.pull.timeouts === 1, 3_000, "the message deadline");
    const buffer = new Uint8Array(64);
    assert.equal(await conn.read(buffer).catch(() => null), null, "the connection is closed");
    const line = lines.find((l) => /message incomplete after 200 ms/.test(l));
    assert.ok(line !== undefined, `no log line:\n${lines.join("\n")}`);
    assert.match(line, /EA connection: peer dropped/);
  } finally {
    conn?.close();
    await bridge.close();
    await shutdownLogging();
  }
});

Deno.test("bridge: a message that arrives slowly but within the deadline is received", async () => {
  const token = makeToken();
  const bridge = await Bridge.open({ port: 0, token, messageTimeoutMs: 1_000 });
  let conn: Deno.TcpConn | undefined;
  const beats: unknown[] = [];
  bridge.on((event) => {
    if (event.type === "dropped") beats.push(event.reason);
  });
  try {
    conn = await rawAuthenticatedPeer(bridge.port, token);
    const body = new TextEncoder().encode(JSON.stringify({ type: "bogus" }));
    await conn.write(encodeFrameHeader(body.length, false, false));
    for (const byte of body) {
      await conn.write(Uint8Array.of(byte));
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    await until(() => bridge.stats.received === 1, 3_000, "the message");
    assert.equal(bridge.stats.transport.pull.timeouts, 0);
    assert.deepEqual(beats, ["unknown_type"]);
  } finally {
    conn?.close();
    await bridge.close();
  }
});
