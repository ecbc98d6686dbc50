/**
 * Admin's extras for the dashboard (SQLite, real processes): `--dashboard` serves the web
 * dashboard in admin's process over admin's store, and equity samples older than
 * `--sample-retention` are pruned at every reaper round. A dashboard that cannot listen is
 * reported and admin guards without it.
 */
import assert from "node:assert/strict";
import { freePortPair } from "../../src/shared/net.ts";
import { sqliteAdapter } from "../store/_harness.ts";
import { insertSimElement, startAdmin, stopAdmin, tempDir, waitFor } from "./_harness.ts";

const DAY_MS = 24 * 60 * 60 * 1000;

Deno.test({
  name: "admin --dashboard serves the fleet page; --sample-retention prunes old samples",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const fixture = await sqliteAdapter().fresh();
    const control = await tempDir();
    const id = await insertSimElement(fixture.store);
    const now = Date.now();
    const sample = { element_id: id, balance: 10_000, equity: 10_000, daily_pl: 0, positions: 0 };
    await fixture.store.appendSample({ ...sample, at: now - 10 * DAY_MS });
    await fixture.store.appendSample({ ...sample, at: now - 3 * DAY_MS });
    const port = freePortPair();
    const admin = startAdmin({
      fixture,
      host: "vps-d",
      controlDir: control,
      args: ["--dashboard", `127.0.0.1:${port}`, "--sample-retention", "7"],
    });
    try {
      const page = await waitFor("the fleet page", async () => {
        const response = await fetch(`http://127.0.0.1:${port}/`).catch(() => undefined);
        if (response === undefined) return undefined;
        const text = await response.text();
        return response.status === 200 ? text : undefined;
      });
      assert.match(page, /5000001/);
      assert.doesNotMatch(page, /pw-never-logged/);
      const kept = await waitFor("the old sample pruned", async () => {
        const samples = await fixture.store.listSamples(id, { since: 0, until: now });
        return samples.length === 1 ? samples : undefined;
      });
      assert.equal(kept[0]!.at, now - 3 * DAY_MS);
      await stopAdmin(admin);
      const after = await fetch(`http://127.0.0.1:${port}/`).then(
        (response) => response.body?.cancel().then(() => "answered"),
        () => "closed",
      );
      assert.equal(after, "closed", "the dashboard stops with admin");
    } finally {
      admin.kill("SIGKILL");
      await fixture.dispose();
      await Deno.remove(control, { recursive: true });
    }
  },
});

Deno.test({
  name: "admin guards without its dashboard when the address is taken",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const fixture = await sqliteAdapter().fresh();
    const control = await tempDir();
    const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const admin = startAdmin({
      fixture,
      host: "vps-e",
      controlDir: control,
      args: ["--dashboard", `127.0.0.1:${(taken.addr as Deno.NetAddr).port}`],
    });
    try {
      await admin.waitForLine(/dashboard not served: .*Cannot listen/);
      await admin.waitForLine(/admin started for host vps-e/);
      await stopAdmin(admin);
    } finally {
      taken.close();
      admin.kill("SIGKILL");
      await fixture.dispose();
      await Deno.remove(control, { recursive: true });
    }
  },
});

Deno.test("admin refuses a bad --sample-retention and --dashboard in risk mode", async () => {
  const run = (args: string[]) =>
    new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", new URL("../../main.ts", import.meta.url).pathname, ...args],
      stdout: "piped",
      stderr: "piped",
    }).output();
  const bad = await run(["--mode", "admin", "--sample-retention", "0"]);
  assert.equal(bad.code, 2);
  assert.match(
    new TextDecoder().decode(bad.stderr),
    /--sample-retention: "0"; expected whole days/,
  );
  const risk = await run(["--mode", "risk", "--element_id", "x", "--dashboard", "127.0.0.1:1"]);
  assert.equal(risk.code, 2);
  assert.match(
    new TextDecoder().decode(risk.stderr),
    /--dashboard is only valid with --mode admin/,
  );
});
