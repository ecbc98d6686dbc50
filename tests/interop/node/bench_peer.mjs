// libzmq (npm:zeromq under Node) side of bench/zmtp.ts.
//
// Usage: node bench_peer.mjs '<json>'
//   { mode: "push", endpoint, bind?: bool, count, size }   send `count` messages once connected
//   { mode: "pull", endpoint, bind?: bool, count }         receive `count` messages
//   { mode: "echo", in, out }                              PULL binds `in`, PUSH binds `out`,
//                                                          every message is sent back
//   { mode: "pingpong", in, out, count, warmup, size }     PUSH connects `in`, PULL connects
//                                                          `out`, measures round trips
// Prints JSON lines: {"event":"ready",...}, then {"event":"start","at":ms} (push),
// {"event":"done","first":ms,"last":ms,"rss":bytes,"cpu":ms} (pull; "sent" for push also has
// cpu), {"event":"rtt","us":[...],"rss":bytes}
// (pingpong). Times are Date.now() wall-clock milliseconds (same host as the Deno side).
import { createRequire } from "node:module";

const zmq = createRequire(import.meta.url)("zeromq");
const config = JSON.parse(process.argv[2] ?? "{}");

/** CPU time (user + system) since `since`, in milliseconds. */
function cpuMs(since) {
  const used = process.cpuUsage(since);
  return (used.user + used.system) / 1000;
}

function out(object) {
  process.stdout.write(JSON.stringify(object) + "\n");
}

async function handshake(socket) {
  for await (const event of socket.events) {
    if (event.type === "handshake") return;
  }
}

async function open(socket, endpoint, bind) {
  if (bind) {
    await socket.bind(endpoint);
    out({ event: "ready", endpoint: socket.lastEndpoint });
  } else {
    socket.connect(endpoint);
    out({ event: "ready", endpoint });
  }
}

if (config.mode === "push") {
  const push = new zmq.Push({ linger: 2000 });
  const connected = handshake(push);
  await open(push, config.endpoint, config.bind);
  await connected;
  const body = Buffer.alloc(config.size, 7);
  const cpu = process.cpuUsage();
  out({ event: "start", at: Date.now() });
  for (let i = 0; i < config.count; i++) await push.send(body);
  out({ event: "sent", at: Date.now(), rss: process.memoryUsage().rss, cpu: cpuMs(cpu) });
  push.close();
} else if (config.mode === "pull") {
  const pull = new zmq.Pull();
  await open(pull, config.endpoint, config.bind);
  let first = 0;
  let received = 0;
  const cpu = process.cpuUsage();
  for await (const [message] of pull) {
    if (received === 0) first = Date.now();
    if (message.length < 0) break;
    received++;
    if (received === config.count) break;
  }
  const last = Date.now();
  out({ event: "done", first, last, rss: process.memoryUsage().rss, cpu: cpuMs(cpu) });
  pull.close();
} else if (config.mode === "echo") {
  const pull = new zmq.Pull();
  const push = new zmq.Push();
  await pull.bind(config.in);
  await push.bind(config.out);
  out({ event: "ready", in: pull.lastEndpoint, out: push.lastEndpoint });
  process.stdin.on("end", () => process.exit(0));
  process.stdin.resume();
  for await (const message of pull) await push.send(message);
} else if (config.mode === "pingpong") {
  const push = new zmq.Push();
  const pull = new zmq.Pull();
  const connected = Promise.all([handshake(push), handshake(pull)]);
  push.connect(config.in);
  pull.connect(config.out);
  await connected;
  const body = Buffer.alloc(config.size, 7);
  const us = [];
  for (let i = 0; i < config.warmup + config.count; i++) {
    const started = process.hrtime.bigint();
    await push.send(body);
    await pull.receive();
    if (i >= config.warmup) us.push(Number(process.hrtime.bigint() - started) / 1000);
  }
  out({ event: "rtt", us, rss: process.memoryUsage().rss });
  push.close();
  pull.close();
}
