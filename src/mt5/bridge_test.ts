import assert from "node:assert/strict";
import { Bridge, type BridgeEvent, makeToken } from "./bridge.ts";
import {
  type Ack,
  type Command,
  decodeCommand,
  type EaMessage,
  encodeMessage,
  PROTOCOL_VERSION,
  type Snapshot,
} from "./protocol.ts";
import { PullSocket, PushSocket } from "./zmtp/mod.ts";
import { ManualClock } from "../shared/clock.ts";

/** A hand-driven EA: raw sockets, every byte under the test's control. */
class FakeEa {
  readonly push: PushSocket;
  readonly pull: PullSocket;
  readonly commands: Command[] = [];
  #waiters: Array<() => void> = [];
  #loop: Promise<void>;

  constructor(bridge: Bridge, token: string, username = "riskguard") {
    const mechanism = {
      type: "plain" as const,
      role: "client" as const,
      username,
      password: token,
    };
    this.push = new PushSocket({ mechanism, reconnectIntervalMs: 20 });
    this.pull = new PullSocket({ mechanism, reconnectIntervalMs: 20 });
    this.push.connect(`tcp://127.0.0.1:${bridge.port}`);
    this.pull.connect(`tcp://127.0.0.1:${bridge.commandPort}`);
    const pull = this.pull;
    this.#loop = (async () => {
      for await (const [frame] of pull) {
        const decoded = decodeCommand(frame!);
        if (decoded.ok) this.commands.push(decoded.value);
        for (const wake of this.#waiters.splice(0)) wake();
      }
    })();
  }

  send(message: EaMessage | Uint8Array | Uint8Array[]): Promise<void> {
    if (Array.isArray(message)) return this.push.send(message);
    return this.push.send(message instanceof Uint8Array ? message : encodeMessage(message));
  }

  async nextCommand(count: number): Promise<Command> {
    while (this.commands.length < count) {
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
    return this.commands[count - 1]!;
  }

  async close(): Promise<void> {
    await Promise.all([this.push.close(), this.pull.close()]);
    await this.#loop;
  }
}

const NOW = Date.UTC(2026, 0, 6, 10, 0, 0);

function hello(login = 7, protocol = PROTOCOL_VERSION): EaMessage {
  return {
    type: "hello",
    protocol,
    ea_version: "test",
    terminal_build: 1,
    login,
    server: "S",
    locked: false,
    server_time: NOW + 7_200_000,
    utc_time: NOW,
  };
}

function snapshot(seq: number, login = 7): Snapshot {
  return {
    type: "snapshot",
    seq,
    server_time: NOW + 7_200_000,
    utc_time: NOW,
    account: {
      login,
      currency: "USD",
      balance: 1000,
      equity: 990,
      margin: 10,
      free_margin: 980,
      profit: -10,
      credit: 0,
      leverage: 100,
      margin_mode: "hedging",
    },
    positions: [],
    orders: [],
    symbols: {},
    realized_today: { profit: 0, swap: 0, commission: 0, total: 0 },
    trade_allowed: true,
    locked: false,
  };
}

const heartbeat: EaMessage = { type: "heartbeat", server_time: NOW, utc_time: NOW };

/** Collects events and waits for one that matches. */
class Events {
  readonly all: BridgeEvent[] = [];
  #waiters: Array<() => void> = [];
  constructor(bridge: Bridge) {
    bridge.on((event) => {
      this.all.push(event);
      for (const wake of this.#waiters.splice(0)) wake();
    });
  }
  async wait<T extends BridgeEvent["type"]>(
    type: T,
    where: (event: Extract<BridgeEvent, { type: T }>) => boolean = () => true,
  ): Promise<Extract<BridgeEvent, { type: T }>> {
    for (let seen = 0;;) {
      for (; seen < this.all.length; seen++) {
        const event = this.all[seen]!;
        if (event.type === type && where(event as Extract<BridgeEvent, { type: T }>)) {
          return event as Extract<BridgeEvent, { type: T }>;
        }
      }
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
  }
}

async function setup(options: Partial<Parameters<typeof Bridge.open>[0]> = {}) {
  const token = makeToken();
  const bridge = await Bridge.open({ port: 0, token, checkIntervalMs: 20, ...options });
  const events = new Events(bridge);
  return { token, bridge, events };
}

Deno.test("makeToken: 43 URL-safe characters from 32 random bytes, new per call", () => {
  const a = makeToken();
  const b = makeToken();
  assert.match(a, /^[A-Za-z0-9_-]{43}$/);
  assert.notEqual(a, b);
});

Deno.test("bridge: yields hello and validated snapshots in order", async () => {
  const { token, bridge, events } = await setup({ expectedLogin: 7 });
  const ea = new FakeEa(bridge, token);
  try {
    await ea.send(hello());
    await ea.send(snapshot(1));
    await ea.send(snapshot(2));
    const got = await events.wait("snapshot", (e) => e.snapshot.seq === 2);
    assert.equal(got.snapshot.account.equity, 990);
    assert.equal((await events.wait("hello")).restart, false);
    assert.equal(bridge.lastSnapshot?.seq, 2);
    assert.equal(bridge.stats.snapshots, 2);
  } finally {
    await ea.close();
    await bridge.close();
  }
});

Deno.test("bridge: wrong credentials are refused and counted, nothing is delivered", async () => {
  const { token, bridge, events } = await setup();
  const wrongPassword = new FakeEa(bridge, token + "x");
  const wrongUser = new FakeEa(bridge, token, "someone");
  try {
    await wrongPassword.send(hello()).catch(() => {});
    await events.wait("auth_failure");
    await events.wait(
      "auth_failure",
      (e) =>
        events.all.filter((x) => x.type === "auth_failure").length >= 2 &&
        e.type === "auth_failure",
    );
    assert.ok(bridge.stats.authFailures >= 2);
    assert.equal(bridge.stats.received, 0);
    assert.equal(events.all.some((e) => e.type === "hello"), false);
  } finally {
    await Promise.all([wrongPassword.close(), wrongUser.close()]);
    await bridge.close();
  }
});

Deno.test("bridge: a stream of invalid snapshots does not keep the session fresh", async () => {
  const { token, bridge, events } = await setup({ staleAfterMs: 150 });
  const ea = new FakeEa(bridge, token);
  try {
    await ea.send(hello());
    await events.wait("hello");
    const invalid = { ...snapshot(1), account: { ...snapshot(1).account, currency: "" } };
    let sendingDone = false;
    const sending = (async () => {
      for (let n = 0; n < 20; n++) { // 600 ms of invalid snapshots, one every 30 ms
        await ea.send(invalid);
        await new Promise((resolve) => setTimeout(resolve, 30));
      }
      sendingDone = true;
    })();
    await events.wait("stale");
    assert.equal(sendingDone, false, "stale only once the invalid snapshots stopped");
    await sending;
    assert.ok(bridge.stats.dropped.invalid >= 1);
  } finally {
    await ea.close();
    await bridge.close();
  }
});

Deno.test("bridge: credentials with a C string terminator (MQL5 bindings) are accepted", async () => {
  const { token, bridge, events } = await setup({ expectedLogin: 7 });
  const ea = new FakeEa(bridge, `${token}\0`, "riskguard\0");
  let twoNuls: FakeEa | undefined;
  try {
    await ea.send(hello()).catch(() => {});
    const first = await Promise.race([events.wait("hello"), events.wait("auth_failure")]);
    assert.equal(first.type, "hello", "the terminated credentials were refused");
    twoNuls = new FakeEa(bridge, `${token}\0\0`);
    await twoNuls.send(hello()).catch(() => {});
    await events.wait("auth_failure");
    assert.equal(bridge.stats.authFailures >= 1, true, "only one terminator is forgiven");
  } finally {
    await Promise.all([ea.close(), twoNuls?.close()]);
    await bridge.close();
  }
});

Deno.test("bridge: silence makes the session stale, the next message makes it fresh", async () => {
  const { token, bridge, events } = await setup({ staleAfterMs: 150 });
  const ea = new FakeEa(bridge, token);
  try {
    await ea.send(hello());
    await events.wait("hello");
    const stale = await events.wait("stale");
    assert.ok(stale.silentMs >= 150);
    assert.equal(bridge.stale, true);
    await ea.send(heartbeat);
    await events.wait("fresh");
    assert.equal(bridge.stale, false);
    assert.equal(bridge.stats.staleEvents, 1);
  } finally {
    await ea.close();
    await bridge.close();
  }
});

Deno.test("bridge: silence is measured on the monotonic clock, not the wall clock", async () => {
  const clock = new ManualClock(Date.UTC(2026, 10, 24, 21, 45));
  const { bridge, events } = await setup({ staleAfterMs: 1_000, clock });
  try {
    // The host clock is set an hour forward: no time passed, so nothing was silent.
    clock.jump(3_600_000);
    await new Promise((resolve) => setTimeout(resolve, 100)); // several checks (every 20 ms)
    assert.equal(bridge.stale, false);
    assert.equal(bridge.stats.staleEvents, 0);
    // A second of real silence is.
    clock.advance(1_000);
    const stale = await events.wait("stale");
    assert.equal(stale.silentMs, 1_000);
    assert.equal(bridge.stats.staleEvents, 1);
  } finally {
    await bridge.close();
  }
});

Deno.test("bridge: an EA restart mid-stream starts a new session (seq back to 1)", async () => {
  const { token, bridge, events } = await setup();
  const ea = new FakeEa(bridge, token);
  try {
    await ea.send(hello());
    for (const seq of [1, 2, 3]) await ea.send(snapshot(seq));
    await events.wait("snapshot", (e) => e.snapshot.seq === 3);
    await ea.send(snapshot(2)); // stale duplicate within the session: dropped
    await ea.send(hello());
    await ea.send(snapshot(1));
    const restart = await events.wait("hello", (e) => e.restart);
    assert.equal(restart.restart, true);
    await events.wait("snapshot", () => bridge.stats.snapshots === 4);
    const last = events.all.filter((e) => e.type === "snapshot").at(-1);
    assert.equal(last?.type === "snapshot" && last.snapshot.seq, 1);
    assert.equal(bridge.stats.dropped.out_of_order, 1);
    assert.equal(bridge.stats.snapshots, 4);
  } finally {
    await ea.close();
    await bridge.close();
  }
});

Deno.test("bridge: malformed, oversized, multi-part and unknown messages are dropped and counted", async () => {
  const { token, bridge, events } = await setup({ maxMessageSize: 1000 });
  const ea = new FakeEa(bridge, token);
  const enc = new TextEncoder();
  try {
    await ea.send(hello());
    await ea.send(new Uint8Array([0xff, 0xfe, 0x00]));
    await ea.send(enc.encode("{not json"));
    await ea.send(enc.encode(JSON.stringify({ type: "bogus", x: 1 })));
    await ea.send(enc.encode(JSON.stringify({ type: "snapshot", seq: "one" })));
    await ea.send(enc.encode(JSON.stringify({ ...heartbeat, pad: "x".repeat(2000) })));
    await ea.send([enc.encode("{}"), enc.encode("{}")]);
    await ea.send(heartbeat);
    await events.wait("heartbeat");
    const dropped = bridge.stats.dropped;
    assert.equal(dropped.not_utf8, 1);
    assert.equal(dropped.not_json, 1);
    assert.equal(dropped.unknown_type, 1);
    assert.equal(dropped.invalid, 1);
    assert.equal(dropped.oversized, 1);
    assert.equal(dropped.multipart, 1);
    assert.equal(bridge.stats.received, 8);
  } finally {
    await ea.close();
    await bridge.close();
  }
});

Deno.test("bridge: a command without ack is resent with the same id, then acked", async () => {
  const { token, bridge, events } = await setup({ ackTimeoutMs: 100, retries: 3 });
  const ea = new FakeEa(bridge, token);
  try {
    await ea.send(hello());
    await events.wait("hello");
    const acked = bridge.send({ type: "lock", reason: "daily loss", until: 0 });
    const first = await ea.nextCommand(1);
    const second = await ea.nextCommand(2); // the first was "lost": no ack
    assert.equal(second.id, first.id);
    assert.deepEqual(second, first);
    await ea.send({ type: "ack", id: first.id, ok: true, retcode: 0, locked: true });
    const ack: Ack = await acked;
    assert.equal(ack.id, first.id);
    assert.equal(bridge.stats.retries >= 1, true);
    assert.equal(bridge.pendingCommands, 0);
  } finally {
    await ea.close();
    await bridge.close();
  }
});

Deno.test("bridge: a command never acked rejects with TIMEOUT after every attempt", async () => {
  const { token, bridge, events } = await setup({ ackTimeoutMs: 40, retries: 2 });
  const ea = new FakeEa(bridge, token);
  try {
    await ea.send(hello());
    await events.wait("hello");
    await assert.rejects(
      () => bridge.send({ type: "cancel_orders" }),
      (error: Error & { code?: string }) =>
        error.code === "TIMEOUT" && /3 attempts/.test(error.message) &&
        !error.message.includes(token),
    );
    await ea.nextCommand(3);
    assert.equal(bridge.stats.timeouts, 1);
    assert.equal(bridge.stats.retries, 2);
  } finally {
    await ea.close();
    await bridge.close();
  }
});

Deno.test("bridge: an ack that arrives after the timeout is still delivered to onLateAck", async () => {
  const { token, bridge, events } = await setup({ ackTimeoutMs: 40, retries: 0 });
  const ea = new FakeEa(bridge, token);
  try {
    await ea.send(hello());
    await events.wait("hello");
    let late: Ack | undefined;
    await assert.rejects(
      () => bridge.send({ type: "cancel_orders" }, { onLateAck: (ack) => late = ack }),
      (error: Error & { code?: string }) => error.code === "TIMEOUT",
    );
    const command = await ea.nextCommand(1);
    // The EA was busy with a long queue: its answer comes after the bridge gave up.
    await ea.send({ type: "ack", id: command.id, ok: true, retcode: 10009, results: [] });
    const event = await events.wait("ack");
    assert.equal(event.late, true);
    assert.equal(event.ack.id, command.id);
    assert.equal(late?.id, command.id);
    assert.equal(bridge.stats.lateAcks, 1);
    assert.equal(bridge.stats.unknownAcks, 0);
  } finally {
    await ea.close();
    await bridge.close();
  }
});

Deno.test("bridge: a waiting command is resent at once when the EA says hello again", async () => {
  const { token, bridge, events } = await setup({ ackTimeoutMs: 60_000 });
  const ea = new FakeEa(bridge, token);
  try {
    await ea.send(hello());
    await events.wait("hello");
    const acked = bridge.send({ type: "close_all", reason: "x" });
    const first = await ea.nextCommand(1);
    await ea.send(hello()); // EA restarted before executing it
    const again = await ea.nextCommand(2);
    assert.equal(bridge.stats.hellos, 2);
    assert.equal(again.id, first.id);
    await ea.send({ type: "ack", id: first.id, ok: true, retcode: 10009, results: [] });
    assert.equal((await acked).ok, true);
  } finally {
    await ea.close();
    await bridge.close();
  }
});

Deno.test("bridge: an ack for an unknown id is counted and ignored", async () => {
  const { token, bridge, events } = await setup();
  const ea = new FakeEa(bridge, token);
  try {
    await ea.send(hello());
    await ea.send({ type: "ack", id: "nobody-1", ok: true, retcode: 0 });
    await ea.send(heartbeat);
    await events.wait("heartbeat");
    assert.equal(bridge.stats.unknownAcks, 1);
    assert.equal(events.all.some((e) => e.type === "ack"), false);
  } finally {
    await ea.close();
    await bridge.close();
  }
});

Deno.test("bridge: a protocol mismatch refuses the session until a matching hello", async () => {
  const { token, bridge, events } = await setup();
  const ea = new FakeEa(bridge, token);
  try {
    await ea.send(hello(7, PROTOCOL_VERSION + 1));
    await ea.send(snapshot(1));
    const mismatch = await events.wait("protocol_mismatch");
    assert.equal(mismatch.protocol, PROTOCOL_VERSION + 1);
    await ea.send(hello());
    await ea.send(snapshot(1));
    await events.wait("snapshot");
    assert.equal(bridge.stats.dropped.refused_session, 2);
    assert.equal(bridge.stats.snapshots, 1);
  } finally {
    await ea.close();
    await bridge.close();
  }
});

Deno.test("bridge: another account's hello is refused", async () => {
  const { token, bridge, events } = await setup({ expectedLogin: 7 });
  const ea = new FakeEa(bridge, token);
  try {
    await ea.send(hello(8));
    const wrong = await events.wait("wrong_account");
    assert.equal(wrong.login, 8);
    assert.equal(bridge.hello, undefined);
  } finally {
    await ea.close();
    await bridge.close();
  }
});

Deno.test("bridge: snapshots before any hello are accepted and trigger ping {hello: true}", async () => {
  const { token, bridge, events } = await setup();
  const ea = new FakeEa(bridge, token);
  try {
    await ea.send(snapshot(41));
    await events.wait("snapshot");
    const ping = await ea.nextCommand(1);
    assert.equal(ping.type, "ping");
    assert.equal(ping.type === "ping" && ping.hello, true);
    assert.equal(bridge.stats.beforeHello, 1);
  } finally {
    await ea.close();
    await bridge.close();
  }
});

Deno.test("bridge: events() holds nothing for nobody: an iterator sees only what came after it began", async () => {
  const { token, bridge, events } = await setup();
  const ea = new FakeEa(bridge, token);
  const early = bridge.events(); // obtained, never read: must not buffer
  try {
    await ea.send(hello());
    for (let seq = 1; seq <= 5; seq++) await ea.send(snapshot(seq));
    await events.wait("snapshot", (e) => e.snapshot.seq === 5);
    const reader = bridge.events();
    const first = reader.next(); // starts the iterator: from here on, events are queued for it
    await ea.send(snapshot(6));
    await ea.send(snapshot(7));
    const seen: BridgeEvent[] = [(await first).value as BridgeEvent];
    while (!seen.some((e) => e.type === "snapshot" && e.snapshot.seq === 7)) {
      seen.push((await reader.next()).value as BridgeEvent);
    }
    // Events from before the iterator began (hello, snapshots 1-5) were kept for nobody.
    assert.deepEqual(
      seen.filter((e) => e.type === "snapshot" || e.type === "hello").map((e) =>
        e.type === "snapshot" ? e.snapshot.seq : e.type
      ),
      [6, 7],
    );
    await reader.return(undefined);
    await early.return(undefined);
  } finally {
    await ea.close();
    await bridge.close();
  }
});

Deno.test("bridge: close rejects waiting commands with CLOSED; events() ends", async () => {
  const { bridge } = await setup({ ackTimeoutMs: 60_000 });
  const iterator = bridge.events();
  const sent = bridge.send({ type: "ping" }).then(() => undefined, (error: Error) => error);
  const consumed = (async () => {
    let n = 0;
    for await (const _ of iterator) n++;
    return n;
  })();
  await bridge.close();
  assert.equal(((await sent) as Error & { code?: string } | undefined)?.code, "CLOSED");
  assert.equal(typeof await consumed, "number");
  await assert.rejects(() => bridge.send({ type: "ping" }), { name: "BridgeError" });
});

Deno.test("bridge: a command that breaks the protocol is refused loudly, the next one is sent", async () => {
  const { token, bridge, events } = await setup();
  const ea = new FakeEa(bridge, token);
  try {
    await ea.send(hello());
    await events.wait("hello");
    await assert.rejects(
      bridge.send({ type: "lock", reason: "x".repeat(201), until: 0 }),
      (error: Error & { code?: string }) => {
        assert.equal(error.code, "PROTOCOL");
        assert.match(error.message, /^Cannot send lock: it breaks the protocol \(reason: /);
        return true;
      },
    );
    assert.equal(bridge.stats.invalidCommands, 1);
    assert.equal(bridge.pendingCommands, 0);
    const acked = bridge.send({ type: "close_all", reason: "r".repeat(200) });
    const sent = await ea.nextCommand(1);
    assert.equal(sent.type, "close_all", "the invalid lock never reached the EA");
    await ea.send({ type: "ack", id: sent.id, ok: true, retcode: 0 });
    assert.equal((await acked).ok, true);
  } finally {
    await ea.close();
    await bridge.close();
  }
});
