import assert from "node:assert/strict";
import { VERSION } from "../shared/version.ts";
import { runCli } from "./mod.ts";
import { fakeContext } from "../../tests/support/fake_cli.ts";
import { runModeOnly } from "./mode_only.ts";

const COMMANDS = [
  [],
  ["status"],
  ["elements"],
  ["elements", "add"],
  ["elements", "list"],
  ["elements", "show"],
  ["elements", "set"],
  ["elements", "unlock"],
  ["elements", "enable"],
  ["elements", "disable"],
  ["elements", "remove"],
  ["instances"],
  ["instances", "add"],
  ["instances", "list"],
  ["instances", "remove"],
  ["rules"],
  ["rules", "check"],
  ["sim"],
  ["demo"],
];

for (const path of COMMANDS) {
  Deno.test(`cli: riskguard ${[...path, "--help"].join(" ")} prints its own help`, async () => {
    const ctx = fakeContext();
    const code = await runCli([...path, "--help"], ctx);
    assert.equal(code, 0);
    const text = ctx.out.join("");
    assert.match(text, new RegExp(`^Usage: riskguard${path.map((p) => ` ${p}`).join("")}\\b`));
    assert.match(text, /-h, --help/);
  });
}

Deno.test("cli: --version prints the version and the commit", async () => {
  const ctx = fakeContext();
  assert.equal(await runCli(["--version"], ctx), 0);
  assert.match(ctx.out.join(""), /^\d+\.\d+\.\d+ \(commit (dev|[0-9a-f]{12})\)\n$/);
});

Deno.test("cli: the version is the one in deno.json", async () => {
  const config = JSON.parse(await Deno.readTextFile(new URL("../../deno.json", import.meta.url)));
  assert.equal(VERSION, config.version);
});

const BAD_INPUTS: Array<{ argv: string[]; message: RegExp }> = [
  { argv: ["--bogus"], message: /unknown option '--bogus'/ },
  {
    argv: ["--mode", "turbo"],
    message: /argument 'turbo' is invalid. Allowed choices are admin, risk/,
  },
  { argv: ["--mode", "risk"], message: /--mode risk needs --element_id <id>/ },
  {
    argv: ["--mode", "admin", "--pathway", "x"],
    message: /--pathway is only valid with --mode risk/,
  },
  { argv: [], message: /Missing --mode or a command/ },
  {
    argv: ["--mode", "risk", "--element_id", "a1", "--log-level", "loud"],
    message: /Invalid value for --log-level: "loud"; allowed: trace, debug/,
  },
  { argv: ["elements", "frobnicate"], message: /unknown command 'frobnicate'/ },
  { argv: ["statu"], message: /Unknown command 'statu' \(did you mean status\?\)/ },
  {
    argv: ["--mode", "admin", "--element_id", "a1"],
    message: /--element_id is only valid with --mode risk/,
  },
  { argv: ["--mode", "admin", "--dry-run"], message: /--dry-run is only valid with --mode risk/ },
  {
    argv: ["--mode", "risk", "--element_id", "a1", "--rules", "a.ts", "b.ts"],
    message: /Unexpected argument 'b.ts' with --mode risk: .*repeat --rules for each plugin file/,
  },
  {
    argv: ["--mode", "admin", "--rules", "mine.ts"],
    message: /--rules is only valid with --mode risk/,
  },
  {
    argv: ["--mode", "risk", "--element_id", "a1", "--store", "mongodb:/h/x"],
    message: /--store: "mongodb:\/h\/x"; expected mongodb:\/\//,
  },
  {
    argv: ["--mode", "risk", "--element_id", "a1", "--ping-interval", "200"],
    message: /--ping-interval: 200; expected at most a third of --stale-after \(300\)/,
  },
  { argv: ["sim", "--port", "5"], message: /required option '--scenario <name>' not specified/ },
];

for (const { argv, message } of BAD_INPUTS) {
  Deno.test(`cli: riskguard ${argv.join(" ") || "(nothing)"} exits 2 with a clear message`, async () => {
    const ctx = fakeContext();
    const code = await runCli(argv, ctx);
    assert.equal(code, 2);
    assert.match(ctx.err.join(""), message);
  });
}

Deno.test("cli: a MONGODB_URI that is no MongoDB URI exits 2 instead of opening a file", async () => {
  const ctx = fakeContext({ MONGODB_URI: "garbage" });
  assert.equal(await runCli(["status"], ctx), 2);
  assert.match(ctx.err.join(""), /Invalid value for MONGODB_URI: "garbage"/);
});

Deno.test("cli: a log file that cannot be written exits 2 naming the setting", async () => {
  const ctx = fakeContext({ RISKGUARD_LOG_FILE: "/nonexistent-dir/riskguard.log" });
  assert.equal(await runCli(["--mode", "risk", "--element_id", "a1"], ctx), 2);
  assert.match(ctx.err.join(""), /Cannot write the log file .*RISKGUARD_LOG_FILE/);
});

Deno.test("cli: an invalid environment variable exits 2 naming the variable", async () => {
  const ctx = fakeContext({ RISKGUARD_LOG_LEVEL: "chatty" });
  const code = await runCli(["--mode", "risk", "--element_id", "a1"], ctx);
  assert.equal(code, 2);
  assert.match(ctx.err.join(""), /RISKGUARD_LOG_LEVEL: "chatty"/);
});

Deno.test("cli: a store URI with a password is masked in error output", async () => {
  const ctx = fakeContext({ MONGODB_URI: "mongodb://u:pa55word@127.0.0.1:1/x" });
  const code = await runCli(["--mode", "risk", "--element_id", "a1", "--db", "bad name"], ctx);
  assert.equal(code, 2);
  assert.doesNotMatch(ctx.err.join(""), /pa55word/);
});

Deno.test("cli: a command beside --mode is the full command line's (elements list --mode admin lists)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "riskguard-mode-only-" });
  try {
    const ctx = fakeContext();
    const argv = ["elements", "list", "--mode", "admin", "--store", `sqlite:${dir}/s.db`];
    assert.equal(await runModeOnly(argv, ctx), 0, ctx.err.join(""));
    assert.match(ctx.out.join(""), /No elements/);
    assert.doesNotMatch(ctx.err.join(""), /Unknown command/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
