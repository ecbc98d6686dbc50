import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import type { Store } from "../store/mod.ts";
import { testAccount } from "../../tests/support/test_account.ts";
import type { RiskEvent } from "./audit_trail.ts";
import { riskSettingsOf } from "./live_config.ts";
import { RulePlugins } from "./rule_plugins.ts";

const PLUGIN = fileURLToPath(
  new URL("../../tests/rules/fixtures/close_biggest.ts", import.meta.url),
);

/** The plugins of one account running `ruleFiles`; what they record goes to `events`. */
function pluginsOf(ruleFiles: string[], events: RiskEvent[]) {
  const store = new Proxy({}, { get: () => () => Promise.resolve(undefined) }) as Store;
  const { element, clock, log, writer, audit } = testAccount({
    store,
    onEvent: (event) => events.push(event),
    name: "rule_plugins",
  });
  const plugins = new RulePlugins({ ruleFiles, clock, audit, writer, log, protectedPaths: [] });
  return { plugins, settings: riskSettingsOf(element) };
}

Deno.test("rule plugins: a plugin list that cannot even start is reported as a load failure", async () => {
  const events: RiskEvent[] = [];
  const { plugins, settings } = pluginsOf(["file://[no-such-url"], events);
  await plugins.load(settings);
  assert.equal(plugins.host, undefined);
  const error = events.find((event) => event.type === "error");
  assert.match(error?.message ?? "(none)", /rule plugins could not be started: .*URL/i);
  assert.deepEqual(error?.detail, { modules: ["file://[no-such-url"] });
  await plugins.close();
});

Deno.test("rule plugins: closed while they start, the plugin process started is stopped", async () => {
  const events: RiskEvent[] = [];
  const { plugins, settings } = pluginsOf([PLUGIN], events);
  const loading = plugins.load(settings);
  await plugins.close();
  await loading;
  // The test's sanitizers also fail it if the plugin's process were left running.
  assert.equal(plugins.host, undefined);
  assert.deepEqual(events.filter((event) => event.type === "error"), []);
});

Deno.test("rule plugins: a load overtaken by another keeps only the newer one's host", async () => {
  const events: RiskEvent[] = [];
  const { plugins, settings } = pluginsOf([PLUGIN], events);
  const first = plugins.load({ ...settings, rules: [{ module: PLUGIN, options: { a: 1 } }] });
  await plugins.load(settings);
  await first;
  assert.deepEqual(plugins.host?.status().map((status) => status.state), ["ready"]);
  await plugins.close();
});

Deno.test("rule plugins: a failed start overtaken by a newer load leaves the newer one alone", async () => {
  const events: RiskEvent[] = [];
  const { plugins, settings } = pluginsOf([PLUGIN], events);
  const bad = plugins.load({
    ...settings,
    rules: [{ module: "file://[no-such-url", options: {} }],
  });
  await plugins.load(settings);
  await bad;
  const host = plugins.host;
  assert.deepEqual(host?.status().map((status) => status.state), ["ready"]);
  assert.deepEqual(events.filter((event) => event.type === "error"), []);
  await plugins.load(settings); // the same list: nothing restarts
  assert.equal(plugins.host, host);
  await plugins.close();
});
