/**
 * Admin's side of the store channel alone, as a process of its own for the tests: opens the
 * store named by the first argument, serves it on 127.0.0.1 with the token of
 * `RISKGUARD_STORE_CHANNEL_TOKEN`, prints `ADDRESS <address>`, then `CONNECTIONS <n>` whenever
 * the number of connected children changes. Runs until killed.
 *
 * @module
 */
import { CHANNEL_TOKEN_ENV, openStore, StoreChannelServer } from "../../src/store/mod.ts";

const [spec, db] = Deno.args;
const store = await openStore(spec, db === undefined ? {} : { db });
const server = StoreChannelServer.listen(store, { token: Deno.env.get(CHANNEL_TOKEN_ENV)! });
console.log(`ADDRESS ${server.address}`);
let shown = -1;
setInterval(() => {
  if (server.connections !== shown) {
    shown = server.connections;
    console.log(`CONNECTIONS ${shown}`);
  }
}, 50);
