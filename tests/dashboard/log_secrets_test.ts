/**
 * Neither the accounts' password nor the action token reaches the dashboard's log: the real
 * `riskguard dashboard` process, with a log file at debug level and the token set, serves
 * pages, a stream and actions (a good unlock, a wrong token, a bad body, an unknown account),
 * then stops; the log file, stdout and stderr are searched for both secrets. The log is shown
 * to hold the actions, so the search has something to search.
 *
 * @module
 */
import assert from "node:assert/strict";
import { buildFleet, PASSWORD, TOKEN } from "./_fleet.ts";
import { startDashboardProcess } from "./_process.ts";

Deno.test("the dashboard's log holds neither the password nor the token", async () => {
  const fleet = await buildFleet();
  const dir = await Deno.makeTempDir({ prefix: "riskguard-dash-log-" });
  const logFile = `${dir}/dashboard.log`;
  const dashboard = await startDashboardProcess(fleet.spec, {
    args: ["--log-level", "debug", "--log-file", logFile],
    env: { RISKGUARD_DASHBOARD_TOKEN: TOKEN },
  });
  try {
    const base = dashboard.url.replace(/\/$/, "");
    const get = async (path: string) => {
      const response = await fetch(`${base}${path}`);
      await response.body?.cancel();
      return response.status;
    };
    const post = async (path: string, body: string, token = TOKEN) => {
      const response = await fetch(`${base}${path}`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-riskguard-token": token },
        body,
      });
      return { status: response.status, body: await response.text() };
    };
    for (const path of ["/", "/hosts", `/accounts/${fleet.ids.locked}`, "/api/fleet"]) {
      assert.equal(await get(path), 200, path);
    }
    assert.equal(await get(`/api/accounts/${fleet.ids.calm}/chart`), 200);
    assert.equal(await get("/accounts/nope"), 404);

    // A stream stays open while an action changes the store, then is dropped.
    const stream = await fetch(`${base}/api/stream`);
    const unlockPath = `/api/accounts/${fleet.ids.locked}/unlock`;
    const wrong = await post(unlockPath, JSON.stringify({ reason: "x" }), `${TOKEN}-wrong`);
    assert.equal(wrong.status, 401);
    const bad = await post(unlockPath, `{"reason": "${PASSWORD}"`);
    assert.equal(bad.status, 400);
    const unlock = await post(
      unlockPath,
      JSON.stringify({ reason: "checked with the broker", by: "Log Tester" }),
    );
    assert.equal(unlock.status, 200, unlock.body);
    const disable = await post(`/api/accounts/${fleet.ids.idle}/disable`, "{}");
    assert.equal(disable.status, 200, disable.body);
    assert.equal((await post("/api/accounts/nope/enable", "{}")).status, 404);
    await stream.body?.cancel();
    const element = await fleet.store.getElement(fleet.ids.locked);
    assert.ok(element?.valid && element.element.trading === "ALLOWED", "the unlock took effect");

    const status = await dashboard.stop();
    assert.equal(status.code, 0, `a graceful stop: ${dashboard.output()}`);
    const log = await Deno.readTextFile(logFile);
    const records = log.trim().split("\n").map((line) => JSON.parse(line));
    const actions = records.flatMap((r) =>
      r.properties?.action === undefined ? [] : [r.properties]
    );
    assert.deepEqual(
      actions.map((a) => [a.action, a.by]),
      [["unlock", "Log Tester"], ["disable", "(no name)"]],
      "the log records the actions",
    );
    assert.ok(records.some((r) => r.properties?.mode === "actions with token"), "started with it");
    const outputs: [string, string][] = [["log file", log], ["stdout/stderr", dashboard.output()]];
    for (const [name, text] of outputs) {
      assert.ok(!text.includes(PASSWORD), `the ${name} holds the password`);
      assert.ok(!text.includes(TOKEN), `the ${name} holds the token`);
    }
  } finally {
    await dashboard.stop();
    await fleet.dispose();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});
