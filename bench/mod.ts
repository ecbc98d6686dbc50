/**
 * `deno task bench`: runs every benchmark script in this folder (`bench/*.ts` except this file),
 * one after another, each in its own process so that RSS figures are its own. Each script
 * prints its figures side by side with its target and the reference measured in the same run.
 *
 * Pass names to run a subset: `deno task bench zmtp store`. With `--report`, the output of every
 * script is also written to `bench/REPORT.md`, headed by the machine (cores, memory, OS) and the
 * versions it ran with.
 *
 * @module
 */
import { VERSION_LINE } from "../src/shared/version.ts";

const here = new URL(".", import.meta.url);
const report = Deno.args.includes("--report");
const wanted = Deno.args.filter((arg) => arg !== "--report");
const scripts: string[] = [];
for await (const entry of Deno.readDir(here)) {
  if (!entry.isFile || !entry.name.endsWith(".ts") || entry.name === "mod.ts") continue;
  if (entry.name.startsWith("_") || entry.name.endsWith("_test.ts")) continue;
  const name = entry.name.replace(/\.ts$/, "");
  if (wanted.length === 0 || wanted.includes(name)) scripts.push(entry.name);
}
scripts.sort();
let failures = 0;
const sections: string[] = [];
for (const script of scripts) {
  console.log(`\n=== bench/${script}`);
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL(script, here).pathname],
    stdout: report ? "piped" : "inherit",
    stderr: "inherit",
  }).spawn();
  let output = "";
  if (report) output = await tee(child.stdout);
  const status = await child.status;
  if (!status.success) {
    failures++;
    console.log(`bench/${script} failed with exit code ${status.code}`);
  }
  sections.push(
    `## bench/${script}${status.success ? "" : ` (FAILED, exit ${status.code})`}\n\n` +
      "```text\n" + output.trimEnd() + "\n```\n",
  );
}
if (report) {
  const path = new URL("REPORT.md", here);
  await Deno.writeTextFile(path, await header() + "\n" + sections.join("\n"));
  console.log(`\nreport written to ${path.pathname}`);
}
if (failures > 0) Deno.exit(1);

/** Copies a stream to this process's stdout while collecting it as text. */
async function tee(stream: ReadableStream<Uint8Array>): Promise<string> {
  const decoder = new TextDecoder();
  let text = "";
  for await (const chunk of stream) {
    await Deno.stdout.write(chunk);
    text += decoder.decode(chunk, { stream: true });
  }
  return text + decoder.decode();
}

/** The machine and versions the figures were measured on. */
async function header(): Promise<string> {
  const memory = Deno.systemMemoryInfo();
  const node = await new Deno.Command("node", { args: ["--version"], stdout: "piped" }).output()
    .then((o) => new TextDecoder().decode(o.stdout).trim(), () => "not installed");
  const cpu = await Deno.readTextFile("/proc/cpuinfo")
    .then((text) => /model name\s*:\s*(.+)/.exec(text)?.[1] ?? "unknown", () => "unknown");
  return [
    "# riskguard benchmark report",
    "",
    `Measured ${new Date().toISOString()} by \`deno task bench --report\`. Every figure is printed`,
    "beside its target and, where there is one, the reference measured in the same run.",
    "",
    "| | |",
    "|---|---|",
    `| riskguard | ${VERSION_LINE} |`,
    `| Deno | ${Deno.version.deno} (V8 ${Deno.version.v8}, TypeScript ${Deno.version.typescript}) |`,
    `| Node (libzmq reference peer) | ${node} |`,
    `| OS | ${Deno.build.os} ${Deno.osRelease()} (${Deno.build.arch}) |`,
    `| CPU | ${navigator.hardwareConcurrency} cores, ${cpu} |`,
    `| memory | ${(memory.total / 2 ** 30).toFixed(1)} GiB |`,
    // Other work on the machine stretches every latency figure: say how busy it was.
    `| load average at the start (1, 5, 15 min) | ${
      Deno.loadavg().map((n) => n.toFixed(2)).join(", ")
    } |`,
    "",
  ].join("\n");
}
