import assert from "node:assert/strict";
import { ConfigError } from "./errors.ts";
import { loadConfigLazily, resolveConfig } from "./config.ts";
import { loadConfig } from "./config_file.ts";

Deno.test("config: defaults apply when nothing is given", () => {
  const config = loadConfig({ env: {} });
  assert.equal(config.store, "sqlite:riskguard.db");
  assert.equal(config.db, "riskguard");
  assert.equal(config.log_level, "info");
  assert.equal(config.log_file, undefined);
  assert.equal(config.stale_after_s, 300);
  assert.ok(config.host.length > 0);
});

Deno.test("config: flags beat environment, environment beats file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const file = `${dir}/riskguard.jsonc`;
    await Deno.writeTextFile(
      file,
      `{
        // comments and trailing commas are allowed
        "db": "from_file",
        "host": "file-host",
        "log_level": "debug",
      }`,
    );
    const config = loadConfig({
      flags: { db: "from_flag" },
      env: { RISKGUARD_HOST: "env-host" },
      configFile: file,
    });
    assert.equal(config.db, "from_flag");
    assert.equal(config.host, "env-host");
    assert.equal(config.log_level, "debug");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("config: MONGODB_URI is an alias of RISKGUARD_STORE, which wins", () => {
  assert.equal(
    loadConfig({ env: { MONGODB_URI: "mongodb://a/b" } }).store,
    "mongodb://a/b",
  );
  assert.equal(
    loadConfig({ env: { MONGODB_URI: "mongodb://a/b", RISKGUARD_STORE: "sqlite:x.db" } }).store,
    "sqlite:x.db",
  );
});

Deno.test("config: RISKGUARD_CONFIG names the config file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/c.jsonc`, `{"db": "viaenv"}`);
    assert.equal(loadConfig({ env: { RISKGUARD_CONFIG: `${dir}/c.jsonc` } }).db, "viaenv");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

const invalidCases: Array<
  { name: string; inputs: Parameters<typeof loadConfig>[0]; message: RegExp }
> = [
  {
    name: "log level from a flag",
    inputs: { flags: { log_level: "loud" } },
    message:
      /^Invalid value for --log-level: "loud"; allowed: trace, debug, info, warning, error, fatal$/,
  },
  {
    name: "log level from the environment",
    inputs: { env: { RISKGUARD_LOG_LEVEL: "verbose" } },
    message: /RISKGUARD_LOG_LEVEL: "verbose"; allowed: trace/,
  },
  {
    name: "database name",
    inputs: { flags: { db: "bad name!" } },
    message: /--db: "bad name!"; expected letters, digits/,
  },
  {
    name: "stale-after below its minimum",
    inputs: { env: { RISKGUARD_STALE_AFTER_S: "3" } },
    message: /RISKGUARD_STALE_AFTER_S: "3"; expected/,
  },
  {
    name: "webhook that is not a URL",
    inputs: { flags: { webhook_url: "ftp://x" } },
    message: /--webhook-url: "ftp:\/\/x"/,
  },
];

for (const { name, inputs, message } of invalidCases) {
  Deno.test(`config: invalid ${name} is a ConfigError naming the source`, () => {
    assert.throws(() => loadConfig(inputs), (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.equal(error.exitCode, 2);
      assert.match(error.message, message);
      return true;
    });
  });
}

Deno.test("config: secrets are masked in errors", () => {
  assert.throws(
    () => loadConfig({ flags: { webhook_url: "https://user:hunter2@" } }),
    (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.doesNotMatch(error.message, /hunter2/);
      return true;
    },
  );
});

Deno.test("config: unknown keys and unreadable files in the config file are errors", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/c.jsonc`, `{"dbb": "x"}`);
    assert.throws(() => loadConfig({ configFile: `${dir}/c.jsonc` }), /Unknown key "dbb"/);
    await Deno.writeTextFile(`${dir}/broken.jsonc`, `{"db": `);
    assert.throws(
      () => loadConfig({ configFile: `${dir}/broken.jsonc` }),
      /Cannot parse config file/,
    );
    assert.throws(
      () => loadConfig({ configFile: `${dir}/missing.jsonc` }),
      /Cannot read config file/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("config: resolveConfig takes the file already read; a file named but not read is a bug", () => {
  const file = { path: "/etc/riskguard.jsonc", values: { db: "from_file", stale_after_s: 600 } };
  const config = resolveConfig({ configFile: file.path, env: { RISKGUARD_HOST: "h" } }, file);
  assert.equal(config.db, "from_file");
  assert.equal(config.stale_after_s, 600);
  assert.equal(config.host, "h");
  assert.throws(
    () => resolveConfig({ env: { RISKGUARD_CONFIG: file.path } }),
    /the config file \/etc\/riskguard.jsonc must be read first/,
  );
});

Deno.test("config: loadConfigLazily reads a named file, and needs none", async () => {
  assert.equal((await loadConfigLazily({ flags: { db: "flagged" } })).db, "flagged");
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/c.jsonc`, `{"db": "lazy", /* comment */}`);
    const config = await loadConfigLazily({ env: { RISKGUARD_CONFIG: `${dir}/c.jsonc` } });
    assert.equal(config.db, "lazy");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("config: values of the wrong type or length say what is expected", () => {
  const cases: Array<[Parameters<typeof resolveConfig>[1], RegExp]> = [
    [{ path: "f", values: { store: 5 } }, /^Invalid value for "store" in f: 5; expected a string$/],
    [{ path: "f", values: { host: "" } }, /"host" in f: ""; expected at least 1 character$/],
    [{ path: "f", values: { stale_after_s: "soon" } }, /: "soon"; expected a number$/],
    [
      { path: "f", values: { stale_after_s: 1e20 } },
      /: 100000000000000000000; expected at most 86400$/,
    ],
    [{ path: "f", values: { ping_interval_s: 2.5 } }, /: 2.5; expected a whole number$/],
    [{ path: "f", values: { secret_key: 5 } }, /"secret_key" in f: \*{4}; expected a string$/],
  ];
  for (const [file, message] of cases) {
    assert.throws(() => resolveConfig({ configFile: "f" }, file), (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.match(error.message, message);
      return true;
    });
  }
  const trimmed = resolveConfig({ flags: { webhook_url: " https://hooks.example/x " } });
  assert.equal(trimmed.webhook_url, "https://hooks.example/x");
});
