/**
 * Interop tests: our ZMTP sockets against the real libzmq 4.3.5 (npm:zeromq under Node), both
 * directions, both mechanisms, both connect/bind roles, libzmq reconnecting after we restart,
 * multi-part messages and 0 B / 255 B / 256 B / 1 MiB messages.
 */
import assert from "node:assert/strict";
import { type Mechanism, PullSocket, PushSocket } from "../../src/mt5/zmtp/mod.ts";
import { decodeBase64 } from "./_base64.ts";
import {
  b64,
  type DescribedFrame,
  type FrameSpec,
  ignoreInterop,
  NodePeer,
  pattern,
  sha256,
} from "./_peer.ts";
import { delay, until, within } from "./_util.ts";

const ignore = ignoreInterop();
const MiB = 1024 * 1024;
const USER = "riskguard";
const TOKEN = "s3cret-token-42";

/** The messages every direction carries: sizes around the short/long frame boundary. */
const SIZES = [0, 255, 256, MiB];

function serverMechanism(): Mechanism {
  return {
    type: "plain",
    role: "server",
    authenticate: (username, password) => username === USER && password === TOKEN,
  };
}

function specFor(size: number, seed: number): FrameSpec {
  return { pattern: size, seed };
}

function assertFrame(actual: Uint8Array, size: number, seed: number): void {
  assert.equal(actual.length, size);
  assert.deepEqual(actual, pattern(size, seed));
}

async function assertDescribed(actual: DescribedFrame, expected: Uint8Array): Promise<void> {
  assert.equal(actual.len, expected.length);
  assert.equal(actual.sha256, await sha256(expected));
}

/** libzmq PUSH -> our PULL: every size, then a multi-part message. */
async function libzmqToUs(peer: NodePeer, pull: PullSocket): Promise<void> {
  for (const [i, size] of SIZES.entries()) {
    await peer.send([specFor(size, i)]);
    const frames = await within(pull.receive(), 10_000, `message of ${size} B`);
    assert.equal(frames.length, 1);
    assertFrame(frames[0]!, size, i);
  }
  await peer.send([{ text: "head" }, { pattern: 0 }, { pattern: 300, seed: 7 }, { text: "tail" }]);
  const parts = await within(pull.receive(), 10_000, "multi-part message");
  assert.equal(parts.length, 4);
  assert.equal(new TextDecoder().decode(parts[0]), "head");
  assert.equal(parts[1]!.length, 0);
  assertFrame(parts[2]!, 300, 7);
  assert.equal(new TextDecoder().decode(parts[3]), "tail");
}

/** Our PUSH -> libzmq PULL: every size, then a multi-part message. */
async function usToLibzmq(push: PushSocket, peer: NodePeer): Promise<void> {
  for (const [i, size] of SIZES.entries()) await push.send(pattern(size, i));
  await push.send(["head", new Uint8Array(0), pattern(300, 7), "tail"]);
  const messages = await peer.waitForMessages(SIZES.length + 1);
  for (const [i, size] of SIZES.entries()) {
    assert.equal(messages[i]!.length, 1);
    await assertDescribed(messages[i]![0]!, pattern(size, i));
  }
  const parts = messages[SIZES.length]!;
  assert.equal(parts.length, 4);
  assert.deepEqual(decodeBase64(parts[0]!.b64!), new TextEncoder().encode("head"));
  assert.equal(parts[1]!.len, 0);
  await assertDescribed(parts[2]!, pattern(300, 7));
  assert.deepEqual(decodeBase64(parts[3]!.b64!), new TextEncoder().encode("tail"));
}

Deno.test({ name: "interop: libzmq PUSH connects to our bound PULL (NULL)", ignore }, async () => {
  const pull = new PullSocket();
  await pull.bind("tcp://127.0.0.1:0");
  const peer = await NodePeer.start({ type: "push", connect: `tcp://127.0.0.1:${pull.port}` });
  try {
    await libzmqToUs(peer, pull);
    assert.equal(pull.stats.peers, 1);
    assert.equal(pull.stats.messagesIn, SIZES.length + 1);
  } finally {
    await peer.close();
    await pull.close();
  }
});

Deno.test(
  { name: "interop: our PULL connects to a bound libzmq PUSH (NULL)", ignore },
  async () => {
    const peer = await NodePeer.start({ type: "push", bind: "tcp://127.0.0.1:0" });
    const pull = new PullSocket();
    pull.connect(peer.endpoint);
    try {
      await libzmqToUs(peer, pull);
    } finally {
      await pull.close();
      await peer.close();
    }
  },
);

Deno.test({ name: "interop: our bound PUSH feeds a libzmq PULL (NULL)", ignore }, async () => {
  const push = new PushSocket();
  await push.bind("tcp://127.0.0.1:0");
  const peer = await NodePeer.start({ type: "pull", connect: `tcp://127.0.0.1:${push.port}` });
  try {
    await usToLibzmq(push, peer);
    assert.equal(push.stats.messagesOut, SIZES.length + 1);
  } finally {
    await peer.close();
    await push.close();
  }
});

Deno.test(
  { name: "interop: our PUSH connects to a bound libzmq PULL (NULL)", ignore },
  async () => {
    const peer = await NodePeer.start({ type: "pull", bind: "tcp://127.0.0.1:0" });
    const push = new PushSocket();
    push.connect(peer.endpoint);
    try {
      await usToLibzmq(push, peer);
    } finally {
      await push.close();
      await peer.close();
    }
  },
);

Deno.test({
  name: "interop: PLAIN, libzmq PUSH client with the right password reaches our PULL server",
  ignore,
}, async () => {
  const pull = new PullSocket({ mechanism: serverMechanism() });
  const connected: string[] = [];
  pull.on("connect", (event) => connected.push(event.peer.username ?? "?"));
  await pull.bind("tcp://127.0.0.1:0");
  const peer = await NodePeer.start({
    type: "push",
    connect: `tcp://127.0.0.1:${pull.port}`,
    plain: { username: USER, password: TOKEN },
  });
  try {
    await libzmqToUs(peer, pull);
    assert.deepEqual(connected, [USER]);
    assert.equal(pull.stats.authFailures, 0);
  } finally {
    await peer.close();
    await pull.close();
  }
});

Deno.test({
  name: "interop: PLAIN, a wrong password gets ERROR 400, is closed, and others are still served",
  ignore,
}, async () => {
  const pull = new PullSocket({ mechanism: serverMechanism() });
  const failures: string[] = [];
  pull.on("auth_failure", (event) => failures.push(event.reason));
  await pull.bind("tcp://127.0.0.1:0");
  const endpoint = `tcp://127.0.0.1:${pull.port}`;
  const bad = await NodePeer.start({
    type: "push",
    connect: endpoint,
    plain: { username: USER, password: "wrong" },
  });
  const good = await NodePeer.start({
    type: "push",
    connect: endpoint,
    plain: { username: USER, password: TOKEN },
  });
  try {
    // libzmq reports ERROR "400" as an authentication failure with status 400.
    const event = await bad.waitFor(
      (e) => e.event === "monitor" && e.type === "handshake:error:auth",
      "handshake:error:auth",
    );
    assert.equal(event.status, 400);
    await until(() => pull.stats.authFailures >= 1, 5_000, "authFailures counted");
    assert.match(failures[0]!, /credentials refused/);
    assert.doesNotMatch(failures.join(" "), /wrong/); // the password is never reported
    await bad.sendNoWait([{ text: "must not arrive" }]);
    await good.send([{ text: "from the good peer" }]);
    const [frame] = await within(pull.receive(), 5_000, "message from the good peer");
    assert.equal(new TextDecoder().decode(frame), "from the good peer");
    assert.equal(pull.stats.peers, 1);
    assert.equal(pull.stats.messagesIn, 1);
    assert.ok(pull.stats.handshakeFailures >= 1);
  } finally {
    await bad.close();
    await good.close();
    await pull.close();
  }
});

Deno.test({
  name: "interop: PLAIN, our PUSH client against a libzmq PULL server (right and wrong password)",
  ignore,
}, async () => {
  const peer = await NodePeer.start({
    type: "pull",
    bind: "tcp://127.0.0.1:0",
    plain: { server: true, users: { [USER]: TOKEN } },
  });
  const good = new PushSocket({
    mechanism: { type: "plain", role: "client", username: USER, password: TOKEN },
  });
  const bad = new PushSocket({
    mechanism: { type: "plain", role: "client", username: USER, password: "nope" },
    reconnectIntervalMs: 50,
  });
  const badFailures: string[] = [];
  bad.on("auth_failure", (event) => badFailures.push(event.reason));
  try {
    bad.connect(peer.endpoint);
    good.connect(peer.endpoint);
    await good.send("hello over PLAIN");
    await bad.send("never delivered");
    const [message] = await peer.waitForMessages(1);
    assert.deepEqual(decodeBase64(message![0]!.b64!), new TextEncoder().encode("hello over PLAIN"));
    await until(() => badFailures.length >= 1, 5_000, "client-side auth failure");
    assert.match(badFailures[0]!, /ERROR: 400/);
    assert.equal(bad.stats.peers, 0);
    await delay(100);
    assert.equal(peer.messages.length, 1);
  } finally {
    await bad.close();
    await good.close();
    await peer.close();
  }
});

Deno.test({
  name: "interop: libzmq PUSH reconnects after our PULL restarts on the same port",
  ignore,
}, async () => {
  let pull = new PullSocket();
  await pull.bind("tcp://127.0.0.1:0");
  const port = pull.port;
  const peer = await NodePeer.start({
    type: "push",
    connect: `tcp://127.0.0.1:${port}`,
    reconnectInterval: 50,
  });
  try {
    await peer.send([{ text: "before restart" }]);
    const [first] = await within(pull.receive(), 5_000, "first message");
    assert.equal(new TextDecoder().decode(first), "before restart");
    await pull.close();
    await peer.waitFor((e) => e.event === "monitor" && e.type === "disconnect", "disconnect");
    pull = new PullSocket();
    await pull.bind(`tcp://127.0.0.1:${port}`);
    await peer.send([{ text: "after restart" }]);
    const [second] = await within(pull.receive(), 10_000, "message after restart");
    assert.equal(new TextDecoder().decode(second), "after restart");
  } finally {
    await peer.close();
    await pull.close();
  }
});

Deno.test({
  name: "interop: our PUSH reconnects to a libzmq PULL that restarts on the same port",
  ignore,
}, async () => {
  let peer = await NodePeer.start({ type: "pull", bind: "tcp://127.0.0.1:0" });
  const port = peer.port;
  const push = new PushSocket({ reconnectIntervalMs: 20, reconnectMaxIntervalMs: 100 });
  const disconnects: string[] = [];
  push.on("disconnect", (event) => disconnects.push(event.reason));
  push.connect(peer.endpoint);
  try {
    await push.send("one");
    await peer.waitForMessages(1);
    await peer.close();
    await until(() => disconnects.length === 1, 5_000, "disconnect seen");
    peer = await NodePeer.start({ type: "pull", bind: `tcp://127.0.0.1:${port}` });
    await push.send("two");
    const [message] = await peer.waitForMessages(1);
    assert.deepEqual(decodeBase64(message![0]!.b64!), new TextEncoder().encode("two"));
    assert.equal(push.stats.peers, 1);
  } finally {
    await push.close();
    await peer.close();
  }
});

Deno.test({
  name: "interop: our PUSH round-robins over two libzmq PULL peers",
  ignore,
}, async () => {
  const push = new PushSocket();
  await push.bind("tcp://127.0.0.1:0");
  const endpoint = `tcp://127.0.0.1:${push.port}`;
  const a = await NodePeer.start({ type: "pull", connect: endpoint });
  const b = await NodePeer.start({ type: "pull", connect: endpoint });
  try {
    await until(() => push.stats.peers === 2, 5_000, "two peers");
    for (let i = 0; i < 10; i++) await push.send(`m${i}`);
    await until(() => a.messages.length + b.messages.length === 10, 5_000, "10 messages");
    assert.equal(a.messages.length, 5);
    assert.equal(b.messages.length, 5);
  } finally {
    await a.close();
    await b.close();
    await push.close();
  }
});

Deno.test({
  name: "interop: our PULL fair-queues two libzmq PUSH peers",
  ignore,
}, async () => {
  const pull = new PullSocket();
  await pull.bind("tcp://127.0.0.1:0");
  const endpoint = `tcp://127.0.0.1:${pull.port}`;
  const a = await NodePeer.start({ type: "push", connect: endpoint });
  const b = await NodePeer.start({ type: "push", connect: endpoint });
  try {
    await until(() => pull.stats.peers === 2, 5_000, "two peers");
    await Promise.all([
      a.send([{ text: "a1" }]),
      b.send([{ text: "b1" }]),
      a.send([{ text: "a2" }]),
      b.send([{ text: "b2" }]),
    ]);
    const seen: string[] = [];
    for (let i = 0; i < 4; i++) {
      const [frame] = await within(pull.receive(), 5_000, "message");
      seen.push(new TextDecoder().decode(frame));
    }
    assert.deepEqual(seen.filter((s) => s.startsWith("a")), ["a1", "a2"]);
    assert.deepEqual(seen.filter((s) => s.startsWith("b")), ["b1", "b2"]);
  } finally {
    await a.close();
    await b.close();
    await pull.close();
  }
});

/** Keeps a connection idle past every heartbeat timeout, then checks it is still up. */
async function idlePastTimeouts(push: PushSocket, peer: NodePeer): Promise<void> {
  await until(() => push.stats.peers === 1, 5_000, "peer ready");
  await delay(900); // no application traffic, well past the 400 ms timeouts
  assert.equal(push.stats.disconnects, 0);
  assert.equal(push.stats.timeouts, 0);
  assert.equal(peer.events.filter((e) => e.type === "disconnect").length, 0);
  await push.send("still here");
  await peer.waitForMessages(1);
}

Deno.test({
  name: "interop: we answer libzmq's PINGs (libzmq drops silent peers after 400 ms)",
  ignore,
}, async () => {
  const push = new PushSocket(); // sends no PING of its own
  await push.bind("tcp://127.0.0.1:0");
  const peer = await NodePeer.start({
    type: "pull",
    connect: `tcp://127.0.0.1:${push.port}`,
    heartbeatInterval: 50,
    heartbeatTimeout: 400,
  });
  try {
    await idlePastTimeouts(push, peer);
  } finally {
    await peer.close();
    await push.close();
  }
});

Deno.test({
  name: "interop: our PINGs are answered by libzmq (we drop silent peers after 400 ms)",
  ignore,
}, async () => {
  const push = new PushSocket({ heartbeatIntervalMs: 50, heartbeatTimeoutMs: 400 });
  await push.bind("tcp://127.0.0.1:0");
  const peer = await NodePeer.start({ type: "pull", connect: `tcp://127.0.0.1:${push.port}` });
  try {
    await idlePastTimeouts(push, peer);
  } finally {
    await peer.close();
    await push.close();
  }
});

Deno.test({
  name: "interop: a libzmq PULL connecting to our PULL is refused (invalid socket type)",
  ignore,
}, async () => {
  const pull = new PullSocket();
  const failures: string[] = [];
  pull.on("handshake_failure", (event) => failures.push(event.kind));
  await pull.bind("tcp://127.0.0.1:0");
  const peer = await NodePeer.start({ type: "pull", connect: `tcp://127.0.0.1:${pull.port}` });
  try {
    await until(() => failures.length >= 1, 5_000, "socket type refusal");
    assert.equal(failures[0], "socket_type");
    assert.equal(pull.stats.peers, 0);
  } finally {
    await peer.close();
    await pull.close();
  }
});

Deno.test({
  name: "interop: bad peers are dropped within the handshake timeout while libzmq is served",
  ignore,
}, async () => {
  const pull = new PullSocket({ handshakeTimeoutMs: 300, maxMessageSize: 4096 });
  await pull.bind("tcp://127.0.0.1:0");
  const port = pull.port;
  const peer = await NodePeer.start({ type: "push", connect: `tcp://127.0.0.1:${port}` });
  const raw: Deno.TcpConn[] = [];
  try {
    await until(() => pull.stats.peers === 1, 5_000, "libzmq peer ready");
    const greeting = new Uint8Array(64);
    greeting.set([0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0x7f, 3, 1]);
    greeting.set(new TextEncoder().encode("NULL"), 12);
    const wrongSignature = greeting.slice();
    wrongSignature[0] = 0x01;
    const oldVersion = greeting.slice();
    oldVersion[10] = 2;
    for (const bytes of [wrongSignature, oldVersion, greeting.subarray(0, 20)]) {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      raw.push(conn);
      await conn.write(bytes);
    }
    await peer.send([{ text: "served meanwhile" }]);
    const [frame] = await within(pull.receive(), 5_000, "message from libzmq");
    assert.equal(new TextDecoder().decode(frame), "served meanwhile");
    await until(() => pull.stats.handshakeFailures >= 3, 2_000, "three handshake failures");
    assert.equal(pull.stats.protocolErrors, 2);
    assert.equal(pull.stats.timeouts, 1);
    // An oversized message from libzmq is a protocol error; the peer is dropped.
    await peer.send([{ pattern: 5000 }]);
    await until(() => pull.stats.protocolErrors === 3, 5_000, "oversized message dropped");
    await peer.send([{ text: "after reconnect" }]);
    const [again] = await within(pull.receive(), 5_000, "message after libzmq reconnected");
    assert.equal(new TextDecoder().decode(again), "after reconnect");
  } finally {
    for (const conn of raw) {
      try {
        conn.close();
      } catch {
        // Closed by the socket already.
      }
    }
    await peer.close();
    await pull.close();
  }
});

// Keep the b64 helper exercised: a binary frame built on the Deno side goes through libzmq.
Deno.test({ name: "interop: binary frames pass through unchanged", ignore }, async () => {
  const pull = new PullSocket();
  await pull.bind("tcp://127.0.0.1:0");
  const peer = await NodePeer.start({ type: "push", connect: `tcp://127.0.0.1:${pull.port}` });
  try {
    const bytes = Uint8Array.from({ length: 256 }, (_, i) => i);
    await peer.send([b64(bytes)]);
    const [frame] = await within(pull.receive(), 5_000, "binary frame");
    assert.deepEqual(frame, bytes);
  } finally {
    await peer.close();
    await pull.close();
  }
});
