import assert from "node:assert/strict";
import { accountLogger, logger, setupLogging, shutdownLogging } from "./logging.ts";
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
