/**
 * The dashboard in a real browser (headless Chromium through `puppeteer-core`): three simulated
 * accounts guarded by real risk runs (real bridge, simulator, rules and store writes), the
 * dashboard as its own `riskguard dashboard` process on the same SQLite file. The fleet page
 * shows the three accounts and the `losing_day` row turns locked without a reload; the account
 * page draws its curve (non-blank canvas) with the daily-loss floor's value in the legend,
 * shows the day (reset in the broker's time, chart since the reset) and, once flattened, no
 * positions; the calm account's page lists its positions and pending order and refreshes them
 * without a reload. Screenshots of the pages go to `.test-artifacts/dashboard/`.
 *
 * Without Chromium the test prints why it skips, except in CI (`CI=true`), where it fails.
 *
 * @module
 */
import assert from "node:assert/strict";
import puppeteer, { type Browser, type Page } from "puppeteer-core";
import { runRisk } from "../../src/risk/runner.ts";
import { freePortPair } from "../../src/shared/net.ts";
import { openStore } from "../../src/store/mod.ts";
import { limitLines } from "../../src/dashboard/limits.ts";
import { type DashboardProcess, startDashboardProcess } from "./_process.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const ARTIFACTS = `${ROOT}.test-artifacts/dashboard`;
const IN_CI = ["true", "1"].includes(Deno.env.get("CI") ?? "");
const SCENARIOS = [
  { scenario: "calm", login: 7_000_001 },
  { scenario: "losing_day", login: 7_000_002 },
  { scenario: "winning_day", login: 7_000_003 },
] as const;

/** The system browser: `CHROMIUM_PATH`, or Debian's `chromium` (installed by the setup). */
async function findChromium(): Promise<string | undefined> {
  const candidates = [
    Deno.env.get("CHROMIUM_PATH"),
    "/usr/bin/chromium",
    "/usr/bin/chromium-browser",
    "/usr/bin/google-chrome",
  ];
  for (const path of candidates) {
    if (path === undefined || path === "") continue;
    if (await Deno.stat(path).then((s) => s.isFile, () => false)) return path;
  }
  return undefined;
}

Deno.test("the dashboard in Chromium: live fleet, a row turning locked, the account chart", async () => {
  const chromium = await findChromium();
  if (chromium === undefined) {
    const why = "no Chromium found (install Debian's chromium, or set CHROMIUM_PATH; " +
      "`deno run -A tools/setup_test_deps.ts` installs it when run as root)";
    if (IN_CI) assert.fail(`browser test cannot run in CI: ${why}`);
    console.log(`SKIPPED dashboard browser test: ${why}`);
    return;
  }
  await Deno.mkdir(ARTIFACTS, { recursive: true });
  const dir = await Deno.makeTempDir({ prefix: "riskguard-browser-" });
  const spec = `sqlite:${dir}/fleet.db`;
  const store = await openStore(spec);
  const stop = new AbortController();
  const runs: Promise<void>[] = [];
  let dashboard: DashboardProcess | undefined;
  let browser: Browser | undefined;
  try {
    const accounts: { id: string; instance: string; scenario: string; login: number }[] = [];
    for (const { scenario, login } of SCENARIOS) {
      const instance = await store.addInstance({
        path: `sim:${scenario}`,
        host: "test-vps",
        port: freePortPair(),
      });
      const inserted = await store.insertElement({
        name: scenario,
        server: "RiskGuard-Sim",
        login,
        password: "sim-password",
        max_daily_loss: "5%",
        max_profit: "8%",
        max_drawdown: { limit: "10%", mode: "trailing_equity" },
      });
      assert.ok(inserted.ok);
      accounts.push({ id: inserted.element.id, instance: instance._id, scenario, login });
    }
    const losing = accounts.find((a) => a.scenario === "losing_day")!;

    dashboard = await startDashboardProcess(spec);
    const url = dashboard.url;
    browser = await puppeteer.launch({
      executablePath: chromium,
      headless: true,
      args: ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"],
    });
    const page = await browser.newPage();
    await page.setViewport({ width: 1400, height: 800 });
    const errors: string[] = [];
    page.on("pageerror", (error) => errors.push(String(error)));

    await page.goto(url, { waitUntil: "load" });
    // Browser-side code is passed as text: this file is type-checked without the DOM library.
    await page.waitForFunction(`document.getElementById("live")?.textContent === "live"`);
    const logins = await page.evaluate(
      `[...document.querySelectorAll("#fleet tbody tr td:first-child a")].map((a) => a.textContent)`,
    );
    assert.deepEqual(logins, SCENARIOS.map((s) => String(s.login)));
    // A reload would drop this marker: it proves the rows change in place.
    await page.evaluate(`window.marker = 4711`);
    assert.equal(await tradingOf(page, losing.id), "ALLOWED");

    // Now the accounts come alive: real risk runs on simulated terminals.
    for (const account of accounts) {
      runs.push(runRisk({
        store,
        elementId: account.id,
        host: "test-vps",
        instanceId: account.instance,
        signal: stop.signal,
        sim: { seed: 7, speed: 4 },
        timing: { metricsIntervalMs: 300, pingIntervalMs: 1_000 },
      }));
    }
    await page.waitForFunction(
      `(() => {
        const row = document.querySelector('tr[data-id="${losing.id}"]');
        return row?.classList.contains("locked") &&
          row.querySelector(".trading")?.textContent?.trim() === "LOCKED_DAY";
      })()`,
      { timeout: 60_000 },
    );
    assert.equal(
      await page.evaluate(`window.marker`),
      4711,
      "the page was not reloaded",
    );
    for (const account of accounts.filter((a) => a !== losing)) {
      assert.equal(await tradingOf(page, account.id), "ALLOWED", account.scenario);
    }
    // Every row shows an equity figure (the refresh carries metrics to the page).
    await page.waitForFunction(
      `[...document.querySelectorAll("#fleet tbody tr")].every((tr) => /[0-9]/.test(tr.cells[5]?.textContent ?? ""))`,
      { timeout: 20_000 },
    );
    await page.screenshot({ path: `${ARTIFACTS}/fleet.png`, fullPage: true });

    // The rows are redrawn live (every second and on each change): the link is found and
    // clicked in one step in the page, so a redraw between "find" and "click" cannot detach it.
    await Promise.all([
      page.waitForNavigation({ waitUntil: "load" }),
      page.evaluate(
        `document.querySelector('tr[data-id="${losing.id}"] td:first-child a').click()`,
      ),
    ]);
    await page.waitForSelector('#chart[data-state="drawn"]', { timeout: 20_000 });
    const painted = await page.evaluate(`(() => {
      const canvas = document.querySelector("#chart canvas");
      const pixels = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
      let count = 0;
      for (let i = 3; i < pixels.length; i += 4) if (pixels[i] > 0) count++;
      return count;
    })()`) as number;
    assert.ok(painted > 500, `the chart canvas is blank (${painted} painted pixels)`);
    const element = await store.getElement(losing.id);
    assert.ok(element?.valid);
    const floor = limitLines(element.element).daily_loss_floor;
    assert.ok(floor !== null, "the losing account has a daily-loss floor");
    const legend = await page.evaluate(`document.getElementById("chart").textContent`) as string;
    assert.match(legend, new RegExp(`Daily loss floor ${floor.toFixed(2).replace(".", "\\.")}`));
    assert.match(
      await page.evaluate(`document.getElementById("summary").textContent`) as string,
      /LOCKED_DAY/,
    );
    // The day: its reset in the broker's time with the offset the risk process wrote, and the
    // chart since that reset.
    const day = await textOf(page, "day");
    assert.match(day, /Day resets at\s*00:00 broker server time \(UTC([+-]\d\d:\d\d)?\)/);
    assert.match(day, /Day started\s*\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC/);
    assert.match(day, /Start balance\s*10,000\.00/);
    assert.match(await textOf(page, "chart-range"), /^since the reset at \d{4}-/);
    // The losing day was locked and flattened: no positions left, shown as such.
    await page.waitForFunction(
      `document.querySelector("#trades .positions .empty")?.textContent === "None."`,
      { timeout: 20_000 },
    );
    await page.screenshot({ path: `${ARTIFACTS}/account.png`, fullPage: true });

    // A calm account trades on: its positions and orders are listed and move without a reload.
    const calm = accounts.find((a) => a.scenario === "calm")!;
    await page.goto(`${url.replace(/\/$/, "")}/accounts/${calm.id}`, { waitUntil: "load" });
    await page.waitForFunction(`document.getElementById("live")?.textContent === "live"`);
    await page.waitForFunction(
      `document.querySelector("#trades table.trades td")?.textContent !== undefined &&
        /buy limit/.test(document.querySelector("#trades .orders").textContent)`,
      { timeout: 20_000 },
    );
    await page.evaluate(`window.marker = 4712`);
    const asOf = await page.evaluate(
      `document.querySelector("#trades .positions small").textContent`,
    );
    await page.waitForFunction(
      `document.querySelector("#trades .positions small").textContent !== ${JSON.stringify(asOf)}`,
      { timeout: 20_000 },
    );
    assert.equal(await page.evaluate(`window.marker`), 4712, "updated in place");
    await page.screenshot({ path: `${ARTIFACTS}/account-calm.png`, fullPage: true });
    assert.deepEqual(errors, [], "no script errors on the pages");
  } finally {
    await browser?.close();
    stop.abort();
    await Promise.allSettled(runs);
    await dashboard?.stop();
    await store.close();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});

async function textOf(page: Page, id: string): Promise<string> {
  return (await page.evaluate(`document.getElementById("${id}")?.textContent ?? ""`) as string)
    .replace(/\s+/g, " ");
}

async function tradingOf(page: Page, id: string): Promise<string | undefined> {
  return await page.evaluate(
    `document.querySelector('tr[data-id="${id}"] .trading')?.textContent?.trim()`,
  ) as string | undefined;
}
