/**
 * The release smoke suite: runs riskguard as a user would and checks what they would check.
 * The release workflow runs it on Windows against the built exe
 * (`deno run -A tools/smoke.ts --exe dist/riskguard.exe`); the test suite runs the same file here
 * against `deno run -A main.ts` (`tests/smoke_test.ts`), so its assertions are tested before they
 * ever reach Windows.
 *
 * Steps, each printed as `smoke: ok <step>` or `smoke: FAILED <step>: <why>` (exit 1):
 * 1. `--version` prints the version and the commit;
 * 2. `rules check rules.example.ts`: a plugin loaded from disk;
 * 3. on a fresh SQLite store: `elements add` + `instances add --path sim:losing_day` +
 *    `--mode admin`, until the account is locked (at most `--lock-within` seconds);
 * 4. Ctrl+C (SIGINT; on Windows a console CTRL_C event) stops admin with exit 0 and no child
 *    of it is left running;
 * 5. `dashboard` answers on loopback.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { freePortPair } from "../src/shared/net.ts";

const root = new URL("..", import.meta.url).pathname.replace(/^\/([A-Za-z]:)/, "$1");
const { values } = parseArgs({
  args: Deno.args,
  options: {
    exe: { type: "string" },
    "lock-within": { type: "string", default: "60" },
  },
});
const program = values.exe === undefined
  ? [Deno.execPath(), "run", "-A", `${root}main.ts`]
  : [values.exe];
const lockWithinMs = Number(values["lock-within"]) * 1_000;
const work = await Deno.makeTempDir({ prefix: "riskguard-smoke-" });
const env = {
  RISKGUARD_STORE: `sqlite:${work}/smoke.db`,
  RISKGUARD_HOST: "smoke",
  NO_COLOR: "1",
};
let failed = false;

/** Runs riskguard with `args` to the end; returns its exit code and output. */
async function riskguard(
  args: string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  const output = await new Deno.Command(program[0]!, {
    args: [...program.slice(1), ...args],
    cwd: root,
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

/** Runs one step; a thrown error fails it (and the suite) with its message. */
async function step(name: string, body: () => Promise<void>): Promise<void> {
  if (failed) return;
  const started = performance.now();
  try {
    await body();
    console.log(`smoke: ok ${name} (${((performance.now() - started) / 1000).toFixed(1)} s)`);
  } catch (error) {
    failed = true;
    console.log(`smoke: FAILED ${name}: ${(error as Error).message}`);
  }
}

function expect(condition: boolean, why: string): void {
  if (!condition) throw new Error(why);
}

async function waitFor<T>(
  what: string,
  timeoutMs: number,
  probe: () => Promise<T | undefined>,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await probe();
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  throw new Error(`${what}: not within ${timeoutMs / 1000} s`);
}

/**
 * Sends Ctrl+C to `pid` as a console does. Unix: SIGINT. Windows has no signals to send: attach
 * to the process's console and raise a CTRL_C event there (this process ignores it meanwhile).
 */
function interrupt(pid: number): void {
  if (Deno.build.os !== "windows") {
    Deno.kill(pid, "SIGINT");
    return;
  }
  const kernel32 = Deno.dlopen("kernel32.dll", {
    FreeConsole: { parameters: [], result: "i32" },
    AttachConsole: { parameters: ["u32"], result: "i32" },
    SetConsoleCtrlHandler: { parameters: ["pointer", "i32"], result: "i32" },
    GenerateConsoleCtrlEvent: { parameters: ["u32", "u32"], result: "i32" },
  });
  // This process shares the console: it must not end on the event it raises.
  Deno.addSignalListener("SIGINT", () => {});
  try {
    kernel32.symbols.FreeConsole();
    expect(kernel32.symbols.AttachConsole(pid) !== 0, `cannot attach to the console of ${pid}`);
    kernel32.symbols.SetConsoleCtrlHandler(null, 1);
    expect(kernel32.symbols.GenerateConsoleCtrlEvent(0, 0) !== 0, "cannot raise CTRL_C");
  } finally {
    kernel32.close();
  }
}

/** Copies a child's output into a file as it comes (a failed step leaves the log to read). */
async function drainTo(stream: ReadableStream<Uint8Array>, file: Deno.FsFile): Promise<void> {
  try {
    for await (const chunk of stream) {
      for (let written = 0; written < chunk.length;) {
        written += file.writeSync(chunk.subarray(written));
      }
    }
  } catch {
    // The child is gone: what it wrote is in the file.
  } finally {
    file.close();
  }
}

/** Command lines of running processes that contain `text` (this process excluded). */
async function processesMentioning(text: string): Promise<string[]> {
  if (Deno.build.os === "windows") {
    const output = await new Deno.Command("powershell", {
      args: [
        "-NoProfile",
        "-Command",
        'Get-CimInstance Win32_Process | ForEach-Object { "$($_.ProcessId) $($_.CommandLine)" }',
      ],
      stdout: "piped",
    }).output();
    return new TextDecoder().decode(output.stdout).split(/\r?\n/)
      .filter((line) => line.includes(text) && !line.startsWith(`${Deno.pid} `));
  }
  const found: string[] = [];
  for await (const entry of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(entry.name) || Number(entry.name) === Deno.pid) continue;
    const cmdline = await Deno.readTextFile(`/proc/${entry.name}/cmdline`).catch(() => "");
    if (cmdline.includes(text)) found.push(`${entry.name} ${cmdline.replaceAll("\0", " ")}`);
  }
  return found;
}

let admin: Deno.ChildProcess | undefined;
let adminExited = false;
try {
  await step("--version prints the version and the commit", async () => {
    const result = await riskguard(["--version"]);
    expect(result.code === 0, `exit ${result.code}: ${result.stderr}`);
    expect(
      /^\d+\.\d+\.\d+ \(commit (dev|[0-9a-f]{12})\)$/.test(result.stdout.trim()),
      `unexpected output: ${result.stdout}`,
    );
  });

  await step("rules check loads rules.example.ts from disk", async () => {
    const result = await riskguard(["rules", "check", "rules.example.ts", "--hours", "1"]);
    expect(result.code === 0, `exit ${result.code}: ${result.stderr}${result.stdout}`);
  });

  let elementId = "";
  await step("elements add + instances add on a fresh SQLite store", async () => {
    const added = await riskguard([
      "elements",
      "add",
      "--server",
      "Smoke-Demo",
      "--login",
      "5000001",
      "--password",
      "smoke-password",
      "--max-daily-loss",
      "3%",
      "--json",
    ]);
    expect(added.code === 0, `elements add: exit ${added.code}: ${added.stderr}`);
    elementId = JSON.parse(added.stdout)._id;
    // A free port pair: the default 15000 may be taken by another terminal or test on this machine.
    const port = String(freePortPair());
    const instance = await riskguard([
      "instances",
      "add",
      "--path",
      "sim:losing_day",
      "--port",
      port,
    ]);
    expect(instance.code === 0, `instances add: exit ${instance.code}: ${instance.stderr}`);
  });

  const adminLog = `${work}/admin.log`;
  await step("--mode admin guards the account until it is locked", async () => {
    const out = await Deno.open(`${work}/admin.out`, { write: true, create: true });
    const log = await Deno.open(adminLog, { write: true, create: true });
    admin = new Deno.Command(program[0]!, {
      args: [...program.slice(1), "--mode", "admin"],
      cwd: root,
      env,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    void drainTo(admin.stdout, out);
    void drainTo(admin.stderr, log);
    const trading = await waitFor("the account locked", lockWithinMs, async () => {
      const shown = await riskguard(["status", "--json"]);
      if (shown.code !== 0) return undefined;
      const rows = JSON.parse(shown.stdout) as { id: string; trading: string | null }[];
      const trading = rows.find((row) => row.id === elementId)?.trading;
      return trading === "ALLOWED" || trading === undefined ? undefined : String(trading);
    });
    expect(trading === "LOCKED_DAY", `trading is ${trading}, expected LOCKED_DAY`);
  });

  await step("Ctrl+C stops admin (exit 0) and every child", async () => {
    expect(admin !== undefined, "admin did not start");
    expect((await processesMentioning(elementId)).length > 0, "no risk child was running");
    interrupt(admin!.pid);
    const timeout = new Promise<"timeout">((resolve) =>
      setTimeout(() => resolve("timeout"), 30_000)
    );
    const status = await Promise.race([admin!.status, timeout]);
    adminExited = status !== "timeout";
    if (status === "timeout") {
      admin!.kill("SIGKILL");
      throw new Error("admin did not stop within 30 s");
    }
    expect(status.code === 0, `admin exited with ${status.code}; log: ${adminLog}`);
    const left = await waitFor("children gone", 10_000, async () => {
      const running = await processesMentioning(elementId);
      return running.length === 0 ? running : undefined;
    }).catch(async () => await processesMentioning(elementId));
    expect(left.length === 0, `still running: ${left.join("; ")}`);
  });

  await step("dashboard answers on loopback", async () => {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (listener.addr as Deno.NetAddr).port;
    listener.close();
    const dashboard = new Deno.Command(program[0]!, {
      args: [...program.slice(1), "dashboard", "--listen", `127.0.0.1:${port}`],
      cwd: root,
      env,
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    try {
      const html = await waitFor("the fleet page", 30_000, async () => {
        const response = await fetch(`http://127.0.0.1:${port}/`).catch(() => undefined);
        if (response === undefined) return undefined;
        const text = await response.text();
        return response.status === 200 ? text : undefined;
      });
      expect(html.includes("5000001"), "the fleet page does not show the account");
      expect(!html.includes("smoke-password"), "the fleet page shows the password");
    } finally {
      try {
        dashboard.kill("SIGKILL");
      } catch {
        // it has exited (and the probe above says why the step failed)
      }
      await dashboard.status;
      await dashboard.stderr.cancel().catch(() => {});
    }
  });
} finally {
  // Nothing of the suite outlives it, whatever failed: admin is asked to stop its children
  // first, and killed if it does not.
  if (admin !== undefined && !adminExited) {
    try {
      interrupt(admin.pid);
      const timeout = new Promise((resolve) => setTimeout(resolve, 15_000));
      await Promise.race([admin.status, timeout]);
      admin.kill("SIGKILL");
    } catch {
      // it has exited
    }
  }
  // A failed run keeps its store and admin log for the person reading the failure.
  if (failed) console.log(`smoke: kept ${work} (store and admin.log)`);
  else await Deno.remove(work, { recursive: true }).catch(() => {});
}
console.log(failed ? "smoke: FAILED" : "smoke: all steps passed");
Deno.exit(failed ? 1 : 0);
