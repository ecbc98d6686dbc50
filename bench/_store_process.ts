/**
 * Admin's part in `bench/risk.ts`: serves a SQLite store to the risk process over the store
 * channel, as admin serves its children (a risk child started by admin never opens the store
 * itself). Its writes run here, not in the process that enforces.
 *
 * Run by the bench as `deno run -A --v8-flags=... bench/_store_process.ts <sqlite file> <token>`;
 * it prints the channel's address once it listens and ends when its stdin closes.
 *
 * @module
 */
import { StoreChannelServer } from "../src/store/channel_server.ts";
import { openStore } from "../src/store/mod.ts";

const [db, token] = Deno.args;
if (db === undefined || token === undefined) {
  console.error("usage: _store_process.ts <sqlite file> <token>");
  Deno.exit(2);
}
const store = await openStore(`sqlite:${db}`);
const server = StoreChannelServer.listen(store, { token });
Deno.stdout.writeSync(new TextEncoder().encode(`${server.address}\n`));
for await (const _ of Deno.stdin.readable) {
  // Nothing is sent on stdin: its end is the stop.
}
await server.close();
await store.close();
