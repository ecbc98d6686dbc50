/**
 * The risk process of `bench/risk.ts`, in a process of its own as admin's children are: the real
 * risk runner (bridge over loopback ZMTP with PLAIN, engine, executor) guarding one element, with
 * its store reached through the store channel of `_store_process.ts` (as a child reaches admin's)
 * and no terminal of its own. The bench plays the EA: this process prints one line,
 * `{"port": N, "token": "..."}`, once its bridge is bound, and the bench connects to it. The run
 * ends when the bench closes this process's stdin.
 *
 * Run by the bench as
 * `deno run -A --v8-flags=... bench/_risk_process.ts <channel address> <token> <element> <instance>`
 * (the V8 flags a risk child gets from admin).
 *
 * @module
 */
import type { LaunchTerminalOptions, TerminalHandle } from "../src/mt5/terminal.ts";
import { runRisk } from "../src/risk/mod.ts";
import { ChannelStore } from "../src/store/channel_store.ts";
import { externalTerminal } from "../tests/support/scripted_ea.ts";

const [address, token, elementId, instanceId] = Deno.args;
if (
  address === undefined || token === undefined || elementId === undefined ||
  instanceId === undefined
) {
  console.error("usage: _risk_process.ts <channel address> <token> <element id> <instance id>");
  Deno.exit(2);
}

const store = await ChannelStore.connect({ address, token });
const stop = new AbortController();
// The bench closes stdin to stop this process (no signal needed, as on Windows).
void (async () => {
  for await (const _ of Deno.stdin.readable) {
    // Nothing is sent on stdin.
  }
  stop.abort();
})();

/** Tells the bench where the bridge listens; the bench's EA is the terminal. */
function launch(options: LaunchTerminalOptions): Promise<TerminalHandle> {
  const line = JSON.stringify({ port: options.port, token: options.token }) + "\n";
  Deno.stdout.writeSync(new TextEncoder().encode(line));
  return Promise.resolve(externalTerminal());
}

await runRisk({
  store,
  elementId,
  host: "bench",
  instanceId,
  signal: stop.signal,
  launchTerminal: launch,
  timing: { metricsIntervalMs: 1_000, snapshotAlarmMs: 60_000 },
});
await store.close();
