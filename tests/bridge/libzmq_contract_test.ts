/**
 * The EA contract run against a libzmq-based stand-in EA (Node + npm:zeromq, PLAIN client):
 * proves that a real libzmq peer and our TypeScript agent agree byte for byte.
 *
 * Needs the Node peer installed by the ZMTP interop tests (`tests/interop/node/node_modules`);
 * without it the tests are skipped with a printed reason, except under `CI=true`.
 */
import { eaContract, type EaPeer, type PeerEndpoint } from "./_contract.ts";

const NODE_MODULES = new URL("../interop/node/node_modules/", import.meta.url).pathname;
const SCRIPT = new URL("./node/stand_in_ea.mjs", import.meta.url).pathname;

function skipReason(): string | undefined {
  try {
    Deno.statSync(`${NODE_MODULES}zeromq/package.json`);
  } catch {
    return "npm:zeromq is not installed in tests/interop/node (run `deno run -A tools/setup_test_deps.ts`)";
  }
  try {
    const probe = new Deno.Command("node", { args: ["--version"], stdout: "null", stderr: "null" })
      .outputSync();
    if (!probe.success) return "`node --version` failed";
  } catch {
    return "`node` is not on PATH";
  }
  return undefined;
}

const reason = skipReason();
const ignore = reason !== undefined && Deno.env.get("CI") !== "true";
if (ignore) console.log(`libzmq stand-in EA contract skipped: ${reason}`);

function startStandIn(endpoint: PeerEndpoint): Promise<EaPeer> {
  const child = new Deno.Command("node", {
    args: [SCRIPT, JSON.stringify({ ...endpoint, heartbeatMs: 200 })],
    env: { RG_NODE_MODULES: NODE_MODULES },
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const sent: Uint8Array[] = [];
  const received: Uint8Array[] = [];
  const reading = (async () => {
    let buffer = "";
    for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
      buffer += chunk;
      let newline;
      while ((newline = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + 1);
        const event = JSON.parse(line) as { event: string; b64?: string };
        const bytes = event.b64 === undefined
          ? undefined
          : Uint8Array.from(atob(event.b64), (c) => c.charCodeAt(0));
        if (event.event === "sent" && bytes) sent.push(bytes);
        if (event.event === "received" && bytes) received.push(bytes);
      }
    }
  })();
  return Promise.resolve({
    frames: () => ({ sent: [...sent], received: [...received] }),
    stop: async () => {
      try {
        child.kill("SIGTERM");
      } catch {
        // already exited
      }
      await child.stdin.close().catch(() => {});
      await child.status;
      await reading;
    },
  });
}

eaContract("libzmq stand-in", startStandIn, ignore);
