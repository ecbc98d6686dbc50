// Starts a fleet like bench/fleet.ts with admin under --inspect, then: memory before/after a full
// GC, and a heap snapshot summary by constructor.
import { mongoAdapter } from "../tests/store/_harness.ts";
import { insertSimElement, startAdmin, stopAdmin, tempDir, waitGuarded } from "../tests/admin/_harness.ts";
import { formatSimPathway } from "../src/mt5/sim/pathway.ts";
const N = Number(Deno.args[0] ?? 50);
const adapter = await mongoAdapter();
if ("skip" in adapter) throw new Error(adapter.skip);
const fixture = await adapter.fresh();
const control = await tempDir();
const { store } = fixture;
for (let i = 0, port = 24_000 + 2 * Math.floor(Math.random() * 2000); i < N; port += 2) {
  try { Deno.listen({ hostname: "127.0.0.1", port }).close(); Deno.listen({ hostname: "127.0.0.1", port: port + 1 }).close(); } catch { continue; }
  await store.addInstance({ path: formatSimPathway("calm", { process: "child" }), host: "insp", port });
  i++;
}
const ids = [];
for (let i = 0; i < N; i++) ids.push(await insertSimElement(store, { login: 5_400_000 + i }));
const admin = startAdmin({ fixture, host: "insp", controlDir: control, denoFlags: ["--inspect=127.0.0.1:9339"] });
try {
  for (const id of ids) await waitGuarded(store, id, 600_000);
  console.log("guarded");
  await new Promise((r) => setTimeout(r, 15_000));
  const list = await (await fetch("http://127.0.0.1:9339/json/list")).json();
  const ws = new WebSocket(list[0].webSocketDebuggerUrl);
  await new Promise((r) => ws.onopen = r);
  let id = 0;
  const pending = new Map<number, (v: any) => void>();
  const chunks: string[] = [];
  ws.onmessage = (e) => {
    const msg = JSON.parse(e.data);
    if (msg.method === "HeapProfiler.addHeapSnapshotChunk") chunks.push(msg.params.chunk);
    if (msg.id !== undefined) pending.get(msg.id)?.(msg);
  };
  const call = (method: string, params: unknown = {}) => new Promise<any>((r) => { const i = ++id; pending.set(i, r); ws.send(JSON.stringify({ id: i, method, params })); });
  const mem = async (t: string) => {
    const r = await call("Runtime.evaluate", { expression: "JSON.stringify(Deno.memoryUsage())", returnByValue: true });
    const m = JSON.parse(r.result.result.value);
    const st = Deno.readTextFileSync(`/proc/${admin.pid}/status`);
    console.log(t, Object.entries(m).map(([k, v]) => `${k} ${((v as number) / 1048576).toFixed(1)}`).join(", "), /RssAnon:\s+\d+/.exec(st)?.[0], /RssFile:\s+\d+/.exec(st)?.[0]);
  };
  await call("Runtime.enable");
  await mem("before gc:");
  await call("HeapProfiler.collectGarbage");
  await mem("after gc: ");
  await call("HeapProfiler.enable");
  await call("HeapProfiler.takeHeapSnapshot", { reportProgress: false });
  await Deno.writeTextFile("/tmp/al/admin.heapsnapshot", chunks.join(""));
  await mem("after snapshot:");
  ws.close();
} finally {
  await stopAdmin(admin).catch(() => admin.kill("SIGKILL"));
  await fixture.dispose();
  await adapter.stop();
}
