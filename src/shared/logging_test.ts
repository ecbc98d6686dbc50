import assert from "node:assert/strict";
import {
  accountLogger,
  collectLogs,
  logExitReason,
  logger,
  setupLogging,
  shutdownLogging,
} from "./logging.ts";
import { loadConfig } from "./config_file.ts";

const PASSWORD = "Hunter2/very@secret";
const TOKEN = "tok-3f9a0c1e77";

Deno.test("logging: secrets from config and elements never reach console or file", async () => {
  const dir = await Deno.makeTempDir();
  const file = `${dir}/riskguard.jsonl`;
  const lines: string[] = [];
  try {
    const config = loadConfig({
      flags: { store: `mongodb+srv://trader:${PASSWORD}@cluster0.example.net/riskguard` },
    });
    await setupLogging({ level: "debug", file, writeConsole: (line) => lines.push(line) });
    const element = {
      _id: "acc-1",
      login: 5012345,
      server: "Broker-Demo",
      password: PASSWORD,
      max_daily_loss: "5%",
    };
    const log = accountLogger("acc-1", "risk");
    log.info("loaded element {element}", { element });
    log.info("store is {store}", { store: config.store });
    log.debug("bridge token {token} issued", { token: TOKEN });
    log.warn(`raw message with ${config.store}`);
    logger("admin").error("launch failed", { args: ["--password", PASSWORD], secret_key: "k" });
    logger("store").error("store failed: {error}", {
      error: new Error(`cannot reach ${config.store}`),
    });
    await shutdownLogging();

    const fileText = await Deno.readTextFile(file);
    if (Deno.build.os !== "windows") {
      assert.equal((await Deno.stat(file)).mode! & 0o777, 0o600, "the log file is private");
    }
    const consoleText = lines.join("");
    for (const [name, text] of [["console", consoleText], ["file", fileText]] as const) {
      assert.ok(text.length > 0, `${name} output is empty`);
      assert.doesNotMatch(text, new RegExp(PASSWORD), `${name} leaks the password`);
      assert.doesNotMatch(text, new RegExp(TOKEN), `${name} leaks the token`);
      assert.match(text, /trader:\*\*\*\*@cluster0/, `${name} keeps the URI without password`);
    }
    // An error keeps its (masked) text in the file instead of turning into `{}`.
    assert.match(fileText, /cannot reach mongodb\+srv:\/\/trader:\*\*\*\*@cluster0/);
    // Every record of the account carries its element id.
    const records = fileText.trim().split("\n").map((line) => JSON.parse(line));
    const accountRecords = records.filter((r) => r.logger === "riskguard.risk");
    assert.equal(accountRecords.length, 4);
    for (const record of accountRecords) assert.equal(record.properties.element_id, "acc-1");
    assert.match(consoleText, /INF risk \[acc-1\] loaded element/);
  } finally {
    await shutdownLogging();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("logging: records below the configured level are dropped", async () => {
  const lines: string[] = [];
  try {
    await setupLogging({ level: "warning", writeConsole: (line) => lines.push(line) });
    logger("x").info("not shown");
    logger("x").warn("shown");
  } finally {
    await shutdownLogging();
  }
  assert.equal(lines.length, 1);
  assert.match(lines[0]!, /WRN x shown/);
});

Deno.test("logging: console lines keep their format: template, account, other properties", async () => {
  const lines: string[] = [];
  try {
    await setupLogging({ level: "trace", writeConsole: (line) => lines.push(line) });
    const log = accountLogger("acc-7", "risk", "engine");
    log.info("equity {equity} under {limit}", { equity: 9480, limit: 500, rule: "daily_loss" });
    log.error("store failed: {error}", { error: new Error("timed out"), attempt: 3 });
    logger("mt5").trace("{{literal}} and { spaced } and {", { spaced: 5, data: { a: [1] } });
    logger("admin").with({ element_id: "e2", login: 123 }).warn("{line}", { line: "x" });
  } finally {
    await shutdownLogging();
  }
  const time = /^\d\d:\d\d:\d\d\.\d{3} /;
  assert.ok(lines.every((line) => time.test(line) && line.endsWith("\n")), lines.join(""));
  assert.deepEqual(lines.map((line) => line.replace(time, "")), [
    "INF risk.engine [acc-7] equity 9480 under 500 rule=daily_loss\n",
    "ERR risk.engine [acc-7] store failed: timed out attempt=3\n",
    'TRC mt5 {literal} and 5 and { data={"a":[1]}\n',
    "WRN admin [e2] x login=123\n",
  ]);
});

Deno.test("logging: file lines are JSON with time, level, message, logger and properties", async () => {
  const dir = await Deno.makeTempDir();
  const file = `${dir}/riskguard.jsonl`;
  try {
    await setupLogging({ level: "info", file, writeConsole: () => {} });
    accountLogger("acc-7", "risk").warn("lost {count} ticks: {error}", {
      count: 2n,
      error: new TypeError("bad tick"),
    });
    logger("x").debug("below the level");
    logExitReason(2, "bad flag");
  } finally {
    await shutdownLogging();
  }
  const records = (await Deno.readTextFile(file)).trim().split("\n").map((line) =>
    JSON.parse(line)
  );
  await Deno.remove(dir, { recursive: true });
  assert.equal(records.length, 2);
  const [warning, exit] = records;
  assert.match(warning["@timestamp"], /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  assert.equal(warning.level, "WARN");
  assert.equal(warning.message, "lost 2 ticks: bad tick");
  assert.equal(warning.logger, "riskguard.risk");
  assert.equal(warning.properties.element_id, "acc-7");
  assert.equal(warning.properties.count, "2");
  assert.equal(warning.properties.error.name, "TypeError");
  assert.equal(warning.properties.error.message, "bad tick");
  assert.match(warning.properties.error.stack, /TypeError: bad tick\n\s+at /);
  assert.deepEqual(
    [exit.level, exit.message, exit.logger, exit.properties],
    ["FATAL", "exit 2: bad flag", "riskguard-exit", { code: 2, message: "bad flag" }],
  );
});

Deno.test("logging: a collector gets redacted records of its category, across setups", async () => {
  const collector = collectLogs({ category: ["risk"], level: "info" });
  try {
    logger("risk").info("token {token} for {uri}", {
      token: TOKEN,
      uri: `mongodb://u:${PASSWORD}@h/db`,
    });
    await setupLogging({ level: "fatal", writeConsole: () => {} });
    logger("risk", "bridge").warn("still collected");
    logger("risk").debug("below the collector's level");
    logger("admin").warn("another category");
    await shutdownLogging();
    collector.stop();
    logger("risk").error("after stop");
  } finally {
    collector.stop();
    await shutdownLogging();
  }
  assert.deepEqual(collector.records.map((record) => record.rawMessage), [
    "token {token} for {uri}",
    "still collected",
  ]);
  assert.deepEqual(collector.records[0]!.properties, {
    token: "****",
    uri: "mongodb://u:****@h/db",
  });
  assert.deepEqual(collector.records[1]!.category, ["riskguard", "risk", "bridge"]);
});

Deno.test({
  name: "logging: a log file that cannot be written never throws into the caller, and says so once",
  ignore: Deno.build.os !== "linux",
  fn: async () => {
    const lines: string[] = [];
    try {
      // Every write to /dev/full fails with "no space left on device".
      await setupLogging({ level: "info", file: "/dev/full", writeConsole: (l) => lines.push(l) });
      for (let index = 0; index < 3; index++) logger("risk").info("line {index}", { index });
    } finally {
      await shutdownLogging();
    }
    const failures = lines.filter((line) => line.includes("cannot write the log file"));
    assert.equal(failures.length, 1, lines.join(""));
    assert.match(failures[0]!, / ERR logging cannot write the log file: .*space/i);
    assert.equal(lines.filter((line) => / INF risk line \d/.test(line)).length, 3);
  },
});

Deno.test("logging: the module loads no npm package (a risk child must load none)", async () => {
  const root = new URL("../../", import.meta.url);
  const output = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--no-npm",
      "--quiet",
      "--config",
      new URL("deno.json", root).pathname,
      new URL("./logging.ts", import.meta.url).pathname,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(output.stderr);
  assert.equal(output.code, 0, `with --no-npm: ${stderr}`);
  assert.equal(stderr, "");
});

Deno.test("logging: a value that throws while it is redacted drops its record, never the caller", () => {
  const collector = collectLogs();
  try {
    const broken = {
      get boom(): never {
        throw new Error("getter");
      },
    };
    logger("x").info("broken {value}", { value: broken });
    logger("x").info("fine");
  } finally {
    collector.stop();
  }
  assert.deepEqual(collector.records.map((record) => record.rawMessage), ["fine"]);
});

Deno.test("logging: secrets inside class instances, URLs and toJSON values reach neither console nor file", async () => {
  const dir = await Deno.makeTempDir();
  const file = `${dir}/riskguard.jsonl`;
  const lines: string[] = [];
  const secrets = [
    "UrlPass61",
    "ClassPass62",
    "ClassTok63",
    "JsonPass64",
    "UriPass65",
    "CyclePass66",
  ];
  class Account {
    login = 5012345;
    password = secrets[1];
    session = { deeper: { token: secrets[2] } };
    store = `mongodb://trader:${secrets[4]}@db.example.net/riskguard`;
  }
  class Cyclic {
    self = this;
    toString(): string {
      return `mongodb://trader:${secrets[5]}@db.example.net/riskguard`;
    }
  }
  const withToJson = {
    toJSON: () => ({ user: "trader", nested: [{ password: secrets[3] }], args: ["--token", "x1"] }),
  };
  try {
    await setupLogging({ level: "info", file, writeConsole: (line) => lines.push(line) });
    const log = logger("risk");
    log.info("store {url}", { url: new URL(`mongodb://trader:${secrets[0]}@db.example.net/rg`) });
    log.info("account {account}", { account: new Account(), extra: new Account() });
    log.info("options {options}", { options: withToJson, more: [withToJson] });
    log.info("uri {uri}", { uri: `mongodb://trader:${secrets[4]}@db.example.net/rg` });
    log.info("cyclic {value}", { value: new Cyclic() });
  } finally {
    await shutdownLogging();
  }
  const fileText = await Deno.readTextFile(file);
  await Deno.remove(dir, { recursive: true });
  const consoleText = lines.join("");
  for (const [name, text] of [["console", consoleText], ["file", fileText]] as const) {
    assert.equal(text.trim().split("\n").length, 5, `${name}: one line per record\n${text}`);
    for (const secret of [...secrets, "x1"]) {
      assert.ok(!text.includes(secret), `${name} leaks ${secret}:\n${text}`);
    }
    // What is not secret stays readable.
    assert.match(text, /trader:\*\*\*\*@db\.example\.net/, name);
    assert.match(text, /5012345/, name);
  }
});
