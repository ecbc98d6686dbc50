// The real libzmq peer for riskguard's ZMTP interop tests: npm:zeromq (libzmq 4.3.5) under Node.
//
// Usage: node peer.mjs '<json config>'
//   config: {
//     type: "push" | "pull",
//     bind?: "tcp://127.0.0.1:0", connect?: "tcp://127.0.0.1:PORT",
//     plain?: { username, password }              // PLAIN client
//           | { server: true, users: { name: pw } } // PLAIN server (answers ZAP itself)
//     heartbeatInterval?, heartbeatTimeout?, heartbeatTimeToLive?, reconnectInterval?
//   }
// Writes one JSON object per line on stdout:
//   {"event":"ready","endpoint":...}            socket bound/connecting
//   {"event":"message","frames":[{len,sha256,b64?}]}   (pull)
//   {"event":"sent","id":N}                      (push, after send resolved)
//   {"event":"monitor","type":"handshake",...}    socket monitor events
// Reads one JSON command per line on stdin:
//   {"op":"send","id":N,"frames":[{"text":"..."}|{"b64":"..."}|{"pattern":LEN,"seed":S}]}
//   {"op":"close"}                                closes the socket and exits
import { createHash } from "node:crypto";
import { createRequire } from "node:module";
import { createInterface } from "node:readline";

// Loaded through require so that `deno check` does not try to resolve it.
const zmq = createRequire(import.meta.url)("zeromq");

const config = JSON.parse(process.argv[2] ?? "{}");

function out(object) {
  process.stdout.write(JSON.stringify(object) + "\n");
}

/** Deterministic test bytes: byte i = (i * 31 + seed) & 255. Mirrors tests/interop/_peer.ts. */
function pattern(length, seed) {
  const bytes = Buffer.alloc(length);
  for (let i = 0; i < length; i++) bytes[i] = (i * 31 + seed) & 255;
  return bytes;
}

function frameOf(spec) {
  if (spec.text !== undefined) return Buffer.from(spec.text, "utf8");
  if (spec.b64 !== undefined) return Buffer.from(spec.b64, "base64");
  return pattern(spec.pattern, spec.seed ?? 0);
}

function describe(frame) {
  const described = {
    len: frame.length,
    sha256: createHash("sha256").update(frame).digest("hex"),
  };
  if (frame.length <= 4096) described.b64 = Buffer.from(frame).toString("base64");
  return described;
}

async function startZap(users) {
  const zap = new zmq.Router();
  await zap.bind("inproc://zeromq.zap.01");
  (async () => {
    for await (const frames of zap) {
      // routing id, "", version, request id, domain, address, identity, mechanism, user, pass
      const [id, empty, version, requestId, , , , , username, password] = frames;
      const name = username?.toString() ?? "";
      const ok = Object.hasOwn(users, name) && users[name] === (password?.toString() ?? "");
      out({ event: "zap", username: name, ok });
      await zap.send([
        id,
        empty,
        version,
        requestId,
        ok ? "200" : "400",
        ok ? "OK" : "Invalid credentials",
        ok ? name : "",
        "",
      ]);
    }
  })().catch(() => {});
  return zap;
}

const options = { linger: 0 };
if (config.heartbeatInterval !== undefined) options.heartbeatInterval = config.heartbeatInterval;
if (config.heartbeatTimeout !== undefined) options.heartbeatTimeout = config.heartbeatTimeout;
if (config.heartbeatTimeToLive !== undefined) {
  options.heartbeatTimeToLive = config.heartbeatTimeToLive;
}
if (config.reconnectInterval !== undefined) options.reconnectInterval = config.reconnectInterval;
let zap;
if (config.plain?.server) {
  zap = await startZap(config.plain.users ?? {});
  options.plainServer = true;
  options.zapDomain = "riskguard";
} else if (config.plain) {
  options.plainUsername = config.plain.username;
  options.plainPassword = config.plain.password;
}

const socket = config.type === "push" ? new zmq.Push(options) : new zmq.Pull(options);

(async () => {
  for await (const event of socket.events) {
    const record = { event: "monitor", type: event.type };
    if (event.address !== undefined) record.address = event.address;
    if (event.error !== undefined) {
      record.error = String(event.error.message ?? event.error);
      if (event.error.status !== undefined) record.status = event.error.status;
      if (event.error.code !== undefined) record.code = event.error.code;
    }
    out(record);
  }
})().catch(() => {});

if (config.bind) {
  await socket.bind(config.bind);
  out({ event: "ready", endpoint: socket.lastEndpoint });
} else {
  socket.connect(config.connect);
  out({ event: "ready", endpoint: config.connect });
}

if (config.type === "pull") {
  (async () => {
    for await (const frames of socket) out({ event: "message", frames: frames.map(describe) });
  })().catch((error) => out({ event: "error", error: String(error) }));
}

let closing = false;
function close() {
  if (closing) return;
  closing = true;
  socket.close();
  zap?.close();
  process.exit(0);
}

const lines = createInterface({ input: process.stdin });
let chain = Promise.resolve();
lines.on("line", (line) => {
  if (line.trim() === "") return;
  const command = JSON.parse(line);
  if (command.op === "close") {
    // Not chained: a send blocked on a peer-less PUSH must not delay the close.
    close();
    return;
  }
  chain = chain.then(async () => {
    if (command.op === "send") {
      await socket.send(command.frames.map(frameOf));
      out({ event: "sent", id: command.id });
    } else if (command.op === "close") {
      await close();
    }
  }).catch((error) => out({ event: "error", error: String(error) }));
});
lines.on("close", () => chain.then(close));
