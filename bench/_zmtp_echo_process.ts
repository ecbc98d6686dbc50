/**
 * The floor of a tick-to-command round trip, for `bench/risk.ts`: a process that binds the
 * bridge's two sockets as a risk process does (PULL on `port`, PUSH on `port + 1`, PLAIN server
 * with `token`) and answers every message at once with one command-sized frame. No decoding, no
 * rules, no store: what is left is two processes, loopback TCP and our ZMTP.
 *
 * Run by the bench as `deno run -A --v8-flags=... bench/_zmtp_echo_process.ts <port> <token>`;
 * it prints `ready` once bound and ends when its stdin closes.
 *
 * @module
 */
import { encodeMessage, PLAIN_USERNAME } from "../src/mt5/protocol.ts";
import { PullSocket, PushSocket } from "../src/mt5/zmtp/mod.ts";

const port = Number(Deno.args[0]);
const token = Deno.args[1] ?? "";
const mechanism = {
  type: "plain" as const,
  role: "server" as const,
  authenticate: (username: string, password: string) =>
    username === PLAIN_USERNAME && password === token,
};
const pull = new PullSocket({ mechanism });
const push = new PushSocket({ mechanism });
await pull.bind(`tcp://127.0.0.1:${port}`);
await push.bind(`tcp://127.0.0.1:${port + 1}`);
const answer = encodeMessage({
  type: "close_position",
  id: "floor-1",
  ticket: 100_001,
  volume: 0,
  reason: "floor",
});
void (async () => {
  for await (const _ of Deno.stdin.readable) {
    // Nothing is sent on stdin: its end is the stop.
  }
  await Promise.all([pull.close(), push.close()]);
})();
Deno.stdout.writeSync(new TextEncoder().encode("ready\n"));
for await (const _ of pull) push.send(answer).catch(() => {});
