/**
 * `elements add|set|show|export|import` with every setting, accounts named by login, and fleet
 * import files, through the real CLI against both stores: a SQLite file, and MongoDB (the test
 * server the store harness starts; skipped with a printed reason when there is none).
 *
 * @module
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { runCli } from "../../src/cli/mod.ts";
import { fakeContext } from "../support/fake_cli.ts";
import { type Adapter, type Fixture, mongoAdapter, sqliteAdapter } from "../store/_harness.ts";

const example = fileURLToPath(new URL("../../rules.example.ts", import.meta.url));

/** Runs the CLI against a fixture's store; returns exit code and output. */
async function cli(
  fixture: Fixture,
  args: string[],
  options: { env?: Record<string, string>; secret?: string } = {},
): Promise<{ code: number; out: string; err: string }> {
  const ctx = fakeContext(
    {
      RISKGUARD_STORE: fixture.spec,
      RISKGUARD_DB: fixture.db,
      RISKGUARD_HOST: "vps-test",
      RISKGUARD_LOG_LEVEL: "error",
      ...options.env,
    },
    options.secret,
  );
  const code = await runCli(args, ctx);
  return { code, out: ctx.out.join(""), err: ctx.err.join("") };
}

/** Runs the CLI and expects exit code 0; returns stdout. */
async function ok(fixture: Fixture, args: string[], env?: Record<string, string>) {
  const result = await cli(fixture, args, env === undefined ? {} : { env });
  assert.equal(result.code, 0, `${args.join(" ")}: ${result.err}`);
  return result.out;
}

/** Every flag of `elements add`, with a value that is not a default. */
const EVERY_FLAG = [
  ["--name", "ftmo-100k"],
  ["--max-daily-loss", "5%"],
  ["--max-position-risk", "250"],
  ["--max-profit", "3000"],
  ["--max-drawdown", "10%"],
  ["--drawdown-mode", "trailing_equity"],
  ["--drawdown-stop-at-initial"],
  ["--daily-reset", "17:00"],
  ["--timezone", "America/New_York"],
  ["--baseline", "max"],
  ["--warn-at", "75%"],
  ["--require-stop-loss"],
  ["--position-risk-action", "notify"],
  ["--max-open-positions", "5"],
  ["--max-total-lots", "10"],
  ["--max-lots-per-symbol", "2.5"],
  ["--trading-hours", "08:00-21:30"],
  ["--trading-timezone", "Europe/London"],
  ["--trading-days", "1-5"],
  ["--close-before-weekend", "21:45"],
  ["--close-before-weekend-day", "fri"],
  ["--close-before-weekend-timezone", "Europe/Berlin"],
  ["--initial-balance", "100000"],
  ["--pin-host", "vps-1"],
  ["--rule", example],
  ["--rule-options", '{"events":["08:30"],"api_token":"tok-secret"}'],
].flat();

/** What {@link EVERY_FLAG} stores, in the raw form `show` and `export` print. */
const EVERY_FIELD = {
  name: "ftmo-100k",
  server: "FTMO-Demo",
  login: 5012345,
  max_daily_loss: "5%",
  max_position_risk: 250,
  max_profit: 3000,
  max_drawdown: { limit: "10%", mode: "trailing_equity", stop_at_initial: true },
  daily: { reset: "17:00", timezone: "America/New_York", baseline: "max" },
  warn_at: 0.75,
  require_stop_loss: true,
  position_risk_action: "notify",
  max_open_positions: 5,
  max_total_lots: 10,
  max_lots_per_symbol: 2.5,
  trading_hours: { start: "08:00", end: "21:30", timezone: "Europe/London", days: [1, 2, 3, 4, 5] },
  close_before_weekend: { day: 5, time: "21:45", timezone: "Europe/Berlin" },
  rules: [{ module: example, options: { events: ["08:30"], api_token: "tok-secret" } }],
  initial_balance: 100000,
  pin_host: "vps-1",
};

/** The settings of a `show` document (what export and import carry). */
function settingsOf(shown: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(EVERY_FIELD)) {
    if (shown[key] !== undefined) out[key] = shown[key];
  }
  return out;
}

type Scenario = (fixture: Fixture, adapter: Adapter) => Promise<void>;

const scenarios: Record<string, Scenario> = {
  "every field round-trips through add, show, set, export and import (CSV and JSON)": async (
    fixture,
    adapter,
  ) => {
    const added = JSON.parse(
      await ok(fixture, [
        "elements",
        "add",
        "--server",
        "FTMO-Demo",
        "--login",
        "5012345",
        "--password",
        "pw-secret-1",
        ...EVERY_FLAG,
        "--json",
      ]),
    );
    const id = added._id as string;
    const shown = JSON.parse(await ok(fixture, ["elements", "show", "5012345"]));
    assert.equal(shown._id, id, "show finds the account by its login");
    assert.equal(shown.password, "****");
    assert.deepEqual(settingsOf(shown), {
      ...EVERY_FIELD,
      rules: [{ module: example, options: { events: ["08:30"], api_token: "****" } }],
    }, "show masks plugin secrets");

    // set: every flag to another value, by login; object fields keep the keys not given.
    const changed = await ok(fixture, [
      "elements",
      "set",
      "5012345",
      "--new-server",
      "FTMO-Live",
      "--new-login",
      "5012346",
      "--name",
      "live",
      "--max-daily-loss",
      "400",
      "--max-position-risk",
      "1%",
      "--max-profit",
      "2%",
      "--max-drawdown",
      "8000",
      "--drawdown-mode",
      "static",
      "--no-drawdown-stop-at-initial",
      "--daily-reset",
      "00:00",
      "--timezone",
      "Europe/Prague",
      "--warn-at",
      "0.5",
      "--no-require-stop-loss",
      "--position-risk-action",
      "close",
      "--max-open-positions",
      "3",
      "--max-total-lots",
      "4",
      "--max-lots-per-symbol",
      "1",
      "--trading-hours",
      "22:00-06:00",
      "--trading-days",
      "mon,wed,7",
      "--close-before-weekend-day",
      "4",
      "--initial-balance",
      "50000",
      "--no-pin-host",
      "--rule",
      example,
      "--password",
      "pw-secret-2",
    ]);
    assert.match(changed, new RegExp(`^Changed element ${id}: `));
    assert.match(changed, /max_drawdown 8000 \(static\)/);
    assert.match(changed, /pin_host removed/);
    assert.match(changed, /password changed/);
    const after = JSON.parse(await ok(fixture, ["elements", "show", id]));
    const expected = {
      name: "live",
      server: "FTMO-Live",
      login: 5012346,
      max_daily_loss: 400,
      max_position_risk: "1%",
      max_profit: "2%",
      max_drawdown: { limit: 8000, mode: "static", stop_at_initial: false },
      daily: { reset: "00:00", timezone: "Europe/Prague", baseline: "max" },
      warn_at: 0.5,
      require_stop_loss: false,
      position_risk_action: "close",
      max_open_positions: 3,
      max_total_lots: 4,
      max_lots_per_symbol: 1,
      trading_hours: { start: "22:00", end: "06:00", timezone: "Europe/London", days: [1, 3, 7] },
      close_before_weekend: { day: 4, time: "21:45", timezone: "Europe/Berlin" },
      rules: [{ module: example }],
      initial_balance: 50000,
    };
    assert.deepEqual(settingsOf(after), expected);
    const raw = await fixture.readRaw("elements", id);
    assert.equal(raw?.password, "pw-secret-2", "the new password is stored");

    // Put the first account's settings back on a second account, then export both ways.
    await ok(fixture, [
      "elements",
      "add",
      "--server",
      "FTMO-Demo",
      "--login",
      "5012345",
      "--password",
      "pw-secret-1",
      ...EVERY_FLAG,
    ]);
    const json = await ok(fixture, ["elements", "export"]);
    const csv = await ok(fixture, ["elements", "export", "--format", "csv"]);
    assert.ok(!/pw-secret/.test(json + csv), "export writes no password");
    assert.deepEqual(
      JSON.parse(json).map((doc: Record<string, unknown>) => settingsOf(doc)).sort(byLogin),
      [expected, EVERY_FIELD].sort(byLogin),
    );
    const dir = await Deno.makeTempDir({ prefix: "riskguard-export-" });
    try {
      for (const [name, text] of [["fleet.json", json], ["fleet.csv", csv]] as const) {
        await Deno.writeTextFile(`${dir}/${name}`, text);
        const target = await adapter.fresh();
        try {
          const imported = await cli(target, ["elements", "import", `${dir}/${name}`], {
            secret: "typed-pw",
          });
          assert.equal(imported.code, 0, imported.err);
          assert.match(imported.out, /Imported 2 elements/);
          assert.ok(!/typed-pw/.test(imported.out + imported.err));
          const again = await ok(target, ["elements", "export"]);
          assert.deepEqual(
            JSON.parse(again).sort(byLogin),
            JSON.parse(json).sort(byLogin),
            `${name}: export -> import -> export is the same`,
          );
          const stored = await target.store.listElements();
          assert.deepEqual(
            stored.map((parsed) => parsed.valid && parsed.element.password),
            ["typed-pw", "typed-pw"],
            `${name}: passwords came from the prompt`,
          );
        } finally {
          await target.dispose();
        }
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },

  "accounts are named by id or login; an ambiguous login lists both and --server picks": async (
    fixture,
  ) => {
    const add = (server: string) =>
      ok(fixture, [
        "elements",
        "add",
        "--server",
        server,
        "--login",
        "1001",
        "--password",
        "p",
        "--json",
      ]).then((out) => JSON.parse(out)._id as string);
    const icm = await add("ICM-Demo");
    const ftmo = await add("FTMO-Demo");

    const again = await cli(fixture, [
      "elements",
      "add",
      "--server",
      "ICM-Demo",
      "--login",
      "1001",
      "--password",
      "p",
    ]);
    assert.equal(again.code, 2);
    assert.match(
      again.err,
      new RegExp(`Login 1001 on ICM-Demo already exists \\(element ${icm}\\)`),
    );

    for (const command of ["show", "set", "unlock", "enable", "disable", "remove"]) {
      const extra = command === "set" ? ["--name", "x"] : [];
      const result = await cli(fixture, ["elements", command, "1001", ...extra]);
      assert.equal(result.code, 2, command);
      assert.match(
        result.err,
        new RegExp(
          `Login 1001 names 2 elements: (ICM-Demo \\(id ${icm}\\), FTMO-Demo \\(id ${ftmo}\\)|` +
            `FTMO-Demo \\(id ${ftmo}\\), ICM-Demo \\(id ${icm}\\)); add --server <name>`,
        ),
        command,
      );
    }
    assert.equal(
      JSON.parse(await ok(fixture, ["elements", "show", "1001", "--server", "FTMO-Demo"]))._id,
      ftmo,
    );
    assert.match(
      await ok(fixture, ["elements", "set", "1001", "--server", "ICM-Demo", "--max-profit", "9"]),
      new RegExp(`Changed element ${icm}: max_profit 9`),
    );
    assert.match(
      await ok(fixture, ["elements", "disable", "1001", "--server", "ICM-Demo"]),
      new RegExp(`Disabled element ${icm}`),
    );
    assert.match(
      await ok(fixture, ["elements", "enable", "1001", "--server", "ICM-Demo"]),
      new RegExp(`Enabled element ${icm}`),
    );
    assert.match(
      await ok(fixture, ["elements", "unlock", "1001", "--server", "ICM-Demo"]),
      /is not locked/,
    );
    const wrong = await cli(fixture, ["elements", "show", icm, "--server", "FTMO-Demo"]);
    assert.equal(wrong.code, 2);
    assert.match(wrong.err, new RegExp(`Element ${icm} is on server ICM-Demo, not FTMO-Demo`));
    const none = await cli(fixture, ["elements", "show", "1002"]);
    assert.equal(none.code, 2);
    assert.match(none.err, /No element with id or login 1002/);
    const elsewhere = await cli(fixture, ["elements", "show", "1001", "--server", "Nowhere"]);
    assert.match(elsewhere.err, /No element with id or login 1001 on server Nowhere/);
    assert.match(
      await ok(fixture, ["elements", "remove", "1001", "--server", "ICM-Demo"]),
      new RegExp(`Removed element ${icm}`),
    );
    assert.equal(
      JSON.parse(await ok(fixture, ["elements", "show", "1001"]))._id,
      ftmo,
      "one left: the login alone names it",
    );
  },

  "an import file with bad rows changes nothing and names every bad row": async (fixture) => {
    const dir = await Deno.makeTempDir({ prefix: "riskguard-import-" });
    try {
      await ok(fixture, [
        "elements",
        "add",
        "--server",
        "S",
        "--login",
        "1",
        "--password",
        "p",
      ]);
      const before = await ok(fixture, ["elements", "export"]);
      const csv = [
        "server,login,password,password_env,daily_reset,timezone,max_daily_loss,trading_hours",
        "S,2,pw-file-2,,17:00,America/New_York,5%,08:00-21:00",
        "S,3,,NO_SUCH_VAR,25:00,Mars/Base,abc,",
        'S,4,"pw, with comma",,,,150%,8-9',
        "S,2,pw-file-2b,,,,,",
        ",abc,pw,,,,,",
        "S,5,,FLEET_PW,,,,",
      ].join("\n");
      await Deno.writeTextFile(`${dir}/fleet.csv`, csv);
      for (const check of [["--check"], []]) {
        const result = await cli(fixture, ["elements", "import", `${dir}/fleet.csv`, ...check], {
          env: { FLEET_PW: "pw-env-5" },
        });
        assert.equal(result.code, 2, result.out);
        const err = result.err;
        assert.match(err, /fleet\.csv:3: password_env names the environment variable NO_SUCH_VAR/);
        assert.match(err, /fleet\.csv:3: daily\.reset \(column daily_reset\) must be a time/);
        assert.match(err, /fleet\.csv:3: daily\.timezone \(column timezone\) must be "server" or/);
        assert.match(err, /fleet\.csv:3: max_daily_loss \(column max_daily_loss\) .*"abc"/);
        assert.match(err, /fleet\.csv:4: max_daily_loss \(column max_daily_loss\) percent/);
        assert.match(err, /fleet\.csv:4: trading_hours\.start \(column trading_hours\) must be/);
        assert.match(err, /fleet\.csv:5: login 2 on S is also on line 2/);
        assert.match(err, /fleet\.csv:6: server \(column server\) is required/);
        assert.match(err, /fleet\.csv:6: login \(column login\) must be a number/);
        assert.doesNotMatch(err, /fleet\.csv:(2|7):/, "good rows are not named");
        assert.match(err, /4 of 6 rows are invalid .*nothing was written/);
        assert.ok(!/pw-file|pw, with|pw-env/.test(result.out + err), "no password is printed");
        assert.equal(await ok(fixture, ["elements", "export"]), before, "nothing was written");
      }

      // The same file without its bad rows: --check writes nothing, the import adds two, a
      // second run adds none.
      const good = csv.split("\n").filter((_, index) => [0, 1, 6].includes(index)).join("\n");
      await Deno.writeTextFile(`${dir}/fleet.csv`, `${good}\nS,1,,,,,,\n`);
      const env = { FLEET_PW: "pw-env-5" };
      const checked = await cli(fixture, ["elements", "import", `${dir}/fleet.csv`, "--check"], {
        env,
      });
      assert.equal(checked.code, 0, checked.err);
      assert.match(checked.out, /line 4: login 1 on S already exists .*skipped/);
      assert.match(checked.out, /3 rows are valid: 2 to add, 1 already exist; nothing was written/);
      assert.equal(await ok(fixture, ["elements", "export"]), before);
      const imported = await ok(fixture, ["elements", "import", `${dir}/fleet.csv`], env);
      assert.match(imported, /Imported 2 elements .*\(1 skipped: already exist\)/);
      const rerun = await ok(fixture, ["elements", "import", `${dir}/fleet.csv`], env);
      assert.match(rerun, /Imported 0 elements .*\(3 skipped: already exist\)/);
      const stored = await fixture.store.listElements();
      const passwords = Object.fromEntries(
        stored.map((parsed) => parsed.valid ? [parsed.element.login, parsed.element.password] : []),
      );
      assert.deepEqual(passwords, { 1: "p", 2: "pw-file-2", 5: "pw-env-5" });
      const two = JSON.parse(await ok(fixture, ["elements", "show", "2"]));
      assert.deepEqual(two.daily, {
        reset: "17:00",
        timezone: "America/New_York",
        baseline: "balance",
      });
      assert.deepEqual(two.trading_hours, { start: "08:00", end: "21:00", timezone: "server" });

      // JSON: the line of every bad document, and the field.
      const json = `[
  {"server": "S", "login": 10, "password": "x", "warn_at": 1.5},
  {"server": "S", "login": 11, "password": "x"},
  {"server": "S", "login": 12, "password": "x", "status": "ACTIVE",
   "max_drawdown": {"limit": "10%", "mode": "sideways"}}
]`;
      await Deno.writeTextFile(`${dir}/fleet.json`, json);
      const bad = await cli(fixture, ["elements", "import", `${dir}/fleet.json`]);
      assert.equal(bad.code, 2);
      assert.match(bad.err, /fleet\.json:2: warn_at must be less than 1, got 1\.5/);
      assert.match(bad.err, /fleet\.json:4: status cannot be imported/);
      assert.match(bad.err, /fleet\.json:4: max_drawdown\.mode must be one of/);
      assert.doesNotMatch(bad.err, /fleet\.json:3:/);
      assert.equal((await fixture.store.listElements()).length, 3, "nothing was written");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
};

function byLogin(a: { login?: unknown }, b: { login?: unknown }): number {
  return Number(a.login) - Number(b.login);
}

async function runScenarios(t: Deno.TestContext, adapter: Adapter): Promise<void> {
  for (const [name, scenario] of Object.entries(scenarios)) {
    await t.step(name, async () => {
      const fixture = await adapter.fresh();
      try {
        await scenario(fixture, adapter);
      } finally {
        await fixture.dispose();
      }
    });
  }
}

Deno.test("elements settings, logins and import/export on SQLite", async (t) => {
  await runScenarios(t, sqliteAdapter());
});

Deno.test("elements settings, logins and import/export on MongoDB", async (t) => {
  const adapter = await mongoAdapter();
  if ("skip" in adapter) {
    console.log(`SKIPPED elements CLI on MongoDB: ${adapter.skip}`);
    return;
  }
  try {
    await runScenarios(t, adapter);
  } finally {
    await adapter.stop();
  }
});

Deno.test("elements add and set --help show every setting's flag with an example", async () => {
  const { FIELD_FLAGS, flagName } = await import("../../src/cli/_element_flags.ts");
  for (const which of ["add", "set"] as const) {
    const ctx = fakeContext();
    assert.equal(await runCli(["elements", which, "--help"], ctx), 0);
    const help = ctx.out.join("");
    for (const flag of FIELD_FLAGS) {
      const name = flagName(flag, which);
      if (flag.kind === "boolean") {
        assert.match(help, new RegExp(`--${name}\\s+\\S`), `${which} --${name}`);
      } else {
        assert.match(help, new RegExp(`--${name} <[^>]+>\\s+[^\\n]*\\(e\\.g\\. --${name} `), name);
      }
    }
    assert.match(help, /--rule <file>/);
    assert.match(help, /--rule-options <json>/);
    assert.match(
      help,
      /percent of the initial balance/,
      "the drawdown help says what the rule does",
    );
    assert.doesNotMatch(help, /high-water mark like/);
  }
});
