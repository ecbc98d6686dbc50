/**
 * `riskguard dashboard` as its own process for the dashboard tests: started with `deno run`
 * on the worktree's `main.ts`, on a free port, resolved once it prints its URL.
 *
 * @module
 */

const MAIN = new URL("../../main.ts", import.meta.url).pathname;

/** A running dashboard process. */
export interface DashboardProcess {
  /** Its URL, e.g. `http://127.0.0.1:43127/`. */
  url: string;
  /** The process. */
  child: Deno.ChildProcess;
  /** Everything it wrote to stdout and stderr so far. */
  output(): string;
  /** Asks it to stop (SIGTERM, a graceful stop) and waits for its exit status. */
  stop(): Promise<Deno.CommandStatus>;
}

/** Options of {@link startDashboardProcess}. */
export interface DashboardProcessOptions {
  /** More command-line arguments (`--log-file`, `--log-level`, ...). */
  args?: string[];
  /** More environment variables (`RISKGUARD_DASHBOARD_TOKEN`). */
  env?: Record<string, string>;
}

/** Starts `riskguard dashboard --store <spec>` on a free loopback port. */
export async function startDashboardProcess(
  spec: string,
  options: DashboardProcessOptions = {},
): Promise<DashboardProcess> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      MAIN,
      "dashboard",
      "--listen",
      "127.0.0.1:0",
      "--store",
      spec,
      ...(options.args ?? ["--log-level", "warning"]),
    ],
    env: { NO_COLOR: "1", ...options.env },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let text = "";
  // Both pipes are drained for the life of the process, so it never blocks on a full pipe.
  const drain = (stream: ReadableStream<Uint8Array>) =>
    (async () => {
      for await (const chunk of stream.pipeThrough(new TextDecoderStream())) text += chunk;
    })().catch(() => {});
  const drained = Promise.all([drain(child.stdout), drain(child.stderr)]);
  const stop = async () => {
    try {
      child.kill("SIGTERM");
    } catch {
      // already gone
    }
    const status = await child.status;
    await drained;
    return status;
  };
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const match = /riskguard dashboard: (http:\/\/\S+)/.exec(text);
    if (match !== null) return { url: match[1]!, child, output: () => text, stop };
    const exited = await Promise.race([
      child.status.then(() => true),
      new Promise<false>((resolve) => setTimeout(() => resolve(false), 50)),
    ]);
    if (exited) break;
  }
  await stop();
  throw new Error(`the dashboard did not start: ${text}`);
}
