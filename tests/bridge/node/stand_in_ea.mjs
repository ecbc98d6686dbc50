// A stand-in for the bridge EA built on the real libzmq (npm:zeromq under Node): PUSH connects to
// the agent's base port, PULL connects to the command port, both PLAIN clients. It speaks the
// bridge protocol of docs/protocol.md with a small fixed account, so that the contract suite can
// prove a libzmq peer and our TypeScript agent agree byte for byte.
//
// Usage: node stand_in_ea.mjs '<json config>'
//   config: { port, commandPort, token, username?, login?, heartbeatMs?, fixture? }
//   fixture: "default" (two positions, one pending order) or "close_rules" (a FIFO hedging
//   account with two EURUSD positions and one GBPUSD position; EURUSD has Market execution with
//   no filling flag on a server that takes IOC only, GBPUSD has Instant execution)
// Environment: RG_NODE_MODULES = folder holding node_modules/zeromq (tests/interop/node/node_modules).
// Prints JSON lines on stdout:
//   {"event":"sent","b64":...}       every frame sent to the agent, exactly as sent
//   {"event":"received","b64":...}   every frame received from the agent, exactly as received
//   {"event":"bad_command","error":...}
// Stops on SIGTERM or when stdin closes.
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import path from "node:path";

const modules = process.env.RG_NODE_MODULES;
if (!modules) {
  console.error("RG_NODE_MODULES is not set");
  process.exit(2);
}
const require = createRequire(pathToFileURL(path.join(modules, "stand_in_ea.cjs")));
const zmq = require("zeromq");

const config = JSON.parse(process.argv[2] ?? "{}");
const login = config.login ?? 7001;
const heartbeatMs = config.heartbeatMs ?? 200;
const security = {
  plainUsername: config.username ?? "riskguard",
  plainPassword: config.token,
  linger: 0,
  reconnectInterval: 50,
};
const push = new zmq.Push(security);
const pull = new zmq.Pull(security);
push.connect(`tcp://127.0.0.1:${config.port}`);
pull.connect(`tcp://127.0.0.1:${config.commandPort}`);

function out(line) {
  process.stdout.write(JSON.stringify(line) + "\n");
}

// --- the account ---------------------------------------------------------------------------
const start = Date.now();
const closeRules = config.fixture === "close_rules";
// ACCOUNT_FIFO_CLOSE: the server closes only the oldest position of a symbol (10045 otherwise)
const fifo = closeRules;
// SYMBOL_TRADE_EXEMODE and SYMBOL_FILLING_MODE flags (1 = FOK, 2 = IOC) per symbol; `accepts`
// is what the server really takes when it differs from what the flags say
const execution = closeRules
  ? {
    EURUSD: { mode: "market", flags: 0, accepts: ["ioc"] },
    GBPUSD: { mode: "instant", flags: 3 },
  }
  : {};
let positions = closeRules
  ? [
    position(501, "EURUSD", "buy", 0.1, 1.085, 1.0849, -10, start - 60_000),
    position(502, "GBPUSD", "sell", 0.2, 1.27, 1.2725, -50, start - 45_000),
    position(503, "EURUSD", "buy", 0.3, 1.0876, 1.0849, -80, start - 30_000),
  ]
  : [
    position(501, "EURUSD", "buy", 0.5, 1.085, 1.0832, -90),
    position(502, "GBPUSD", "sell", 0.2, 1.27, 1.2712, -24),
  ];
let orders = closeRules ? [] : [
  {
    ticket: 601,
    symbol: "EURUSD",
    type: "buy_limit",
    volume: 0.3,
    price: 1.07,
    sl: 0,
    tp: 0,
    setup_time: start,
    magic: 0,
    comment: "",
  },
];
let balance = 10000;
let realized = 0;
let locked = false;
let lockedUntil = 0;
let seq = 0;
let lastFingerprint = "";
let lastSent = 0;
const acks = new Map();

function position(ticket, symbol, side, volume, open, price, profit, openTime = start) {
  return {
    ticket,
    symbol,
    side,
    volume,
    open_price: open,
    price,
    sl: 0,
    tp: 0,
    profit,
    swap: 0,
    commission: -1.75,
    open_time: openTime,
    magic: 0,
    comment: 'stand-in "ea"',
  };
}

const times = () => ({ server_time: Date.now() + 7_200_000, utc_time: Date.now() });

function snapshotBody() {
  const floating = positions.reduce((s, p) => s + p.profit, 0);
  const symbols = {};
  for (const name of new Set([...positions, ...orders].map((x) => x.symbol))) {
    symbols[name] = {
      tick_value: 1,
      tick_size: 0.00001,
      volume_step: 0.01,
      volume_min: 0.01,
      trade_allowed: true,
    };
  }
  return {
    account: {
      login,
      currency: "USD",
      balance,
      equity: balance + floating,
      margin: 100,
      free_margin: balance + floating - 100,
      profit: floating,
      credit: 0,
      leverage: 100,
      margin_mode: "hedging",
    },
    positions,
    orders,
    symbols,
    realized_today: { profit: realized, swap: 0, commission: 0, total: realized },
    trade_allowed: true,
    locked,
    locked_until: lockedUntil,
  };
}

let sending = Promise.resolve();
function send(message) {
  const bytes = Buffer.from(JSON.stringify(message), "utf8");
  lastSent = Date.now();
  out({ event: "sent", b64: bytes.toString("base64") });
  sending = sending.then(() => push.send(bytes)).catch((error) =>
    out({ event: "send_error", error: String(error) })
  );
  return sending;
}

function hello() {
  seq = 0;
  lastFingerprint = "";
  send({
    type: "hello",
    protocol: 1,
    ea_version: "libzmq-stand-in",
    terminal_build: 0,
    login,
    server: "StandIn-Server",
    locked,
    ...times(),
    heartbeat_ms: heartbeatMs,
  });
  maybeSnapshot();
}

function maybeSnapshot() {
  const body = snapshotBody();
  const fingerprint = JSON.stringify(body);
  if (fingerprint !== lastFingerprint) {
    lastFingerprint = fingerprint;
    send({ type: "snapshot", seq: ++seq, ...times(), ...body });
  } else if (Date.now() - lastSent >= heartbeatMs) {
    send({ type: "heartbeat", ...times(), seq, locked });
  }
}

// --- commands ------------------------------------------------------------------------------
function cancelAll() {
  const results = orders.map((o) => ({
    ticket: o.ticket,
    ok: true,
    retcode: 10009,
    volume: o.volume,
  }));
  orders = [];
  return results;
}

// The EA's filling modes for a closing deal, preferred first (mql5 FillingModes): Instant and
// Request execution FOK only; Market execution FOK and/or IOC as flagged, both when neither is;
// Exchange execution FOK/IOC as flagged, then RETURN. RETURN never outside Exchange execution.
function fillingModes(exec) {
  const flagged = [...(exec.flags & 1 ? ["fok"] : []), ...(exec.flags & 2 ? ["ioc"] : [])];
  if (exec.mode === "instant" || exec.mode === "request") return ["fok"];
  if (exec.mode === "exchange") return [...flagged, "return"];
  return flagged.length > 0 ? flagged : ["fok", "ioc"];
}

function serverAccepts(exec, filling) {
  if (exec.accepts) return exec.accepts.includes(filling);
  if (exec.mode === "instant" || exec.mode === "request") return filling === "fok";
  if (filling === "return") return exec.mode === "exchange";
  return filling === "fok"
    ? (exec.flags & 1) !== 0 || (exec.flags & 2) === 0
    : (exec.flags & 2) !== 0;
}

// Older first: open time, then ticket.
const older = (a, b) => a.open_time - b.open_time || a.ticket - b.ticket;

// close_all order (mql5 CloseAllPositions): largest loss first; on a FIFO account the symbol with
// the largest total loss first and, within a symbol, oldest first.
function closeOrder() {
  const total = new Map();
  for (const p of positions) total.set(p.symbol, (total.get(p.symbol) ?? 0) + p.profit + p.swap);
  const key = (p) => fifo ? total.get(p.symbol) : p.profit + p.swap;
  return [...positions].sort((a, b) => {
    if (key(a) !== key(b)) return key(a) - key(b);
    if (!fifo) return 0;
    if (a.symbol !== b.symbol) return a.symbol < b.symbol ? -1 : 1;
    return older(a, b);
  }).map((p) => p.ticket);
}

function closeOne(ticket, volume) {
  const p = positions.find((x) => x.ticket === ticket);
  if (!p) return { ticket, ok: true, retcode: 10036, message: "position already closed" };
  const exec = execution[p.symbol] ?? { mode: "market", flags: 3 };
  const modes = fillingModes(exec);
  // A refused filling mode (10030) moves to the next one and is not an attempt.
  const filling = modes.find((m) => serverAccepts(exec, m));
  if (!filling) {
    const last = modes[modes.length - 1];
    return {
      ticket,
      ok: false,
      retcode: 10030,
      message: "invalid filling mode",
      attempts: 1,
      filling: last,
    };
  }
  if (fifo && positions.some((x) => x.symbol === p.symbol && older(x, p) < 0)) {
    return {
      ticket,
      ok: false,
      retcode: 10045,
      message: "FIFO account: close the oldest position of the symbol first",
      attempts: 1,
      filling,
    };
  }
  const lots = volume > 0 && volume < p.volume ? volume : p.volume;
  const share = lots / p.volume;
  realized += p.profit * share;
  balance += p.profit * share;
  if (lots === p.volume) positions = positions.filter((x) => x !== p);
  else {
    p.volume = Math.round((p.volume - lots) * 100) / 100;
    p.profit = p.profit * (1 - share);
  }
  return { ticket, ok: true, retcode: 10009, volume: lots, price: p.price, attempts: 1, filling };
}

function summarize(id, results) {
  const failed = results.find((r) => !r.ok);
  return {
    type: "ack",
    id,
    ok: !failed,
    retcode: failed ? failed.retcode : results.length ? 10009 : 0,
    ...(failed ? { message: `ticket ${failed.ticket}: ${failed.message ?? failed.retcode}` } : {}),
    results,
    locked,
  };
}

function execute(command) {
  switch (command.type) {
    case "ping":
      return { type: "ack", id: command.id, ok: true, retcode: 0, locked };
    case "lock":
      locked = true;
      lockedUntil = command.until;
      return { type: "ack", id: command.id, ok: true, retcode: 0, locked };
    case "unlock":
      locked = false;
      lockedUntil = 0;
      return { type: "ack", id: command.id, ok: true, retcode: 0, locked };
    case "cancel_orders":
      return summarize(command.id, cancelAll());
    case "close_position": {
      // A missing, zero or non-integer ticket is refused (10013), never acknowledged ok.
      const ticket = command.ticket;
      if (!(Number.isInteger(ticket) && ticket > 0)) {
        const message = "close_position needs a position ticket";
        const refusal = { ticket: 0, ok: false, retcode: 10013, message, attempts: 0 };
        return summarize(command.id, [refusal]);
      }
      return summarize(command.id, [closeOne(ticket, command.volume)]);
    }
    case "close_all": {
      const results = cancelAll();
      for (const ticket of closeOrder()) results.push(closeOne(ticket, 0));
      return summarize(command.id, results);
    }
    default:
      return undefined;
  }
}

async function commands() {
  for await (const [frame] of pull) {
    out({ event: "received", b64: Buffer.from(frame).toString("base64") });
    let command;
    try {
      command = JSON.parse(Buffer.from(frame).toString("utf8"));
    } catch (error) {
      out({ event: "bad_command", error: String(error) });
      continue;
    }
    if (typeof command?.id !== "string" || typeof command?.type !== "string") {
      out({ event: "bad_command", error: "no id or type" });
      continue;
    }
    const known = acks.get(command.id);
    if (known) {
      send({ ...known, duplicate: true });
      continue;
    }
    const ack = execute(command);
    if (!ack) {
      out({ event: "bad_command", error: `unknown type ${command.type}` });
      continue;
    }
    acks.set(command.id, ack);
    if (acks.size > 256) acks.delete(acks.keys().next().value);
    send(ack);
    if (command.type === "ping" && command.hello === true) hello();
    else maybeSnapshot();
  }
}

hello();
const timer = setInterval(maybeSnapshot, Math.max(20, Math.floor(heartbeatMs / 4)));
commands().catch((error) => out({ event: "error", error: String(error) }));

let stopping = false;
function stop() {
  if (stopping) return;
  stopping = true;
  clearInterval(timer);
  push.close();
  pull.close();
  process.exit(0);
}
process.on("SIGTERM", stop);
process.stdin.on("end", stop);
process.stdin.resume();
