/**
 * `deno task bench`: runs every benchmark script in this folder (`bench/*.ts` except this file),
 * (admin, risk, rules, store, zmtp) one after another, each in its own process so that RSS figures are its own. Each script
 * prints its figures side by side with its reference.
 *
 * Pass names to run a subset: `deno task bench zmtp store`.
 *
 * @module
 */
const here = new URL(".", import.meta.url);
const wanted = Deno.args;
const scripts: string[] = [];
for await (const entry of Deno.readDir(here)) {
  if (!entry.isFile || !entry.name.endsWith(".ts") || entry.name === "mod.ts") continue;
  if (entry.name.startsWith("_") || entry.name.endsWith("_test.ts")) continue;
  const name = entry.name.replace(/\.ts$/, "");
  if (wanted.length === 0 || wanted.includes(name)) scripts.push(entry.name);
}
scripts.sort();
let failures = 0;
for (const script of scripts) {
  console.log(`\n=== bench/${script}`);
  const status = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL(script, here).pathname],
    stdout: "inherit",
    stderr: "inherit",
  }).spawn().status;
  if (!status.success) {
    failures++;
    console.log(`bench/${script} failed with exit code ${status.code}`);
  }
}
if (failures > 0) Deno.exit(1);
