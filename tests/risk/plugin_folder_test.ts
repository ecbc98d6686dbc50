/**
 * Review of issues 9/11, F11: a plugin may read its own folder, so a plugin whose folder also
 * holds the store file (e.g. `--rules my_rule.ts` next to the default `riskguard.db`), the log
 * file or a terminal folder is refused, with a message saying why and what to do.
 */
import assert from "node:assert/strict";
import { dirname } from "node:path";
import { PluginHost } from "../../src/rules/plugins.ts";
import { scriptedAccount, startScripted } from "./_scripted_run.ts";

Deno.test("a plugin next to the store file is refused; the risk process records why", async () => {
  const account = await scriptedAccount({});
  const folder = dirname(account.store.description.slice("sqlite:".length));
  const plugin = `${folder}/my_rule.ts`;
  await Deno.writeTextFile(plugin, `export default { id: "my_rule", evaluate: () => [] };\n`);
  try {
    const run = await startScripted(account, { risk: { ruleFiles: [plugin] } });
    assert.equal(await run.stop(), undefined);
    const refusal = run.events.find((e) => e.type === "error" && /my_rule\.ts/.test(e.message));
    assert.ok(refusal, "the refusal is recorded");
    assert.match(
      refusal.message,
      /refused: its folder .* also holds the store file \(.*risk\.db\), which a plugin may read; move the plugin into a folder of its own/,
    );
  } finally {
    await account.cleanup();
  }
});

Deno.test("a plugin whose folder holds the log file or a terminal folder is refused; elsewhere it loads", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${dir}/shared/MT5-1`, { recursive: true });
    await Deno.mkdir(`${dir}/rules`);
    await Deno.writeTextFile(`${dir}/shared/riskguard.log`, "");
    const source = `export default { id: "r", evaluate: () => [] };\n`;
    await Deno.writeTextFile(`${dir}/shared/r.ts`, source);
    await Deno.writeTextFile(`${dir}/rules/r.ts`, source);
    const protectedPaths = [
      { path: `${dir}/shared/riskguard.log`, what: "the log file" },
      { path: `${dir}/shared/MT5-1`, what: "the terminal folder" },
      { path: `${dir}/elsewhere/MT5-2`, what: "the terminal folder" }, // not there: no matter
    ];
    const refused = await PluginHost.start([{ module: `${dir}/shared/r.ts` }], { protectedPaths });
    await refused.close();
    assert.equal(refused.loadErrors.length, 1);
    assert.match(refused.loadErrors[0]!.message, /also holds the log file/);
    const loaded = await PluginHost.start([{ module: `${dir}/rules/r.ts` }], { protectedPaths });
    await loaded.close();
    assert.deepEqual(loaded.loadErrors, []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
