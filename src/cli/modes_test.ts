import assert from "node:assert/strict";
import { collectLogs } from "../shared/logging.ts";
import type { DashboardServer, ServeDashboardOptions } from "../dashboard/mod.ts";
import type { Store } from "../store/mod.ts";
import { serveAdminDashboard } from "./modes.ts";

function options(): ServeDashboardOptions {
  // The loaders below never reach a store.
  return { store: {} as Store, listen: "127.0.0.1:0", signal: new AbortController().signal };
}

const failures: [string, () => Promise<{ serveDashboard: typeof serve }>][] = [
  ["a module that fails to load", () => Promise.reject(new TypeError("Module not found"))],
  ["a loader that throws at once", () => {
    throw new TypeError("Module not found");
  }],
  ["a dashboard that cannot start", () =>
    Promise.resolve({
      serveDashboard: () => Promise.reject(new Error("address in use")),
    })],
];

function serve(_options: ServeDashboardOptions): Promise<DashboardServer> {
  return Promise.resolve({ url: "http://127.0.0.1:1/", finished: Promise.resolve() });
}

for (const [name, load] of failures) {
  Deno.test(`admin dashboard: ${name} is reported and admin goes on (no throw)`, async () => {
    const collector = collectLogs({ category: ["admin"] });
    try {
      assert.equal(await serveAdminDashboard(options(), load), undefined);
    } finally {
      collector.stop();
    }
    const errors = collector.records.filter((record) => record.level === "error");
    assert.equal(errors.length, 1);
    assert.match(errors[0]!.rawMessage, /dashboard not served/);
  });
}

Deno.test("admin dashboard: a dashboard that starts is returned", async () => {
  const server = await serveAdminDashboard(
    options(),
    () => Promise.resolve({ serveDashboard: serve }),
  );
  assert.equal(server?.url, "http://127.0.0.1:1/");
});
