/**
 * Starts and stops a MongoDB for the MongoStore tests and benchmarks:
 *
 * - `MONGODB_URI` when set (a real MongoDB; each user picks its own database name);
 * - otherwise mongo-java-server (in-memory, oplog enabled) from `.deps/mongo/`, launched with
 *   `tests/support/mongo/MongoTestServer.java` on a random local port;
 * - otherwise nothing: {@link startMongo} returns a reason to skip. With `CI=true` a missing
 *   server is an error instead, so CI never silently skips the MongoStore suite.
 *
 * @module
 */

const root = new URL("../../", import.meta.url).pathname;
const jarDir = `${root}.deps/mongo`;
const marker = `${jarDir}/mongo-java-server-memory-backend-1.47.0.jar`;
const launcher = `${root}tests/support/mongo/MongoTestServer.java`;

/** A running MongoDB for tests. */
export interface MongoHandle {
  /** Connection string, e.g. `mongodb://127.0.0.1:40123`. */
  uri: string;
  /** "external" when `MONGODB_URI` was used, "mongo-java-server" otherwise. */
  kind: "external" | "mongo-java-server";
  /** Stops the server (no-op for an external one). */
  stop(): Promise<void>;
}

/** The outcome of {@link startMongo}: a server, or why there is none. */
export type MongoStart = { ok: true; server: MongoHandle } | { ok: false; reason: string };

/**
 * Starts a MongoDB for tests, or explains why none is available.
 *
 * @throws {Error} in CI (`CI=true`) when no server can be started.
 */
export async function startMongo(): Promise<MongoStart> {
  const external = Deno.env.get("MONGODB_URI");
  if (external !== undefined && external !== "") {
    return {
      ok: true,
      server: { uri: external, kind: "external", stop: () => Promise.resolve() },
    };
  }
  const reason = await missingReason();
  if (reason !== undefined) {
    if (Deno.env.get("CI") === "true") {
      throw new Error(`MongoStore tests must run in CI but ${reason}`);
    }
    return { ok: false, reason };
  }
  return { ok: true, server: await launchJavaServer() };
}

async function missingReason(): Promise<string | undefined> {
  try {
    await Deno.stat(marker);
  } catch {
    return `mongo-java-server is not installed in ${jarDir} (run \`deno run -A ` +
      "tools/setup_test_deps.ts`) and MONGODB_URI is not set";
  }
  try {
    const out = await new Deno.Command("java", {
      args: ["-version"],
      stdout: "null",
      stderr: "null",
    })
      .output();
    if (!out.success) return "`java -version` failed";
  } catch {
    return "java is not on PATH and MONGODB_URI is not set";
  }
  return undefined;
}

async function launchJavaServer(): Promise<MongoHandle> {
  const child = new Deno.Command("java", {
    args: ["-Xmx256m", "-Xss512k", "-XX:+UseSerialGC", "-cp", `${jarDir}/*`, launcher],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stdin = child.stdin.getWriter();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const stderrText = new Response(child.stderr).text();
  let buffered = "";
  let port: number | undefined;
  try {
    while (port === undefined) {
      const { value, done } = await reader.read();
      if (done) break;
      buffered += value;
      const line = buffered.split("\n")[0];
      if (buffered.includes("\n") && line !== undefined) port = Number(line.trim());
    }
  } finally {
    reader.releaseLock();
  }
  if (port === undefined || !Number.isInteger(port) || port <= 0) {
    await stdin.close().catch(() => {});
    const status = await child.status;
    throw new Error(
      `mongo-java-server did not start (exit ${status.code}): ${(await stderrText).slice(-2000)}`,
    );
  }
  // Keep draining stdout so the child never blocks on a full pipe.
  const drain = child.stdout.pipeTo(new WritableStream()).catch(() => {});
  let stopped: Promise<void> | undefined;
  return {
    uri: `mongodb://127.0.0.1:${port}`,
    kind: "mongo-java-server",
    stop() {
      stopped ??= (async () => {
        await stdin.close().catch(() => {});
        const timer = setTimeout(() => {
          try {
            child.kill("SIGKILL");
          } catch {
            // already gone
          }
        }, 5_000);
        try {
          await child.status;
        } finally {
          clearTimeout(timer);
        }
        await drain;
        await stderrText.catch(() => "");
      })();
      return stopped;
    },
  };
}
