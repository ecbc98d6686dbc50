/**
 * The dashboard over HTTP, against a real SQLite store and a real `Deno.serve`: every route,
 * the SSE stream (fleet and one account), the token and CSRF rules of the actions, the events
 * they record, and that no password or token appears in any response.
 *
 * @module
 */
import assert from "node:assert/strict";
import { serveDashboard } from "../../src/dashboard/mod.ts";
import { buildFleet, type Fleet, PASSWORD, SseReader, TOKEN } from "./_fleet.ts";

interface Running {
  fleet: Fleet;
  url: string;
  /** Every response body read, for the secret check. */
  bodies: string[];
  get(path: string, init?: RequestInit): Promise<Response>;
  text(path: string): Promise<string>;
  post(path: string, body: unknown, headers?: Record<string, string>): Promise<Response>;
  stop(): Promise<void>;
}

async function start(token: string | undefined): Promise<Running> {
  const fleet = await buildFleet();
  const controller = new AbortController();
  const server = await serveDashboard({
    store: fleet.store,
    listen: "127.0.0.1:0",
    token,
    signal: controller.signal,
    refreshMs: 100,
  });
  const bodies: string[] = [];
  const url = server.url.replace(/\/$/, "");
  const get = (path: string, init?: RequestInit) => fetch(`${url}${path}`, init);
  return {
    fleet,
    url,
    bodies,
    get,
    async text(path) {
      const response = await get(path);
      const body = await response.text();
      bodies.push(body);
      assert.equal(response.status, 200, `${path}: ${response.status} ${body.slice(0, 200)}`);
      return body;
    },
    async post(path, body, headers = {}) {
      const response = await fetch(`${url}${path}`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-riskguard-token": TOKEN, ...headers },
        body: typeof body === "string" ? body : JSON.stringify(body),
      });
      const copy = response.clone();
      bodies.push(await copy.text());
      return response;
    },
    async stop() {
      controller.abort();
      await server.finished;
      await fleet.dispose();
    },
  };
}

/** An instant as the pages print it. */
function utc(at: number): string {
  return `${new Date(at).toISOString().slice(0, 19).replace("T", " ")} UTC`;
}

function assertNoSecrets(bodies: readonly string[]) {
  for (const body of bodies) {
    assert.ok(!body.includes(PASSWORD), `a response holds the password: ${body.slice(0, 300)}`);
    assert.ok(!body.includes(TOKEN), `a response holds the token: ${body.slice(0, 300)}`);
    assert.ok(
      !/password/i.test(body.replace(/type="password"/g, "")),
      "a response names a password field",
    );
  }
}

Deno.test("dashboard pages, JSON, assets and the live stream", async (t) => {
  const app = await start(TOKEN);
  const { fleet } = app;
  try {
    await t.step("the fleet page lists every account; the locked row stands out", async () => {
      const html = await app.text("/");
      for (const login of ["1001", "1002", "1003"]) assert.match(html, new RegExp(`>${login}</a>`));
      const lockedRow = html.match(new RegExp(`<tr data-id="${fleet.ids.locked}"[^>]*>`))?.[0];
      assert.ok(lockedRow, "locked row present");
      assert.match(lockedRow, /class="locked"/);
      const calmRow = html.match(new RegExp(`<tr data-id="${fleet.ids.calm}"[^>]*>`))?.[0];
      assert.ok(calmRow !== undefined && !calmRow.includes("locked"));
      assert.match(html, /10,120\.00/, "calm equity");
      assert.match(html, /<option>vps-1<\/option>/, "host filter");
      assert.match(html, /data-col="5"/, "sortable columns");
      assert.match(html, /locked for the day: daily loss/, "last event");
      assert.match(html, /<script src="\/assets\/dashboard.js"><\/script>/);
    });

    await t.step("the account page shows figures, day, limits, lines and events", async () => {
      const html = await app.text(`/accounts/${fleet.ids.locked}`);
      assert.match(html, /Account 1002 losing day/);
      assert.match(html, /LOCKED_DAY/);
      assert.match(html, /daily loss 500\.00 reached the limit/);
      assert.match(html, /line at 9,500\.00/, "daily-loss floor: 10 000 - 5%");
      assert.match(html, /line at 10,800\.00/, "profit target: 10 000 + 800");
      assert.match(html, /line at 9,000\.00/, "drawdown floor: 10 000 - 10%");
      // The day of a New York close, in its zone, and when it began (as the risk process cuts it).
      assert.match(html, /Day resets at<\/th>\s*<td>17:00 America\/New_York \(UTC-0[45]:00\)/);
      assert.match(html, new RegExp(`Day started</th>\\s*<td>${utc(fleet.dayStarts.locked)}`));
      assert.match(html, /Start balance<\/th>\s*<td>10,000\.00/);
      assert.match(html, /Baseline \(balance\)<\/th>\s*<td>10,000\.00/);
      assert.match(html, /Open positions[\s\S]*None\.[\s\S]*Pending orders[\s\S]*None\./);
      assert.match(html, /locked for the day: daily loss/);
      assert.match(html, /uPlot\.iife\.min\.js/);
      assert.match(html, /<form id="actions"/, "actions offered with a token");
      const missing = await app.get("/accounts/nope");
      assert.equal(missing.status, 404);
      await missing.body?.cancel();
      const events = await app.text(`/accounts/${fleet.ids.locked}/events`);
      assert.match(events, /max_daily_loss/);
    });

    await t.step("the account page lists positions and pending orders, and the day", async () => {
      const html = (await app.text(`/accounts/${fleet.ids.calm}`)).replace(/\s+/g, " ");
      assert.match(
        html,
        /<td>880001<\/td> <td>EURUSD<\/td> <td>buy<\/td> <td class="num">0\.5<\/td> <td class="num">1\.08345<\/td> <td class="num">1\.0801<\/td> <td class="num">–<\/td> <td class="num">150\.25<\/td>/,
      );
      assert.match(html, /<td>XAUUSD<\/td> <td>sell<\/td>.*<td class="num neg">-30\.25<\/td>/);
      assert.match(
        html,
        /<td>990001<\/td> <td>GBPUSD<\/td> <td>buy limit<\/td> <td class="num">0\.2<\/td> <td class="num">1\.2511<\/td>/,
      );
      assert.doesNotMatch(html, /are shown/, "not truncated");
      assert.match(html, /Day resets at<\/th> <td>00:00 broker server time \(UTC\+02:00\)/);
      assert.match(html, new RegExp(`Day started</th> <td>${utc(fleet.dayStarts.calm)}`));
      assert.match(html, new RegExp(`since the reset at ${utc(fleet.dayStarts.calm)}`));
    });

    await t.step(
      "the hosts page counts instances and accounts per host, with heartbeats",
      async () => {
        const now = Date.now();
        await fleet.store.beatAgent({
          host: "vps-1",
          run_id: "run-1",
          pid: 4242,
          machine: "vps-1",
          version: "9.8.7",
          started_at: now - 60_000,
          last_seen: now,
          children: 2,
          instances_free: 0,
          instances_total: 2,
          stopped_at: null,
        }, { staleAfterMs: 60_000 });
        const html = (await app.text("/hosts")).replace(/\s+/g, " ");
        assert.match(
          html,
          /<td>vps-1<\/td> <td class="num">2<\/td> <td class="num">1<\/td> <td class="num">0 \/ 2<\/td>/,
        );
        assert.match(html, /9\.8\.7 \(running, 2 children; 0 \/ 2 free\)/);
        assert.match(
          html,
          /<td>vps-2<\/td> <td class="num">0<\/td> <td class="num">0<\/td> <td class="num">1 \/ 1<\/td>/,
        );
        assert.match(html, /no admin heartbeat/, "vps-2 has none");
      },
    );

    await t.step("JSON: fleet rows and the account chart (samples and lines)", async () => {
      const fleetJson = JSON.parse(await app.text("/api/fleet"));
      assert.deepEqual(fleetJson.rows.map((r: { login: number }) => r.login), [1001, 1002, 1003]);
      const locked = fleetJson.rows[1];
      assert.equal(locked.trading, "LOCKED_DAY");
      assert.equal(locked.daily_loss_limit, 500);
      assert.ok(Math.abs(locked.daily_loss_used - 1.04) < 1e-9, String(locked.daily_loss_used));
      const chart = JSON.parse(await app.text(`/api/accounts/${fleet.ids.calm}/chart`));
      // Today since the reset: yesterday's sample is left out.
      assert.equal(chart.day.starts_at, fleet.dayStarts.calm);
      const today = Array.from({ length: 11 }, (_, i) => fleet.now - i * 60_000)
        .filter((at) => at >= fleet.dayStarts.calm);
      assert.equal(chart.samples.length, today.length);
      assert.ok(chart.samples.every((s: { at: number }) => s.at >= fleet.dayStarts.calm));
      assert.equal(chart.samples.at(-1).equity, 10_120);
      assert.deepEqual(
        [chart.lines.daily_loss_floor, chart.lines.profit_target, chart.lines.drawdown_floor],
        [9_500, 10_800, 9_000],
      );
      const missing = await app.get("/api/accounts/nope/chart");
      assert.equal(missing.status, 404);
      await missing.body?.cancel();
    });

    await t.step("assets are embedded and cached by ETag; pages carry a strict CSP", async () => {
      for (
        const [name, type] of [
          ["uPlot.iife.min.js", "javascript"],
          ["uPlot.min.css", "css"],
          ["dashboard.js", "javascript"],
          ["dashboard.css", "css"],
        ]
      ) {
        const response = await app.get(`/assets/${name}`);
        const body = await response.text();
        assert.equal(response.status, 200, name);
        assert.match(response.headers.get("content-type") ?? "", new RegExp(type!));
        assert.ok(body.length > 500, `${name} has content`);
        const again = await app.get(`/assets/${name}`, {
          headers: { "if-none-match": response.headers.get("etag")! },
        });
        assert.equal(again.status, 304);
        await again.body?.cancel();
      }
      assert.match(await (await app.get("/assets/uPlot.iife.min.js")).text(), /uPlot/);
      const missing = await app.get("/assets/nope.js");
      assert.equal(missing.status, 404);
      await missing.body?.cancel();
      const page = await app.get("/");
      await page.body?.cancel();
      assert.match(page.headers.get("content-security-policy") ?? "", /script-src 'self'/);
      assert.equal(page.headers.get("x-frame-options"), "DENY");
    });

    await t.step("the fleet stream sends a snapshot, then rows as the store changes", async () => {
      const response = await app.get("/api/stream");
      assert.match(response.headers.get("content-type") ?? "", /text\/event-stream/);
      const sse = new SseReader(response);
      try {
        const snapshot = await sse.next((e) => e.event === "snapshot");
        const rows = snapshot.data.rows as { id: string; html: string }[];
        assert.equal(rows.length, 3);
        assert.match(rows.find((r) => r.id === fleet.ids.locked)!.html, /class="locked"/);

        // A state change comes through the store's change feed.
        await fleet.store.setElementStatus(fleet.ids.idle, "DISABLED");
        const disabled = await sse.next((e) =>
          e.event === "row" && e.data.id === fleet.ids.idle &&
          (e.data.row as { status: string }).status === "DISABLED"
        );
        assert.match(String(disabled.data.html), /data-status="DISABLED"/);

        // A metrics-only write (not in the feed) comes through the refresh.
        const now = Date.now();
        await fleet.store.updateElement(fleet.leases.calm, {
          metrics: {
            balance: 10_000,
            equity: 9_876.5,
            daily_pl: -123.5,
            positions: 3,
            orders: 0,
            updated_at: now,
          },
        }, now);
        const moved = await sse.next((e) =>
          e.event === "row" && e.data.id === fleet.ids.calm &&
          (e.data.row as { equity: number }).equity === 9_876.5
        );
        assert.match(String(moved.data.html), /9,876\.50/);

        // A lock written by the risk process.
        await fleet.store.updateElement(fleet.leases.calm, {
          trading: "LOCKED",
          lock_reason: "drawdown",
        }, Date.now());
        const locked = await sse.next((e) =>
          e.event === "row" && e.data.id === fleet.ids.calm &&
          (e.data.row as { trading: string }).trading === "LOCKED"
        );
        assert.match(String(locked.data.html), /class="locked"/);

        // A removed account disappears.
        await fleet.store.removeElement(fleet.ids.idle);
        const removed = await sse.next((e) => e.event === "remove");
        assert.equal(removed.data.id, fleet.ids.idle);
      } finally {
        app.bodies.push(sse.raw);
        await sse.close();
      }
    });

    await t.step(
      "an account stream sends that account's summary and limit lines only",
      async () => {
        const sse = new SseReader(await app.get(`/api/stream?id=${fleet.ids.locked}`));
        try {
          const first = await sse.next((e) => e.event === "row");
          assert.equal(first.data.id, fleet.ids.locked);
          assert.equal((first.data.lines as { daily_loss_floor: number }).daily_loss_floor, 9_500);
          assert.match(String(first.data.html), /class="figs locked"/);
          assert.match(String(first.data.day_html), /17:00 America\/New_York/);
          assert.match(String(first.data.trades_html), /None\./);
          assert.equal((first.data.day as { starts_at: number }).starts_at, fleet.dayStarts.locked);
          const now = Date.now();
          await fleet.store.updateElement(fleet.leases.calm, {
            metrics: {
              balance: 1,
              equity: 1,
              daily_pl: 0,
              positions: 0,
              orders: 0,
              updated_at: now,
            },
          }, now);
          await fleet.store.updateElement(fleet.leases.locked, {
            metrics: {
              balance: 9_480,
              equity: 9_470,
              daily_pl: -530,
              positions: 1,
              orders: 0,
              updated_at: now,
              open_positions: {
                items: [{
                  ticket: 770_077,
                  symbol: "USDJPY",
                  side: "sell",
                  volume: 1,
                  open_price: 151.234,
                  sl: 152,
                  tp: 0,
                  profit: -10,
                }],
                truncated: false,
              },
            },
          }, now);
          const next = await sse.next((e) => e.event === "row");
          assert.equal(next.data.id, fleet.ids.locked, "no rows of other accounts");
          assert.equal((next.data.row as { equity: number }).equity, 9_470);
          assert.match(String(next.data.trades_html), /<td>770077<\/td>\s*<td>USDJPY<\/td>/);
        } finally {
          app.bodies.push(sse.raw);
          await sse.close();
        }
        const missing = await app.get("/api/stream?id=nope");
        assert.equal(missing.status, 404);
        await missing.body?.cancel();
      },
    );

    await t.step("a foreign Host name is refused on loopback (DNS rebinding)", async () => {
      // fetch() sets Host itself: speak HTTP over a raw connection to choose it.
      const raw = async (host: string) => {
        const port = Number(new URL(app.url).port);
        const conn = await Deno.connect({ hostname: "127.0.0.1", port });
        try {
          await conn.write(
            new TextEncoder().encode(
              `GET / HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`,
            ),
          );
          const buffer = new Uint8Array(256);
          const n = await conn.read(buffer);
          return new TextDecoder().decode(buffer.subarray(0, n ?? 0)).split("\r\n")[0];
        } finally {
          conn.close();
        }
      };
      assert.match(await raw("evil.example:8787") ?? "", /^HTTP\/1\.1 403/);
      assert.match(await raw(`localhost:${new URL(app.url).port}`) ?? "", /^HTTP\/1\.1 200/);
    });

    await t.step("no password or token in any response", () => {
      assert.ok(app.bodies.length >= 8, `${app.bodies.length} bodies`);
      assertNoSecrets(app.bodies);
    });
  } finally {
    await app.stop();
  }
});

Deno.test("dashboard actions: token, CSRF rules, effects and recorded events", async (t) => {
  const app = await start(TOKEN);
  const { fleet } = app;
  const path = (id: string, action: string) => `/api/accounts/${id}/${action}`;
  const expectStatus = async (response: Response, status: number, pattern?: RegExp) => {
    const body = await response.json();
    assert.equal(response.status, status, JSON.stringify(body));
    if (pattern) assert.match(body.error ?? body.message, pattern);
    return body;
  };
  try {
    await t.step("without the right token, nothing changes", async () => {
      const unlock = path(fleet.ids.locked, "unlock");
      await expectStatus(
        await app.post(unlock, { reason: "x" }, { "x-riskguard-token": "" }),
        401,
        /token/,
      );
      await expectStatus(
        await app.post(unlock, { reason: "x" }, { "x-riskguard-token": `${TOKEN}x` }),
        401,
      );
      const bare = await fetch(`${app.url}${unlock}`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: "{}",
      });
      await expectStatus(bare, 401);
    });

    await t.step("cross-origin and form posts are refused even with the token", async () => {
      const unlock = path(fleet.ids.locked, "unlock");
      await expectStatus(
        await app.post(unlock, { reason: "x" }, { origin: "https://evil.example" }),
        403,
        /origin/,
      );
      await expectStatus(
        await app.post(unlock, { reason: "x" }, { "sec-fetch-site": "cross-site" }),
        403,
      );
      await expectStatus(
        await app.post(unlock, "reason=x", { "content-type": "application/x-www-form-urlencoded" }),
        400,
        /JSON/,
      );
      const element = await fleet.store.getElement(fleet.ids.locked);
      assert.ok(element?.valid && element.element.trading === "LOCKED_DAY", "still locked");
    });

    await t.step("bad requests are refused with a reason", async () => {
      await expectStatus(await app.post(path(fleet.ids.locked, "unlock"), {}), 400, /reason/);
      await expectStatus(
        await app.post(path(fleet.ids.calm, "unlock"), { reason: "x" }),
        409,
        /not locked/,
      );
      await expectStatus(
        await app.post(path(fleet.ids.calm, "explode"), {}),
        404,
        /Unknown action/,
      );
      await expectStatus(await app.post(path("nope", "disable"), {}), 404, /No account/);
      await expectStatus(await app.post(path(fleet.ids.calm, "disable"), "{not json"), 400, /JSON/);
    });

    await t.step(
      "unlock with a reason: trading ALLOWED and an event with who and where",
      async () => {
        const body = await expectStatus(
          await app.post(path(fleet.ids.locked, "unlock"), {
            reason: "broker confirmed a bad tick",
            by: "Alice",
          }, { origin: app.url, "user-agent": "dashboard-test" }),
          200,
        );
        assert.match(body.message, /broker confirmed a bad tick/);
        const element = await fleet.store.getElement(fleet.ids.locked);
        assert.ok(element?.valid);
        assert.equal(element.element.trading, "ALLOWED");
        const events = await fleet.store.listEvents(fleet.ids.locked);
        const event = events.at(-1)!;
        assert.equal(event.type, "unlock");
        assert.match(
          event.message,
          /unlocked from the dashboard \(was LOCKED_DAY\): broker confirmed/,
        );
        assert.equal(event.detail.by, "Alice");
        assert.equal(event.detail.source, "dashboard");
        assert.equal(event.detail.user_agent, "dashboard-test");
        assert.match(String(event.detail.remote), /^127\.0\.0\.1:\d+$/);
        assert.ok(!JSON.stringify(event).includes(TOKEN));
      },
    );

    await t.step("disable and enable set the status and are recorded", async () => {
      await expectStatus(await app.post(path(fleet.ids.idle, "disable"), { by: "Bob" }), 200);
      let element = await fleet.store.getElement(fleet.ids.idle);
      assert.ok(element?.valid && element.element.status === "DISABLED");
      await expectStatus(await app.post(path(fleet.ids.idle, "enable"), { reason: "back" }), 200);
      element = await fleet.store.getElement(fleet.ids.idle);
      assert.ok(element?.valid && element.element.status === "PENDING");
      const events = await fleet.store.listEvents(fleet.ids.idle);
      assert.deepEqual(
        events.map((e) => [e.type, e.detail.action, e.detail.by]),
        [["lifecycle", "disable", "Bob"], ["lifecycle", "enable", null]],
      );
      assert.match(events[1]!.message, /enabled from the dashboard.*: back/);
    });

    await t.step("no password or token in any response", () => assertNoSecrets(app.bodies));
  } finally {
    await app.stop();
  }
});

Deno.test("without a token the dashboard is read-only", async () => {
  const app = await start(undefined);
  try {
    const html = await app.text(`/accounts/${app.fleet.ids.locked}`);
    assert.doesNotMatch(html, /<form id="actions"/);
    assert.match(html, /Read-only/);
    const response = await app.post(`/api/accounts/${app.fleet.ids.locked}/unlock`, {
      reason: "x",
    });
    assert.equal(response.status, 403);
    assert.match((await response.json()).error, /RISKGUARD_DASHBOARD_TOKEN/);
    const element = await app.fleet.store.getElement(app.fleet.ids.locked);
    assert.ok(element?.valid && element.element.trading === "LOCKED_DAY");
  } finally {
    await app.stop();
  }
});

Deno.test("listen address and token rules", async () => {
  const fleet = await buildFleet();
  const signal = AbortSignal.abort();
  try {
    await assert.rejects(
      serveDashboard({ store: fleet.store, listen: "0.0.0.0:0", signal }),
      /RISKGUARD_DASHBOARD_TOKEN is required when the dashboard listens on 0\.0\.0\.0:0/,
    );
    await assert.rejects(
      serveDashboard({ store: fleet.store, listen: ":8787", signal }),
      /RISKGUARD_DASHBOARD_TOKEN is required/,
    );
    await assert.rejects(
      serveDashboard({ store: fleet.store, listen: "127.0.0.1:0", token: "short", signal }),
      /too short/,
    );
    for (const bad of ["8787", "127.0.0.1", "127.0.0.1:99999", "[::1:80", "a:b"]) {
      await assert.rejects(
        serveDashboard({ store: fleet.store, listen: bad, signal }),
        /Invalid value for --listen/,
        bad,
      );
    }
  } finally {
    await fleet.dispose();
  }
});
