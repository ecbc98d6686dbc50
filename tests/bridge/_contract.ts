/**
 * The contract of the EA side of the bridge protocol (docs/protocol.md), run against every EA
 * implementation we have: the TypeScript simulator and a libzmq-based stand-in EA (Node +
 * npm:zeromq). Each test binds a real {@link Bridge} on 127.0.0.1 and starts a fresh peer.
 *
 * @module
 */
import assert from "node:assert/strict";
import { Bridge, type BridgeEvent, makeToken } from "../../src/mt5/bridge.ts";
import {
  type Command,
  decodeEaMessage,
  encodeMessage,
  PROTOCOL_VERSION,
  type Snapshot,
} from "../../src/mt5/protocol.ts";

/**
 * The account a peer starts with:
 * - `default`: a hedging account with two positions (EURUSD, GBPUSD) and one pending order;
 * - `close_rules`: a FIFO hedging account (`ACCOUNT_FIFO_CLOSE`) with an older and a newer EURUSD
 *   position and one GBPUSD position, no pending order. EURUSD has Market execution with no
 *   filling flag on a server that takes IOC only (so FOK is refused with 10030 first); GBPUSD
 *   has Instant execution (FOK only).
 */
export type PeerFixture = "default" | "close_rules";

/** Where the peer must connect, and what account it starts with. */
export interface PeerEndpoint {
  port: number;
  commandPort: number;
  token: string;
  /** PLAIN user name (default riskguard). */
  username?: string;
  /** The starting account (default `default`). */
  fixture?: PeerFixture;
}

/** A running EA implementation. */
export interface EaPeer {
  stop(): Promise<void>;
  /** Every frame exactly as the peer sent and received it, when the peer can tell. */
  frames?(): { sent: Uint8Array[]; received: Uint8Array[] };
}

/** Starts an EA implementation. */
export type EaPeerFactory = (endpoint: PeerEndpoint) => Promise<EaPeer>;

/** Collects bridge events and waits for conditions on them. */
export class Recorder {
  readonly events: BridgeEvent[] = [];
  #waiters: Array<() => void> = [];

  constructor(bridge: Bridge) {
    bridge.on((event) => {
      this.events.push(event);
      for (const wake of this.#waiters.splice(0)) wake();
    });
  }

  /** Snapshots received so far. */
  get snapshots(): Snapshot[] {
    return this.events.flatMap((e) => e.type === "snapshot" ? [e.snapshot] : []);
  }

  /** Waits (up to `ms`) for an event of `type` matching `where`, starting at index `from`. */
  async wait<T extends BridgeEvent["type"]>(
    type: T,
    where: (event: Extract<BridgeEvent, { type: T }>) => boolean = () => true,
    from = 0,
    ms = 30_000,
  ): Promise<Extract<BridgeEvent, { type: T }>> {
    const deadline = Date.now() + ms;
    let seen = from;
    while (true) {
      for (; seen < this.events.length; seen++) {
        const event = this.events[seen]!;
        if (event.type === type && where(event as Extract<BridgeEvent, { type: T }>)) {
          return event as Extract<BridgeEvent, { type: T }>;
        }
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`Timed out waiting for a ${type} event`);
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        timer = setTimeout(resolve, left);
        this.#waiters.push(resolve);
      });
      clearTimeout(timer);
    }
  }
}

interface Session {
  bridge: Bridge;
  peer: EaPeer;
  rec: Recorder;
  token: string;
}

async function session(
  factory: EaPeerFactory,
  username?: string,
  fixture: PeerFixture = "default",
): Promise<Session> {
  const token = makeToken();
  const bridge = await Bridge.open({
    port: 0,
    token,
    ackTimeoutMs: 3_000,
    retries: 1,
    staleAfterMs: 1_500,
    checkIntervalMs: 50,
  });
  const rec = new Recorder(bridge);
  const peer = await factory({
    port: bridge.port,
    commandPort: bridge.commandPort,
    token: username === undefined ? token : token,
    ...(username === undefined ? {} : { username }),
    ...(fixture === "default" ? {} : { fixture }),
  });
  return { bridge, peer, rec, token };
}

async function end(s: Session): Promise<void> {
  await s.peer.stop();
  await s.bridge.close();
}

function withState(s: Snapshot): boolean {
  return s.positions.length > 0 && s.orders.length > 0;
}

/** Registers the contract tests for one EA implementation. */
export function eaContract(name: string, factory: EaPeerFactory, ignore = false): void {
  const test = (title: string, fn: () => Promise<void>) =>
    Deno.test({ name: `EA contract [${name}]: ${title}`, ignore, fn });

  test("says hello first, then numbers snapshots from 1 upwards", async () => {
    const s = await session(factory);
    try {
      const hello = await s.rec.wait("hello");
      assert.equal(hello.hello.protocol, PROTOCOL_VERSION);
      const firstMessage = s.rec.events.find((e) =>
        e.type === "hello" || e.type === "snapshot" || e.type === "heartbeat"
      );
      assert.equal(firstMessage?.type, "hello");
      await s.rec.wait("snapshot", (e) => withState(e.snapshot));
      const seqs = s.rec.snapshots.map((x) => x.seq);
      assert.equal(seqs[0], 1);
      for (let i = 1; i < seqs.length; i++) assert.ok(seqs[i]! > seqs[i - 1]!, `seq ${seqs}`);
      assert.equal(s.bridge.stats.dropped.invalid, 0);
      assert.equal(s.bridge.stats.beforeHello, 0);
    } finally {
      await end(s);
    }
  });

  test("keeps talking when nothing changes (no stale session)", async () => {
    const s = await session(factory);
    try {
      await s.rec.wait("hello");
      const from = s.rec.events.length;
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      assert.equal(s.rec.events.slice(from).some((e) => e.type === "stale"), false);
      assert.ok(s.bridge.stats.snapshots + s.bridge.stats.heartbeats >= 2);
    } finally {
      await end(s);
    }
  });

  test("answers ping at once with ok and retcode 0", async () => {
    const s = await session(factory);
    try {
      await s.rec.wait("hello");
      const ack = await s.bridge.send({ type: "ping" });
      assert.equal(ack.ok, true);
      assert.equal(ack.retcode, 0);
    } finally {
      await end(s);
    }
  });

  test("lock is reported, a repeated id is re-acked as duplicate, unlock ends it", async () => {
    const s = await session(factory);
    try {
      await s.rec.wait("hello");
      const ack = await s.bridge.send({
        type: "lock",
        id: "lock-1",
        reason: "daily loss",
        until: 0,
      });
      assert.equal(ack.ok, true);
      assert.equal(ack.locked, true);
      const again = await s.bridge.send({
        type: "lock",
        id: "lock-1",
        reason: "daily loss",
        until: 0,
      });
      assert.equal(again.duplicate, true);
      assert.equal(again.id, "lock-1");
      await s.rec.wait("snapshot", (e) => e.snapshot.locked);
      const unlocked = await s.bridge.send({ type: "unlock" });
      assert.equal(unlocked.ok, true);
      await s.rec.wait("snapshot", (e) => !e.snapshot.locked, s.rec.events.length - 1);
    } finally {
      await end(s);
    }
  });

  test("close_all deletes pending orders first, then closes positions, with per-ticket results", async () => {
    const s = await session(factory);
    try {
      const state = (await s.rec.wait("snapshot", (e) => withState(e.snapshot))).snapshot;
      const ack = await s.bridge.send({ type: "close_all", reason: "breach" });
      assert.equal(ack.ok, true, JSON.stringify(ack));
      assert.equal(ack.retcode, 10009);
      const tickets = ack.results!.map((r) => r.ticket);
      const orderTickets = state.orders.map((o) => o.ticket);
      assert.deepEqual(tickets.slice(0, orderTickets.length).sort(), [...orderTickets].sort());
      for (const p of state.positions) assert.ok(tickets.includes(p.ticket), `ticket ${p.ticket}`);
      assert.ok(ack.results!.every((r) => r.ok));
      await s.rec.wait(
        "snapshot",
        (e) => e.snapshot.positions.length === 0 && e.snapshot.orders.length === 0,
      );
    } finally {
      await end(s);
    }
  });

  test("close_position of a ticket that does not exist is ok with retcode 10036", async () => {
    const s = await session(factory);
    try {
      await s.rec.wait("hello");
      const ack = await s.bridge.send({
        type: "close_position",
        ticket: 987_654_321,
        volume: 0,
        reason: "x",
      });
      assert.equal(ack.ok, true);
      assert.equal(ack.results?.[0]?.retcode, 10036);
    } finally {
      await end(s);
    }
  });

  test("close_position without a ticket, or with ticket 0: the agent never sends it, the EA refuses it", async () => {
    const s = await session(factory);
    try {
      const state = (await s.rec.wait("snapshot", (e) => withState(e.snapshot))).snapshot;
      // The agent's validator requires a ticket > 0: Bridge.send refuses to send one without it
      // or with ticket 0.
      const zero = { type: "close_position", ticket: 0, volume: 0, reason: "zero" } as Command;
      const missing = {
        type: "close_position",
        volume: 0,
        reason: "missing",
      } as unknown as Command;
      for (const command of [zero, missing]) {
        await assert.rejects(s.bridge.send(command), /breaks the protocol \(ticket: /);
      }
      // A broken agent could still send them: the EA answers each (acks no command waits for
      // here) and closes nothing.
      const unknownBefore = s.bridge.stats.unknownAcks;
      for (const [index, command] of [zero, missing].entries()) {
        await s.bridge.sendRaw(
          new TextEncoder().encode(JSON.stringify({ ...command, id: `raw-bad-ticket-${index}` })),
        );
      }
      const deadline = Date.now() + 5_000;
      while (s.bridge.stats.unknownAcks < unknownBefore + 2 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      assert.equal(s.bridge.stats.unknownAcks, unknownBefore + 2, "the EA answered both");
      const ping = await s.bridge.send({ type: "ping" });
      assert.equal(ping.ok, true);
      const after = s.rec.snapshots.at(-1)!;
      assert.deepEqual(
        after.positions.map((p) => p.ticket).sort(),
        state.positions.map((p) => p.ticket).sort(),
        "nothing was closed",
      );
    } finally {
      await end(s);
    }
  });

  test("FIFO account: close_all closes a symbol's positions oldest first; a newer one alone is refused (10045)", async () => {
    const s = await session(factory, undefined, "close_rules");
    try {
      const state = (await s.rec.wait("snapshot", (e) => e.snapshot.positions.length === 3))
        .snapshot;
      const eur = state.positions.filter((p) => p.symbol === "EURUSD")
        .sort((a, b) => a.open_time - b.open_time || a.ticket - b.ticket);
      assert.equal(eur.length, 2);
      const [oldest, newest] = [eur[0]!, eur[1]!];
      const refused = await s.bridge.send({
        type: "close_position",
        ticket: newest.ticket,
        volume: 0,
        reason: "newest first",
      });
      assert.equal(refused.ok, false);
      assert.equal(refused.results?.[0]?.retcode, 10045);
      const ack = await s.bridge.send({ type: "close_all", reason: "breach" });
      assert.equal(ack.ok, true, JSON.stringify(ack));
      const order = ack.results!.map((r) => r.ticket);
      assert.equal(order.length, 3);
      assert.ok(order.indexOf(oldest.ticket) < order.indexOf(newest.ticket), `order ${order}`);
      await s.rec.wait("snapshot", (e) => e.snapshot.positions.length === 0);
    } finally {
      await end(s);
    }
  });

  test("filling: Market execution without flags falls back from FOK to IOC, Instant uses FOK; a switch is not an attempt", async () => {
    const s = await session(factory, undefined, "close_rules");
    try {
      const state = (await s.rec.wait("snapshot", (e) => e.snapshot.positions.length === 3))
        .snapshot;
      const ack = await s.bridge.send({ type: "close_all", reason: "breach" });
      assert.equal(ack.ok, true, JSON.stringify(ack));
      const symbolOf = new Map(state.positions.map((p) => [p.ticket, p.symbol]));
      for (const r of ack.results!) {
        const symbol = symbolOf.get(r.ticket);
        assert.equal(r.filling, symbol === "EURUSD" ? "ioc" : "fok", `${symbol} ${r.ticket}`);
        assert.equal(r.attempts, 1, `${symbol} ${r.ticket}: the refused FOK is not counted`);
      }
    } finally {
      await end(s);
    }
  });

  test("drops malformed commands and keeps answering", async () => {
    const s = await session(factory);
    try {
      await s.rec.wait("hello");
      const enc = new TextEncoder();
      await s.bridge.sendRaw(enc.encode("{oops"));
      await s.bridge.sendRaw(enc.encode(JSON.stringify({ type: "explode", id: "z" })));
      await s.bridge.sendRaw(new Uint8Array([0xff, 0x00]));
      const ack = await s.bridge.send({ type: "ping" });
      assert.equal(ack.ok, true);
      assert.equal(s.bridge.stats.unknownAcks, 0);
    } finally {
      await end(s);
    }
  });

  test("ping {hello: true} starts a new session with seq 1", async () => {
    const s = await session(factory);
    try {
      await s.rec.wait("snapshot");
      await s.bridge.send({ type: "ping", hello: true });
      const from = s.rec.events.length;
      const restarted = await s.rec.wait("hello", (e) => e.restart);
      assert.equal(restarted.restart, true);
      const first = await s.rec.wait("snapshot", () => true, from);
      assert.equal(first.snapshot.seq, 1);
      assert.equal(s.bridge.stats.dropped.out_of_order, 0);
    } finally {
      await end(s);
    }
  });

  test("wrong credentials: refused, nothing delivered", async () => {
    const s = await session(factory, "intruder");
    try {
      await s.rec.wait("auth_failure");
      assert.equal(s.bridge.stats.received, 0);
      assert.equal(s.bridge.hello, undefined);
    } finally {
      await end(s);
    }
  });

  test("agrees byte for byte with the agent (when the peer records frames)", async () => {
    const s = await session(factory);
    try {
      await s.rec.wait("snapshot", (e) => withState(e.snapshot));
      const commands = [
        { type: "lock", id: "b-1", reason: "bytes", until: 1_700_000_000_000 },
        { type: "close_position", id: "b-2", ticket: 1, volume: 0.01, reason: "é ünïcode €" },
        { type: "close_all", id: "b-3", reason: "x" },
      ] as const;
      for (const command of commands) await s.bridge.send(command);
      await s.rec.wait("snapshot", (e) => e.snapshot.positions.length === 0);
      const frames = s.peer.frames?.();
      if (frames === undefined) return; // the simulator shares our codec: nothing more to prove
      const received = frames.received.map((f) => [...f].join(","));
      for (const command of commands) {
        assert.ok(received.includes([...encodeMessage(command)].join(",")), `${command.id} bytes`);
      }
      const sentSnapshots = frames.sent.map((f) => decodeEaMessage(f)).flatMap((d) =>
        d.ok && d.value.type === "snapshot" ? [d.value] : []
      );
      for (const got of s.rec.snapshots) {
        const original = sentSnapshots.find((x) =>
          x.seq === got.seq && x.server_time === got.server_time
        );
        assert.deepEqual(got, original);
      }
      for (const frame of frames.sent) assert.equal(decodeEaMessage(frame).ok, true);
    } finally {
      await end(s);
    }
  });
}
