import assert from "node:assert/strict";
import { type CliContext, runCli } from "./mod.ts";

interface Captured {
  ctx: CliContext;
  out: () => string;
  err: () => string;
  prompts: string[];
  reset(): void;
}

function fakeContext(
  env: Record<string, string>,
  secret: string | null = "pw-typed",
): Captured {
  let out = "";
  let err = "";
  const prompts: string[] = [];
  const ctx: CliContext = {
    env,
    stdout: (text) => void (out += text),
    stderr: (text) => void (err += text),
    readSecret: (prompt) => {
      prompts.push(prompt);
      return Promise.resolve(secret ?? undefined);
    },
    stopSignal: new AbortController().signal,
  };
  return {
    ctx,
    out: () => out,
    err: () => err,
    prompts,
    reset() {
      out = "";
      err = "";
    },
  };
}

async function withDb(body: (env: Record<string, string>) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "riskguard-cli-" });
  try {
    await body({
      RISKGUARD_STORE: `sqlite:${dir}/cli.db`,
      RISKGUARD_HOST: "vps-test",
      RISKGUARD_LOG_LEVEL: "error",
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("elements add prompts for the password, never prints it, and list/show/disable/enable/remove work", async () => {
  await withDb(async (env) => {
    const io = fakeContext(env);
    const code = await runCli([
      "elements",
      "add",
      "--server",
      "ICMarkets-Demo",
      "--login",
      "5012345",
      "--max-daily-loss",
      "5%",
      "--max-position-risk",
      "250",
      "--json",
    ], io.ctx);
    assert.equal(code, 0, io.err());
    assert.equal(io.prompts.length, 1);
    assert.match(io.prompts[0]!, /5012345/);
    const added = JSON.parse(io.out());
    assert.equal(added.password, "****");
    assert.equal(added.max_daily_loss, "5%");
    assert.equal(added.max_position_risk, 250);
    assert.ok(!io.out().includes("pw-typed") && !io.err().includes("pw-typed"));
    const id = added._id as string;

    io.reset();
    assert.equal(await runCli(["elements", "list", "--json"], io.ctx), 0, io.err());
    const listed = JSON.parse(io.out());
    assert.deepEqual(listed.map((e: { id: string; status: string }) => [e.id, e.status]), [[
      id,
      "PENDING",
    ]]);

    io.reset();
    assert.equal(await runCli(["elements", "list"], io.ctx), 0);
    assert.match(io.out(), /ICMarkets-Demo/);
    assert.match(io.out(), /loss 5%, risk 250/);

    io.reset();
    assert.equal(await runCli(["elements", "show", id], io.ctx), 0);
    assert.equal(JSON.parse(io.out()).password, "****");
    assert.ok(!io.out().includes("pw-typed"));

    io.reset();
    assert.equal(await runCli(["elements", "disable", id], io.ctx), 0);
    assert.equal(await runCli(["elements", "show", id], io.ctx), 0);
    assert.match(io.out(), /"status": "DISABLED"/);
    io.reset();
    assert.equal(await runCli(["elements", "enable", id], io.ctx), 0);
    assert.equal(await runCli(["elements", "show", id], io.ctx), 0);
    assert.match(io.out(), /"status": "PENDING"/);

    io.reset();
    assert.equal(await runCli(["elements", "remove", id], io.ctx), 0);
    assert.equal(await runCli(["elements", "show", id], io.ctx), 2);
    assert.match(io.err(), /No element with id/);
    assert.equal(await runCli(["elements", "remove", id], io.ctx), 2);
  });
});

Deno.test("elements add refuses bad input with exit code 2 and names the field", async () => {
  await withDb(async (env) => {
    const io = fakeContext(env);
    const bad = ["elements", "add", "--server", "S", "--login", "1", "--password", "p"];
    assert.equal(await runCli([...bad, "--max-daily-loss", "abc%"], io.ctx), 2);
    assert.match(io.err(), /max_daily_loss \(--max-daily-loss\).*abc%/);
    io.reset();
    assert.equal(await runCli([...bad, "--max-profit", "-5"], io.ctx), 2);
    assert.match(io.err(), /max_profit/);
    io.reset();
    assert.equal(
      await runCli(
        ["elements", "add", "--server", "S", "--login", "12ab", "--password", "p"],
        io.ctx,
      ),
      2,
    );
    assert.match(io.err(), /login \(--login\)/);
    io.reset();
    const noTty = fakeContext(env, null);
    assert.equal(await runCli(["elements", "add", "--server", "S", "--login", "1"], noTty.ctx), 2);
    assert.match(noTty.err(), /no terminal to prompt/);
    io.reset();
    assert.equal(await runCli(["elements", "list", "--json"], io.ctx), 0);
    assert.deepEqual(JSON.parse(io.out()), []);
  });
});

Deno.test("elements add encrypts the password when RISKGUARD_SECRET_KEY is set", async () => {
  await withDb(async (env) => {
    const key = btoa(String.fromCharCode(...new Uint8Array(32).fill(3)));
    const io = fakeContext({ ...env, RISKGUARD_SECRET_KEY: key });
    const code = await runCli(
      ["elements", "add", "--server", "S", "--login", "77", "--password", "plain-77"],
      io.ctx,
    );
    assert.equal(code, 0, io.err());
    assert.match(io.out(), /password encrypted/);
    const { openStore, revealPassword } = await import("../store/mod.ts");
    const store = await openStore(env.RISKGUARD_STORE);
    try {
      const [parsed] = await store.listElements();
      assert.ok(parsed?.valid);
      assert.equal(parsed.element.password, undefined);
      assert.ok(parsed.element.password_enc?.startsWith("v1:"));
      assert.equal(await revealPassword(parsed.element, key), "plain-77");
    } finally {
      await store.close();
    }
  });
});

Deno.test("elements set changes limits and name, unsets fields, keeps the drawdown mode", async () => {
  await withDb(async (env) => {
    const io = fakeContext(env);
    const added = [
      "elements",
      "add",
      "--server",
      "S",
      "--login",
      "9001",
      "--password",
      "secret-pw",
      "--max-daily-loss",
      "5%",
      "--max-profit",
      "500",
      "--max-drawdown",
      "10%",
      "--drawdown-mode",
      "trailing_equity",
      "--json",
    ];
    assert.equal(await runCli(added, io.ctx), 0, io.err());
    const id = JSON.parse(io.out())._id as string;

    io.reset();
    const set = ["elements", "set", id];
    const code = await runCli(
      [...set, "--max-daily-loss", "3%", "--max-position-risk", "250", "--name", "main"],
      io.ctx,
    );
    assert.equal(code, 0, io.err());
    assert.equal(
      io.out(),
      `Changed element ${id}: name "main", max_daily_loss 3%, max_position_risk 250\n`,
    );

    io.reset();
    assert.equal(await runCli([...set, "--max-drawdown", "8%"], io.ctx), 0, io.err());
    assert.match(io.out(), /max_drawdown 8% \(trailing_equity\)/, "the current mode is kept");
    io.reset();
    assert.equal(await runCli([...set, "--drawdown-mode", "static"], io.ctx), 0, io.err());
    assert.match(io.out(), /max_drawdown 8% \(static\)/, "the current limit is kept");

    io.reset();
    assert.equal(await runCli([...set, "--unset", "max_profit", "--json"], io.ctx), 0, io.err());
    const shown = JSON.parse(io.out());
    assert.equal(shown.max_profit, undefined);
    assert.equal(shown.max_daily_loss, "3%");
    assert.equal(shown.password, "****");
    assert.ok(!io.out().includes("secret-pw") && !io.err().includes("secret-pw"));

    const { openStore } = await import("../store/mod.ts");
    const store = await openStore(env.RISKGUARD_STORE);
    try {
      const parsed = await store.getElement(id);
      assert.ok(parsed?.valid);
      const element = parsed.element;
      assert.deepEqual(element.max_daily_loss, { kind: "percent", value: 3 });
      assert.deepEqual(element.max_position_risk, { kind: "money", value: 250 });
      assert.equal(element.max_profit, undefined);
      assert.deepEqual(element.max_drawdown, {
        limit: { kind: "percent", value: 8 },
        mode: "static",
      });
      assert.equal(element.name, "main");
      assert.equal(element.password, "secret-pw", "the password is untouched");
    } finally {
      await store.close();
    }

    // A held element says that its risk process applies the change.
    io.reset();
    assert.equal(await runCli(["instances", "add", "--path", "C:/MT5/a"], io.ctx), 0);
    const held = await openStore(env.RISKGUARD_STORE);
    try {
      await held.claimFreeInstance(id, "vps-test", Date.now());
    } finally {
      await held.close();
    }
    io.reset();
    assert.equal(await runCli([...set, "--unset", "name"], io.ctx), 0, io.err());
    assert.match(io.out(), /name removed\nA running risk process \(host vps-test\) applies it/);
  });
});

Deno.test("elements set refuses bad input with exit code 2 naming the flag; nothing is written", async () => {
  await withDb(async (env) => {
    const io = fakeContext(env);
    const add = ["elements", "add", "--server", "S", "--login", "9002", "--password", "p"];
    assert.equal(await runCli([...add, "--max-daily-loss", "5%", "--json"], io.ctx), 0);
    const id = JSON.parse(io.out())._id as string;
    io.reset();
    assert.equal(await runCli(["elements", "show", id], io.ctx), 0);
    const before = io.out();
    const set = ["elements", "set", id];
    const refused: Array<[string[], RegExp]> = [
      [[], /nothing to change/],
      [["--json"], /nothing to change/],
      [["--max-daily-loss", "abc%"], /max_daily_loss \(--max-daily-loss\) .*"abc%"/],
      [["--max-profit", "-5", "--name", "x"], /max_profit \(--max-profit\) .*-5/],
      [["--max-position-risk", "150%"], /max_position_risk \(--max-position-risk\) percent/],
      [
        ["--unset", "status"],
        /status \(--unset status\) cannot be changed by configureElement \(managed by riskguard\)/,
      ],
      [["--unset", "server"], /server \(--unset server\) is required/],
      [["--unset", "trading"], /trading \(--unset trading\) may only be set to "ALLOWED"/],
      [["--unset", "max_proft"], /--unset max_proft: no such element field/],
      [["--max-profit", "100", "--unset", "max_profit"], /--unset max_profit contradicts/],
      [["--drawdown-mode", "static"], /max_drawdown\.limit \(--max-drawdown\) is required/],
      [
        ["--max-drawdown", "5%", "--drawdown-mode", "sideways"],
        /max_drawdown\.mode \(--drawdown-mode\) must be one of/,
      ],
    ];
    for (const [args, message] of refused) {
      io.reset();
      assert.equal(await runCli([...set, ...args], io.ctx), 2, `${args.join(" ")}: ${io.err()}`);
      assert.match(io.err(), message, args.join(" "));
    }
    io.reset();
    assert.equal(await runCli(["elements", "set", "nope", "--name", "x"], io.ctx), 2);
    assert.match(io.err(), /No element with id nope/);
    io.reset();
    assert.equal(await runCli(["elements", "show", id], io.ctx), 0);
    assert.equal(io.out(), before, "no refused change was written");
  });
});

Deno.test("elements unlock sets trading ALLOWED, clears the lock and says what it did", async () => {
  await withDb(async (env) => {
    const { openStore } = await import("../store/mod.ts");
    const store = await openStore(env.RISKGUARD_STORE);
    try {
      const added = await store.insertElement({ server: "S", login: 9003, password: "p" });
      assert.ok(added.ok);
      const id = added.element.id;
      await store.addInstance({ path: "C:/MT5/x", host: "vps-test" });
      const lease = await store.claimFreeInstance(id, "vps-test", Date.now());
      await store.updateElement(lease, {
        trading: "LOCKED_DAY",
        lock_reason: "max daily loss",
        locked_until: Date.now() + 3_600_000,
      }, Date.now());
      const io = fakeContext(env);
      assert.equal(await runCli(["elements", "unlock", id], io.ctx), 0, io.err());
      assert.match(
        io.out(),
        new RegExp(`^Unlocked element ${id}: trading ALLOWED \\(was LOCKED_DAY: max daily loss\\)`),
      );
      assert.match(io.out(), /risk process lifts its lock/);
      assert.match(io.out(), /a breach still in force locks the account again/);
      const parsed = await store.getElement(id);
      assert.ok(parsed?.valid);
      assert.equal(parsed.element.trading, "ALLOWED");
      assert.equal(parsed.element.lock_reason, null);
      assert.equal(parsed.element.locked_until, null);
      assert.equal(parsed.element.lease, lease.lease, "the manager keeps its lease");
      assert.equal(parsed.element.status, "ACTIVE");

      io.reset();
      assert.equal(await runCli(["elements", "unlock", id], io.ctx), 0, io.err());
      assert.match(io.out(), /is not locked \(trading ALLOWED\); nothing to unlock/);
      io.reset();
      assert.equal(await runCli(["elements", "unlock", "nope"], io.ctx), 2);
      assert.match(io.err(), /No element with id nope/);
    } finally {
      await store.close();
    }
  });
});

Deno.test("instances add allocates ports per host; list and remove work", async () => {
  await withDb(async (env) => {
    const io = fakeContext(env);
    assert.equal(await runCli(["instances", "add", "--path", "C:/MT5/a", "--json"], io.ctx), 0);
    const a = JSON.parse(io.out());
    assert.deepEqual([a.host, a.port, a.status], ["vps-test", 15000, "FREE"]);
    io.reset();
    assert.equal(await runCli(["instances", "add", "--path", "C:/MT5/b"], io.ctx), 0);
    assert.match(io.out(), /ports 15002-15003/);
    io.reset();
    assert.equal(
      await runCli(["instances", "add", "--path", "C:/MT5/c", "--port", "15003"], io.ctx),
      2,
    );
    assert.match(io.err(), /overlaps/);
    io.reset();
    assert.equal(
      await runCli(["instances", "add", "--path", "C:/MT5/c", "--port", "80"], io.ctx),
      2,
    );
    io.reset();
    const other = fakeContext({ ...env, RISKGUARD_HOST: "vps-2" });
    assert.equal(await runCli(["instances", "add", "--path", "C:/MT5/a", "--json"], other.ctx), 0);
    assert.equal(JSON.parse(other.out()).port, 15000, "ports are per host");
    assert.equal(await runCli(["instances", "list", "--json"], io.ctx), 0);
    assert.equal(JSON.parse(io.out()).length, 3);
    io.reset();
    assert.equal(await runCli(["instances", "list", "--this-host"], io.ctx), 0);
    assert.match(io.out(), /C:\/MT5\/b/);
    assert.ok(!io.out().includes("vps-2"));
    io.reset();
    assert.equal(await runCli(["instances", "remove", a._id], io.ctx), 0);
    assert.equal(await runCli(["instances", "remove", a._id], io.ctx), 2);
  });
});

Deno.test("status shows a row per element with instance, trading and metrics; --json for scripts", async () => {
  await withDb(async (env) => {
    const { openStore } = await import("../store/mod.ts");
    const store = await openStore(env.RISKGUARD_STORE);
    try {
      const added = await store.insertElement({
        name: "main",
        server: "S",
        login: 1,
        password: "p",
      });
      assert.ok(added.ok);
      const instance = await store.addInstance({ path: "C:/MT5/x", host: "vps-test" });
      const lease = await store.claimFreeInstance(added.element.id, "vps-test", Date.now());
      await store.ping(lease, Date.now());
      await store.updateElement(lease, {
        trading: "LOCKED_DAY",
        lock_reason: "max daily loss",
        metrics: {
          balance: 10_000,
          equity: 9_512.5,
          daily_pl: -487.5,
          positions: 0,
          orders: 0,
          updated_at: Date.now(),
        },
      }, Date.now());
      const io = fakeContext(env);
      assert.equal(await runCli(["status", "--json"], io.ctx), 0, io.err());
      const [row] = JSON.parse(io.out());
      assert.equal(row.login, 1);
      assert.equal(row.status, "ACTIVE");
      assert.equal(row.trading, "LOCKED_DAY");
      assert.equal(row.instance_path, instance.path);
      assert.equal(row.host, "vps-test");
      assert.equal(row.equity, 9_512.5);
      assert.equal(row.daily_pl, -487.5);
      assert.equal(typeof row.last_ping_age_s, "number");
      io.reset();
      assert.equal(await runCli(["status"], io.ctx), 0);
      const lines = io.out().trimEnd().split("\n");
      assert.match(
        lines[0]!,
        /^element\s+login\s+server\s+status\s+trading\s+instance\s+host\s+last ping\s+equity\s+daily P\/L$/,
      );
      assert.match(
        lines[2]!,
        /main .*LOCKED_DAY \(max daily loss\).*C:\/MT5\/x.*vps-test.*9512\.50\s+-487\.50$/,
      );
    } finally {
      await store.close();
    }
  });
});

Deno.test("status helpers: ping ages and tables", async () => {
  const { formatAge, renderTable } = await import("./status.ts");
  assert.deepEqual([null, 5, 125, 7260, 90_000].map(formatAge), [
    "-",
    "5s",
    "2m05s",
    "2h01m",
    "1d01h",
  ]);
  assert.equal(
    renderTable(["a", "num"], [["xy", "1"], ["z", "100"]], [false, true]),
    "a   num\n--  ---\nxy    1\nz   100\n",
  );
});

Deno.test("elements set --password prompts when given no value; import encrypts with the key", async () => {
  await withDb(async (env) => {
    const key = btoa(String.fromCharCode(...new Uint8Array(32).fill(5)));
    const io = fakeContext({ ...env, RISKGUARD_SECRET_KEY: key }, "typed-new");
    const add = ["elements", "add", "--server", "S", "--login", "31", "--password", "old-pw"];
    assert.equal(await runCli(add, io.ctx), 0, io.err());
    io.reset();
    assert.equal(await runCli(["elements", "set", "31", "--password"], io.ctx), 0, io.err());
    assert.match(io.out(), /password changed/);
    assert.match(io.prompts.at(-1)!, /New password for login 31 on S/);
    io.reset();
    assert.equal(
      await runCli(["elements", "set", "31", "--password-env", "NOT_SET_ANYWHERE"], io.ctx),
      2,
    );
    assert.match(io.err(), /no environment variable NOT_SET_ANYWHERE is set/);

    const dir = await Deno.makeTempDir();
    try {
      await Deno.writeTextFile(
        `${dir}/f.json`,
        '[{"server": "S", "login": 32, "password_env": "PW_32"}]',
      );
      const withPw = fakeContext({ ...env, RISKGUARD_SECRET_KEY: key, PW_32: "env-pw-32" });
      assert.equal(await runCli(["elements", "import", `${dir}/f.json`], withPw.ctx), 0);
      assert.ok(!(withPw.out() + withPw.err()).includes("env-pw-32"));
    } finally {
      await Deno.remove(dir, { recursive: true });
    }

    const { openStore, revealPassword } = await import("../store/mod.ts");
    const store = await openStore(env.RISKGUARD_STORE);
    try {
      const stored = await store.listElements();
      const byLogin = new Map(stored.map((p) => [p.valid ? p.element.login : 0, p]));
      const first = byLogin.get(31);
      const second = byLogin.get(32);
      assert.ok(first?.valid && second?.valid);
      assert.equal(first.element.password, undefined);
      assert.equal(await revealPassword(first.element, key), "typed-new");
      assert.equal(second.element.password, undefined, "imported passwords are encrypted");
      assert.equal(await revealPassword(second.element, key), "env-pw-32");
    } finally {
      await store.close();
    }
  });
});
