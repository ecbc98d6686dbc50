/**
 * Socket tests over real TCP on 127.0.0.1 (Deno only; the libzmq peer is in tests/interop).
 */
import assert from "node:assert/strict";
import {
  encodeCommand,
  encodeGreeting,
  encodeMessage,
  encodePing,
  encodeReady,
  GREETING_SIZE,
} from "./codec.ts";
import { encodeHello } from "./mechanism.ts";
import { PullSocket, PushSocket, type SocketOptions, ZmtpError, type ZmtpLogger } from "./mod.ts";

const decoder = new TextDecoder();

async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

async function until(condition: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Reads until the server closes the connection; returns how long that took. */
async function readUntilClosed(conn: Deno.TcpConn, limitMs: number): Promise<number> {
  const started = Date.now();
  const buffer = new Uint8Array(4096);
  await within(
    (async () => {
      try {
        while ((await conn.read(buffer)) !== null) {
          // Discard the greeting and any ERROR.
        }
      } catch {
        // Reset by peer also counts as closed.
      }
    })(),
    limitMs,
    "server to close the connection",
  );
  return Date.now() - started;
}

async function pullPair(
  pullOptions: SocketOptions = {},
  pushOptions: SocketOptions = {},
): Promise<{ pull: PullSocket; push: PushSocket; close: () => Promise<void> }> {
  const pull = new PullSocket(pullOptions);
  await pull.bind("tcp://127.0.0.1:0");
  const push = new PushSocket(pushOptions);
  push.connect(`tcp://127.0.0.1:${pull.port}`);
  return {
    pull,
    push,
    close: async () => {
      await push.close();
      await pull.close();
    },
  };
}

const nullGreeting = encodeGreeting({ mechanism: "NULL", asServer: false });

Deno.test("socket: PUSH -> PULL over TCP, text and multi-part, in order", async () => {
  const { pull, push, close } = await pullPair();
  try {
    await push.send("one");
    await push.send(["a", new Uint8Array([1, 2, 3]), ""]);
    for (let i = 0; i < 100; i++) await push.send(`n${i}`);
    assert.deepEqual((await pull.receive()).map((f) => decoder.decode(f)), ["one"]);
    const parts = await pull.receive();
    assert.equal(parts.length, 3);
    assert.deepEqual(parts[1], new Uint8Array([1, 2, 3]));
    assert.equal(parts[2]!.length, 0);
    for (let i = 0; i < 100; i++) {
      assert.equal(decoder.decode((await pull.receive())[0]), `n${i}`);
    }
    assert.equal(pull.stats.messagesIn, 102);
    assert.equal(push.stats.messagesOut, 102);
  } finally {
    await close();
  }
});

Deno.test("socket: PULL connects, PUSH binds; async iteration ends on close", async () => {
  const push = new PushSocket();
  await push.bind("tcp://127.0.0.1:0");
  const pull = new PullSocket();
  pull.connect(`tcp://127.0.0.1:${push.port}`);
  await push.send("first");
  await push.send("second");
  const seen: string[] = [];
  for await (const [frame] of pull) {
    seen.push(decoder.decode(frame));
    if (seen.length === 2) break;
  }
  assert.deepEqual(seen, ["first", "second"]);
  const pending = assert.rejects(pull.receive(), (error: unknown) => {
    return error instanceof ZmtpError && error.code === "CLOSED";
  });
  await pull.close();
  await pending;
  await assert.rejects(pull.receive(), ZmtpError);
  await push.close();
});

Deno.test("socket: PLAIN server refuses a wrong password, keeps serving the right one", async () => {
  const logged: string[] = [];
  const logger: ZmtpLogger = {
    debug: (message, properties) => logged.push(message + JSON.stringify(properties ?? {})),
    warn: (message, properties) => logged.push(message + JSON.stringify(properties ?? {})),
  };
  const pull = new PullSocket({
    logger,
    mechanism: {
      type: "plain",
      role: "server",
      authenticate: (user, password) => user === "riskguard" && password === "right-token",
    },
  });
  const serverFailures: string[] = [];
  pull.on("auth_failure", (event) => serverFailures.push(event.reason));
  await pull.bind("tcp://127.0.0.1:0");
  const endpoint = `tcp://127.0.0.1:${pull.port}`;
  const bad = new PushSocket({
    logger,
    reconnectIntervalMs: 1_000,
    mechanism: { type: "plain", role: "client", username: "riskguard", password: "wrong-token" },
  });
  const clientFailures: string[] = [];
  bad.on("auth_failure", (event) => clientFailures.push(event.reason));
  const good = new PushSocket({
    logger,
    mechanism: { type: "plain", role: "client", username: "riskguard", password: "right-token" },
  });
  try {
    bad.connect(endpoint);
    good.connect(endpoint);
    await bad.send("from bad");
    await good.send("from good");
    assert.equal(
      decoder.decode((await within(pull.receive(), 5_000, "good message"))[0]),
      "from good",
    );
    await until(
      () => clientFailures.length > 0 && serverFailures.length > 0,
      5_000,
      "auth failures",
    );
    assert.equal(bad.stats.authFailures, 1);
    assert.equal(pull.stats.authFailures, 1);
    assert.equal(pull.stats.peers, 1);
    assert.equal(bad.stats.queued, 1, "the bad client keeps its message queued");
    const everything = JSON.stringify([serverFailures, clientFailures, logged]);
    assert.doesNotMatch(everything, /wrong-token|right-token/);
  } finally {
    await bad.close();
    await good.close();
    await pull.close();
  }
  assert.equal(bad.stats.dropped, 1);
});

Deno.test("socket: bad peers are dropped within the handshake timeout and counted", async () => {
  const { pull, push, close } = await pullPair({ handshakeTimeoutMs: 250, maxMessageSize: 1024 });
  const failures: string[] = [];
  pull.on("protocol_error", (event) => failures.push(event.reason));
  pull.on("handshake_failure", (event) => failures.push(`${event.kind}: ${event.reason}`));
  const port = pull.port;
  const conns: Deno.TcpConn[] = [];
  try {
    await push.send("warm-up");
    await pull.receive();
    const wrongSignature = nullGreeting.slice();
    wrongSignature[0] = 0x00;
    const zmtp2 = nullGreeting.slice();
    zmtp2[10] = 2;
    const oversized = new Uint8Array([
      ...nullGreeting,
      ...encodeReady([["Socket-Type", "PUSH"]]),
      ...encodeMessage([new Uint8Array(2048)]),
    ]);
    const cases = [wrongSignature, zmtp2, oversized, nullGreeting.subarray(0, 30)];
    const durations: Promise<number>[] = [];
    for (const bytes of cases) {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      conns.push(conn);
      await conn.write(bytes);
      durations.push(readUntilClosed(conn, 2_000));
    }
    // Meanwhile the good peer is served.
    for (let i = 0; i < 20; i++) await push.send(`m${i}`);
    for (let i = 0; i < 20; i++) assert.equal(decoder.decode((await pull.receive())[0]), `m${i}`);
    await Promise.all(durations);
    await until(
      () => pull.stats.handshakeFailures + pull.stats.protocolErrors >= 5,
      1_000,
      "counts",
    );
    assert.equal(pull.stats.protocolErrors, 3);
    assert.equal(pull.stats.handshakeFailures, 3); // the oversized message came after the handshake
    assert.equal(pull.stats.timeouts, 1);
    assert.equal(pull.stats.disconnects, 1);
    assert.equal(pull.stats.peers, 1);
    assert.ok(failures.some((f) => /wrong signature/.test(f)));
    assert.ok(failures.some((f) => /unsupported ZMTP major version 2/.test(f)));
    assert.ok(failures.some((f) => /exceeds the maximum 1024/.test(f)));
    assert.ok(failures.some((f) => /timeout: handshake not finished within 250 ms/.test(f)));
  } finally {
    for (const conn of conns) conn.close();
    await close();
  }
});

Deno.test("socket: a ready peer silent past the heartbeat timeout is dropped", async () => {
  const pull = new PullSocket({ heartbeatIntervalMs: 40, heartbeatTimeoutMs: 150 });
  const reasons: string[] = [];
  pull.on("disconnect", (event) => reasons.push(event.reason));
  await pull.bind("tcp://127.0.0.1:0");
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: pull.port });
  try {
    await conn.write(new Uint8Array([...nullGreeting, ...encodeReady([["Socket-Type", "PUSH"]])]));
    await until(() => pull.stats.peers === 1, 2_000, "raw peer ready");
    // The raw peer never answers PINGs.
    await readUntilClosed(conn, 2_000);
    await until(() => reasons.length === 1, 1_000, "disconnect event");
    assert.match(reasons[0]!, /silent for \d+ ms \(limit 150 ms\)/);
    assert.equal(pull.stats.timeouts, 1);
    assert.equal(pull.stats.handshakeFailures, 0);
  } finally {
    conn.close();
    await pull.close();
  }
});

Deno.test("socket: heartbeating peers stay connected while idle", async () => {
  // Margins wide enough for a loaded CI machine; the idle period is still past the timeout.
  const options = { heartbeatIntervalMs: 50, heartbeatTimeoutMs: 500 };
  const { pull, push, close } = await pullPair(options, options);
  try {
    await until(() => pull.stats.peers === 1 && push.stats.peers === 1, 2_000, "ready");
    await new Promise((resolve) => setTimeout(resolve, 700));
    assert.equal(pull.stats.disconnects + push.stats.disconnects, 0);
    await push.send("alive");
    assert.equal(decoder.decode((await pull.receive())[0]), "alive");
  } finally {
    await close();
  }
});

Deno.test("socket: PUSH queue is bounded: send waits when full, times out, is dropped on close", async () => {
  const push = new PushSocket({ sendHighWaterMark: 2, sendTimeoutMs: 100 });
  push.connect("tcp://127.0.0.1:1"); // nothing listens: no peer ever takes a message
  await push.send("1");
  await push.send("2");
  assert.equal(push.stats.queued, 2);
  await assert.rejects(push.send("3"), (error: unknown) => {
    return error instanceof ZmtpError && error.code === "TIMEOUT";
  });
  await push.close();
  assert.equal(push.stats.dropped, 2);
  await assert.rejects(push.send("4"), (error: unknown) => {
    return error instanceof ZmtpError && error.code === "CLOSED";
  });
});

Deno.test("socket: a blocked send resumes once a peer connects (block policy)", async () => {
  const push = new PushSocket({ sendHighWaterMark: 1, reconnectIntervalMs: 20 });
  const pull = new PullSocket();
  await pull.bind("tcp://127.0.0.1:0");
  await pull.close(); // free port, nobody listening yet
  const port = pull.port;
  push.connect(`tcp://127.0.0.1:${port}`);
  await push.send("queued");
  let resolved = false;
  const blocked = push.send("blocked").then(() => resolved = true);
  await new Promise((resolve) => setTimeout(resolve, 60));
  assert.equal(resolved, false);
  const late = new PullSocket();
  await late.bind(`tcp://127.0.0.1:${port}`);
  try {
    await within(blocked, 5_000, "blocked send");
    assert.equal(decoder.decode((await late.receive())[0]), "queued");
    assert.equal(decoder.decode((await late.receive())[0]), "blocked");
  } finally {
    await push.close();
    await late.close();
  }
});

Deno.test("socket: PULL high-water mark pauses reading; nothing is lost", async () => {
  const { pull, push, close } = await pullPair({ receiveHighWaterMark: 5 });
  try {
    const body = new Uint8Array(10_000);
    for (let i = 0; i < 300; i++) {
      body[0] = i & 255;
      await push.send(body.slice());
    }
    await until(() => pull.stats.queued >= 5, 2_000, "inbox filled");
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.ok(pull.stats.queued < 300, `reading paused (queued ${pull.stats.queued})`);
    for (let i = 0; i < 300; i++) assert.equal((await pull.receive())[0]![0], i & 255);
    assert.equal(pull.stats.messagesIn, 300);
  } finally {
    await close();
  }
});

Deno.test("socket: PUSH round-robins across PULL peers", async () => {
  const push = new PushSocket();
  await push.bind("tcp://127.0.0.1:0");
  const pulls = [new PullSocket(), new PullSocket(), new PullSocket()];
  for (const pull of pulls) pull.connect(`tcp://127.0.0.1:${push.port}`);
  try {
    await until(() => push.stats.peers === 3, 2_000, "three peers");
    for (let i = 0; i < 30; i++) await push.send(`m${i}`);
    await until(() => pulls.every((p) => p.stats.messagesIn === 10), 2_000, "even split");
  } finally {
    await push.close();
    for (const pull of pulls) await pull.close();
  }
});

Deno.test("socket: PULL fair-queues several PUSH peers", async () => {
  const pull = new PullSocket();
  await pull.bind("tcp://127.0.0.1:0");
  const pushes = [new PushSocket(), new PushSocket()];
  for (const push of pushes) push.connect(`tcp://127.0.0.1:${pull.port}`);
  try {
    await until(() => pull.stats.peers === 2, 2_000, "two peers");
    // Peer 0 floods; peer 1 sends one message afterwards: it must not wait for the whole flood.
    const flood = new Uint8Array(60_000);
    for (let i = 0; i < 200; i++) await pushes[0]!.send(flood);
    await pushes[1]!.send("small");
    let position = 0;
    for (; position < 201; position++) {
      const [frame] = await pull.receive();
      if (frame!.length === 5) break;
    }
    assert.ok(position < 200, `small message came at position ${position}`);
  } finally {
    for (const push of pushes) await push.close();
    await pull.close();
  }
});

Deno.test("socket: endpoints are validated; non-loopback binds are refused by default", async () => {
  const pull = new PullSocket();
  await assert.rejects(pull.bind("tcp://0.0.0.0:0"), /not a loopback address/);
  await assert.rejects(pull.bind("tcp://*:0"), /not a loopback address/);
  assert.throws(() => pull.connect("ipc:///tmp/x"), /expected tcp:\/\/host:port/);
  assert.throws(() => pull.connect("tcp://127.0.0.1:70000"), /Invalid port/);
  assert.throws(() => new PushSocket({ sendHighWaterMark: 0 }), /sendHighWaterMark must be > 0/);
  assert.throws(
    () =>
      new PushSocket({
        mechanism: { type: "plain", role: "client", username: "u", password: "p".repeat(256) },
      }),
    /at most 255 bytes \(got 1 and 256\)/,
  );
  await pull.bind("tcp://localhost:0");
  assert.ok(pull.port > 0);
  await pull.bind("tcp://:0"); // no host: 127.0.0.1
  await Promise.all([pull.close(), pull.close()]);
  assert.throws(() => pull.connect("tcp://127.0.0.1:1"), /closed/);
});

Deno.test("socket: PUSH linger flushes queued messages on close", async () => {
  const pull = new PullSocket();
  await pull.bind("tcp://127.0.0.1:0");
  const push = new PushSocket({ lingerMs: 2_000 });
  push.connect(`tcp://127.0.0.1:${pull.port}`);
  for (let i = 0; i < 50; i++) await push.send(`m${i}`);
  await push.close();
  assert.equal(push.stats.dropped, 0);
  for (let i = 0; i < 50; i++) assert.equal(decoder.decode((await pull.receive())[0]), `m${i}`);
  await pull.close();
});

Deno.test("socket: PLAIN handshake stalled after HELLO is dropped by the timeout", async () => {
  const pull = new PullSocket({
    handshakeTimeoutMs: 200,
    mechanism: { type: "plain", role: "server", authenticate: () => true },
  });
  await pull.bind("tcp://127.0.0.1:0");
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: pull.port });
  try {
    await conn.write(
      new Uint8Array([
        ...encodeGreeting({ mechanism: "PLAIN", asServer: false }),
        ...encodeHello("riskguard", "x"),
      ]),
    );
    await readUntilClosed(conn, 2_000); // never sends INITIATE
    await until(() => pull.stats.timeouts === 1, 1_000, "timeout counted");
    assert.equal(pull.stats.handshakeFailures, 1);
  } finally {
    conn.close();
    await pull.close();
  }
});

Deno.test("socket: an unauthenticated PLAIN peer cannot make us buffer a flood of frames", async () => {
  const pull = new PullSocket({
    handshakeTimeoutMs: 5_000,
    mechanism: { type: "plain", role: "server", authenticate: () => false },
  });
  await pull.bind("tcp://127.0.0.1:0");
  const errors: string[] = [];
  pull.on("protocol_error", (event) => errors.push(event.reason));
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: pull.port });
  try {
    // Greeting, then 200 KiB of empty MORE frames and no HELLO: before the fix this was kept.
    await conn.write(encodeGreeting({ mechanism: "PLAIN", asServer: false }));
    const flood = new Uint8Array(200 * 1024);
    for (let i = 0; i < flood.length; i += 2) flood[i] = 0x01; // flags MORE, size 0
    await conn.write(flood).catch(() => {});
    await readUntilClosed(conn, 2_000); // dropped long before the handshake timeout
    await until(() => errors.length === 1, 1_000, "protocol error reported");
    assert.match(errors[0]!, /bytes before the handshake ended \(limit 65536\)/);
  } finally {
    conn.close();
    await pull.close();
  }
});

Deno.test("socket: empty frames count against the message size", async () => {
  const pull = new PullSocket({ maxMessageSize: 64 * 100 });
  await pull.bind("tcp://127.0.0.1:0");
  const errors: string[] = [];
  pull.on("protocol_error", (event) => errors.push(event.reason));
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: pull.port });
  try {
    await conn.write(nullGreeting);
    await conn.write(encodeReady([["Socket-Type", "PUSH"]]));
    const frames = new Uint8Array(2 * 200); // 200 empty MORE frames: 0 body bytes
    for (let i = 0; i < frames.length; i += 2) frames[i] = 0x01;
    await conn.write(frames).catch(() => {});
    await readUntilClosed(conn, 2_000);
    await until(() => errors.length === 1, 1_000, "protocol error reported");
    assert.match(errors[0]!, /exceeds the maximum 6400/);
  } finally {
    conn.close();
    await pull.close();
  }
});

Deno.test("socket: a shorter PING TTL from the peer re-arms the silence watchdog", async () => {
  const pull = new PullSocket();
  let disconnected = false;
  pull.on("disconnect", () => disconnected = true);
  await pull.bind("tcp://127.0.0.1:0");
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: pull.port });
  try {
    await conn.write(new Uint8Array([...nullGreeting, ...encodeReady([["Socket-Type", "PUSH"]])]));
    await until(() => pull.stats.peers === 1, 1_000, "peer ready");
    await conn.write(encodeCommand("PING", Uint8Array.of(0xff, 0xff))); // TTL 6553.5 s
    await new Promise((resolve) => setTimeout(resolve, 50));
    await conn.write(encodeCommand("PING", Uint8Array.of(0x00, 0x01))); // TTL 100 ms, then silence
    await until(() => disconnected, 2_000, "silent peer dropped after the new TTL");
  } finally {
    conn.close();
    await pull.close();
  }
});

Deno.test("socket: close() with linger returns in time although a peer stopped reading", async () => {
  const push = new PushSocket({ lingerMs: 200 });
  await push.bind("tcp://127.0.0.1:0");
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: push.port });
  try {
    const pullGreeting = encodeGreeting({ mechanism: "NULL", asServer: false });
    await conn.write(new Uint8Array([...pullGreeting, ...encodeReady([["Socket-Type", "PULL"]])]));
    await until(() => push.stats.peers === 1, 1_000, "peer ready");
    const big = new Uint8Array(1 << 20);
    for (let i = 0; i < 16; i++) await push.send(big); // far more than TCP buffers take
    const closed = await Promise.race([
      push.close().then(() => "closed"),
      new Promise((resolve) => setTimeout(() => resolve("hanging"), 3_000)),
    ]);
    assert.equal(closed, "closed");
  } finally {
    conn.close();
    await push.close();
  }
});

Deno.test("socket: a ZMTP 3.0 peer (libzmq 4.2 style) is served at 3.0, PING answered", async () => {
  const pull = new PullSocket();
  const versions: string[] = [];
  pull.on(
    "connect",
    (event) => versions.push(`${event.peer.version.major}.${event.peer.version.minor}`),
  );
  await pull.bind("tcp://127.0.0.1:0");
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: pull.port });
  try {
    await conn.write(
      new Uint8Array([
        ...encodeGreeting({ mechanism: "NULL", asServer: false, minor: 0 }),
        ...encodeReady([["Socket-Type", "PUSH"]]),
        ...encodeMessage([new TextEncoder().encode("from 3.0")]),
        ...encodePing(30, new TextEncoder().encode("c1")),
      ]),
    );
    assert.equal(decoder.decode((await within(pull.receive(), 2_000, "message"))[0]), "from 3.0");
    assert.deepEqual(versions, ["3.0"]);
    // Our side: the full 64-byte greeting (3.1), READY, then PONG echoing the context.
    const expected = new Uint8Array([
      ...encodeGreeting({ mechanism: "NULL", asServer: false }),
      ...encodeReady([["Socket-Type", "PULL"]]),
      ...encodeCommand("PONG", new TextEncoder().encode("c1")),
    ]);
    const received: number[] = [];
    const buffer = new Uint8Array(1024);
    while (received.length < expected.length) {
      const n = await within(conn.read(buffer), 2_000, "greeting, READY and PONG");
      if (n === null) break;
      received.push(...buffer.subarray(0, n));
    }
    assert.equal(GREETING_SIZE, 64);
    assert.deepEqual(new Uint8Array(received), expected);
  } finally {
    conn.close();
    await pull.close();
  }
});

Deno.test("socket: a peer that announced a PING TTL and then went silent is dropped", async () => {
  const pull = new PullSocket(); // no heartbeat settings of its own
  await pull.bind("tcp://127.0.0.1:0");
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: pull.port });
  try {
    await conn.write(
      new Uint8Array([
        ...nullGreeting,
        ...encodeReady([["Socket-Type", "PUSH"]]),
        ...encodePing(2), // TTL 200 ms, then silence
      ]),
    );
    await readUntilClosed(conn, 2_000);
    await until(() => pull.stats.timeouts === 1, 1_000, "timeout counted");
    assert.equal(pull.stats.disconnects, 1);
  } finally {
    conn.close();
    await pull.close();
  }
});
