import assert from "node:assert/strict";
import type { ChildProcess } from "../shared/process.ts";
import {
  encodeUtf16le,
  launchTerminal,
  parseSimPath,
  renderPreset,
  renderStartupIni,
  TERMINAL_PID_FILE,
  type TerminalEvent,
  writeStartupFiles,
} from "./terminal.ts";

/** Test-local UTF-16LE encoder, written independently of the one under test. */
function utf16(text: string): number[] {
  const out: number[] = [];
  for (const ch of text) {
    const code = ch.codePointAt(0)!;
    if (code > 0xffff) {
      const v = code - 0x10000;
      const hi = 0xd800 + (v >> 10);
      const lo = 0xdc00 + (v & 0x3ff);
      out.push(hi & 0xff, hi >> 8, lo & 0xff, lo >> 8);
    } else {
      out.push(code & 0xff, code >> 8);
    }
  }
  return out;
}

const EXPECTED_INI = "[Common]\r\n" +
  "Login=51234567\r\n" +
  "Password=pässw€rd\r\n" +
  "Server=MetaQuotes-Demo\r\n" +
  "\r\n" +
  "[Experts]\r\n" +
  "AllowLiveTrading=1\r\n" +
  "AllowDllImport=1\r\n" +
  "Enabled=1\r\n" +
  "Account=0\r\n" +
  "Profile=0\r\n" +
  "\r\n" +
  "[StartUp]\r\n" +
  "Expert=RiskGuardBridge\r\n" +
  "ExpertParameters=riskguard-5555.set\r\n" +
  "Symbol=EURUSD\r\n" +
  "Period=M1\r\n";

const INI_CONFIG = {
  login: 51234567,
  password: "pässw€rd",
  server: "MetaQuotes-Demo",
  presetName: "riskguard-5555.set",
};

Deno.test("startup ini: text, CRLF line ends", () => {
  assert.equal(renderStartupIni(INI_CONFIG), EXPECTED_INI);
});

Deno.test("startup ini: UTF-16LE bytes with BOM, byte for byte", () => {
  const bytes = encodeUtf16le(renderStartupIni(INI_CONFIG));
  // BOM, then "[Common]\r\n" spelled out by hand.
  assert.deepEqual([...bytes.subarray(0, 22)], [
    0xff,
    0xfe,
    0x5b,
    0x00,
    0x43,
    0x00,
    0x6f,
    0x00,
    0x6d,
    0x00,
    0x6d,
    0x00,
    0x6f,
    0x00,
    0x6e,
    0x00,
    0x5d,
    0x00,
    0x0d,
    0x00,
    0x0a,
    0x00,
  ]);
  // "ä" is U+00E4 and "€" U+20AC: one UTF-16 unit each, low byte first.
  const password = utf16("Password=p");
  const start = 2 + utf16("[Common]\r\nLogin=51234567\r\n").length;
  assert.deepEqual([...bytes.subarray(start, start + password.length + 10)], [
    ...password,
    0xe4,
    0x00,
    0x73,
    0x00,
    0x73,
    0x00,
    0x77,
    0x00,
    0xac,
    0x20,
  ]);
  assert.deepEqual([...bytes], [0xff, 0xfe, ...utf16(EXPECTED_INI)]);
});

Deno.test("startup ini: a line break in the password is refused", () => {
  assert.throws(() => renderStartupIni({ ...INI_CONFIG, password: "a\r\nServer=evil" }), {
    name: "TerminalError",
  });
});

Deno.test("preset: UCS-2 LE with BOM, byte for byte", () => {
  const text = renderPreset({ port: 5555, token: "tok-EN_123" });
  const expected =
    "; riskguard bridge inputs, written per launch and deleted after the EA connects\r\n" +
    "InpPort=5555\r\n" +
    "InpToken=tok-EN_123\r\n" +
    "InpTimerMs=250\r\n" +
    "InpHeartbeatMs=1000\r\n";
  assert.equal(text, expected);
  const bytes = encodeUtf16le(text);
  assert.deepEqual([...bytes.subarray(0, 4)], [0xff, 0xfe, 0x3b, 0x00]);
  assert.deepEqual([...bytes], [0xff, 0xfe, ...utf16(expected)]);
  assert.equal(bytes.length, 2 + expected.length * 2);
});

Deno.test("preset: a token that is not printable ASCII is refused", () => {
  assert.throws(() => renderPreset({ port: 1, token: "a b" }), { name: "TerminalError" });
});

Deno.test("encodeUtf16le: surrogate pairs and no BOM", () => {
  assert.deepEqual([...encodeUtf16le("😀", false)], [0x3d, 0xd8, 0x00, 0xde]);
});

Deno.test("parseSimPath", () => {
  assert.equal(parseSimPath("sim:gap"), "gap");
  assert.equal(parseSimPath("C:\\MT5\\inst1"), undefined);
  assert.throws(() => parseSimPath("sim:nope"), { name: "TerminalError" });
});

Deno.test("writeStartupFiles: ini in the folder, preset in MQL5/Presets", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const files = await writeStartupFiles(dir, INI_CONFIG, { port: 5555, token: "t0k" });
    assert.ok(files.ini.endsWith("riskguard-startup.ini"));
    assert.ok(files.preset.replaceAll("\\", "/").endsWith("MQL5/Presets/riskguard-5555.set"));
    assert.deepEqual([...await Deno.readFile(files.ini)], [0xff, 0xfe, ...utf16(EXPECTED_INI)]);
    const preset = await Deno.readFile(files.preset);
    assert.equal(
      new TextDecoder("utf-16le").decode(preset.subarray(2)).includes("InpToken=t0k"),
      true,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

class FakeProcess implements ChildProcess {
  static nextPid = 100;
  readonly pid = FakeProcess.nextPid++;
  readonly exited: Promise<number>;
  readonly stdin = null;
  readonly stdout = null;
  readonly stderr = null;
  exit!: (code: number) => void;
  killed = false;
  constructor(readonly args: string[]) {
    this.exited = new Promise((resolve) => this.exit = resolve);
  }
  kill(): void {
    this.killed = true;
    this.exit(1);
  }
}

Deno.test("launchTerminal: starts terminal64.exe /portable /config, removes secrets after hello", async () => {
  const dir = await Deno.makeTempDir();
  const spawned: FakeProcess[] = [];
  const events: TerminalEvent[] = [];
  try {
    const handle = await launchTerminal({
      path: dir,
      login: 1,
      password: "secret",
      server: "S",
      port: 6000,
      token: "tok",
      onEvent: (event) => events.push(event),
      spawn: ({ path: program, args }) => {
        assert.ok(program.endsWith("terminal64.exe"));
        const p = new FakeProcess(args);
        spawned.push(p);
        return p;
      },
    });
    assert.equal(handle.kind, "mt5");
    assert.equal(spawned.length, 1);
    assert.equal(spawned[0]!.args[0], "/portable");
    const ini = spawned[0]!.args[1]!.replace("/config:", "");
    await Deno.stat(ini);
    await handle.helloReceived();
    await assert.rejects(() => Deno.stat(ini), Deno.errors.NotFound);
    const entries = [...Deno.readDirSync(`${dir}/MQL5/Presets`)];
    assert.deepEqual(entries, []);
    assert.ok(events.some((e) => e.type === "files_removed"));
    await handle.stop();
    assert.equal(spawned[0]!.killed, true);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("launchTerminal: a dying terminal is restarted with the files written again", async () => {
  const dir = await Deno.makeTempDir();
  const spawned: FakeProcess[] = [];
  const events: TerminalEvent[] = [];
  let restarted!: () => void;
  const second = new Promise<void>((resolve) => restarted = resolve);
  try {
    const handle = await launchTerminal({
      path: dir,
      login: 1,
      password: "secret",
      server: "S",
      port: 6002,
      token: "tok",
      restartDelayMs: 1,
      onEvent: (event) => events.push(event),
      spawn: ({ args }) => {
        const p = new FakeProcess(args);
        spawned.push(p);
        if (spawned.length === 2) restarted();
        return p;
      },
    });
    await handle.helloReceived();
    spawned[0]!.exit(3);
    await second;
    const ini = spawned[1]!.args[1]!.replace("/config:", "");
    await Deno.stat(ini); // written again for the new process
    const exited = events.find((e) => e.type === "exited");
    assert.deepEqual(exited, { type: "exited", code: 3, restartInMs: 1 });
    assert.equal(handle.pid, spawned[1]!.pid);
    await handle.stop();
    await handle.done;
    await assert.rejects(() => Deno.stat(ini), Deno.errors.NotFound);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("launchTerminal: a missing terminal64.exe is a TERMINAL error", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await assert.rejects(
      () =>
        launchTerminal({ path: dir, login: 1, password: "p", server: "s", port: 1, token: "t" }),
      (error: Error & { code?: string }) =>
        error.code === "TERMINAL" && !error.message.includes("p\n"),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("launchTerminal: a spawn failure is a TERMINAL error and leaves no secret files", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await assert.rejects(
      () =>
        launchTerminal({
          path: dir,
          login: 1,
          password: "hunter2",
          server: "s",
          port: 7000,
          token: "tok",
          spawn: () => {
            throw new Error("exec format error");
          },
        }),
      (error: Error & { code?: string }) =>
        error.code === "TERMINAL" && !error.message.includes("hunter2"),
    );
    await assert.rejects(() => Deno.stat(`${dir}/riskguard-startup.ini`), Deno.errors.NotFound);
    assert.deepEqual([...Deno.readDirSync(`${dir}/MQL5/Presets`)], []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("launchTerminal: a terminal left by an earlier run is ended before starting", async () => {
  const dir = await Deno.makeTempDir();
  const alive = new Set([4242]);
  const killed: number[] = [];
  try {
    // An earlier risk process died; its terminal (pid 4242) still runs with the old token.
    await Deno.writeTextFile(`${dir}/${TERMINAL_PID_FILE}`, "4242\n");
    const handle = await launchTerminal({
      path: dir,
      login: 1,
      password: "secret",
      server: "S",
      port: 6000,
      token: "new-token",
      spawn: ({ args }) => new FakeProcess(args),
      isTerminalProcess: (pid) => Promise.resolve(alive.has(pid)),
      killProcess: (pid) => {
        killed.push(pid);
        alive.delete(pid);
      },
    });
    assert.deepEqual(killed, [4242]);
    // The new terminal's pid is recorded for the next run, and removed on a clean stop.
    const recorded = (await Deno.readTextFile(`${dir}/${TERMINAL_PID_FILE}`)).trim();
    assert.equal(recorded, String(handle.pid));
    await handle.stop();
    await assert.rejects(() => Deno.stat(`${dir}/${TERMINAL_PID_FILE}`), Deno.errors.NotFound);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("launchTerminal: a recorded pid that is no terminal any more is left alone", async () => {
  const dir = await Deno.makeTempDir();
  const killed: number[] = [];
  try {
    await Deno.writeTextFile(`${dir}/${TERMINAL_PID_FILE}`, "4242");
    const handle = await launchTerminal({
      path: dir,
      login: 1,
      password: "secret",
      server: "S",
      port: 6000,
      token: "t",
      spawn: ({ args }) => new FakeProcess(args),
      isTerminalProcess: () => Promise.resolve(false), // pid reused by another program
      killProcess: (pid) => killed.push(pid),
    });
    assert.deepEqual(killed, []);
    await handle.stop();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("launchTerminal: the instance's chart symbol goes into the startup ini", async () => {
  const dir = await Deno.makeTempDir();
  try {
    let ini = "";
    const handle = await launchTerminal({
      path: dir,
      login: 1,
      password: "secret",
      server: "S",
      port: 6000,
      token: "t",
      symbol: "EURUSD.m",
      spawn: ({ args }) => {
        ini = args[1]!.replace("/config:", "");
        return new FakeProcess(args);
      },
    });
    const text = new TextDecoder("utf-16le").decode(await Deno.readFile(ini));
    assert.match(text, /\r\nSymbol=EURUSD\.m\r\n/);
    await handle.stop();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("startup ini: a line break in the symbol is refused", () => {
  assert.throws(
    () =>
      renderStartupIni({
        login: 1,
        password: "p",
        server: "S",
        presetName: "x.set",
        symbol: "EURUSD\r\n[Experts]",
      }),
    /symbol contains a line break/,
  );
});
