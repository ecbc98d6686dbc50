/**
 * The plugin process: one per plugin, so that the host can kill a plugin that never returns
 * (Deno 2.9 cannot stop a Worker stuck in a JavaScript loop: `terminate()` leaves the thread
 * spinning, denoland/deno#35657; killing the process ends it).
 *
 * The plugin itself runs in a sandbox Worker (`_plugin_worker.ts`) inside this process:
 * 1. this process first revokes its own network, environment, subprocess, write, FFI, system
 *    and import permissions (`Deno.permissions.revokeSync`), which holds in `deno run` and in
 *    the compiled executable alike (there `deno compile -A` gave it every permission);
 * 2. the Worker gets `deno.permissions` with read access to the plugin's folder only. Deno
 *    2.9.6 accepts Worker permissions only with `--unstable-worker-options` (verified): the
 *    development command passes it and `deno.json` (`"unstable": ["worker-options"]`) bakes it
 *    into the compiled executable. Without it the plugin is not loaded (fail closed), it never
 *    runs with this process's permissions.
 *
 * Protocol: one JSON object per line on stdin (host -> plugin) and stdout (plugin -> host).
 * In: `{type: "load", url, options}`, `{type: "evaluate", seq, context}`.
 * Out: `{type: "loaded", id, description, options}`, `{type: "load_error", message, stack}`,
 * `{type: "result", seq, actions}`, `{type: "error", seq, message, stack}`.
 * Anything the plugin prints goes to stderr, never to the protocol.
 *
 * Started as `deno run --unstable-worker-options --allow-read <this file>` in development and
 * as `riskguard rules serve-plugin` inside the compiled executable.
 *
 * @module
 */
import { dirname, parse } from "node:path";
import { fileURLToPath } from "node:url";

type Inbound =
  | { type: "load"; url: string; options: unknown }
  | { type: "evaluate"; seq: number; context: unknown };

const encoder = new TextEncoder();

/**
 * What this process gives up before any plugin code runs. `import` (remote modules) is a
 * permission in Deno 2.9 although its type declarations do not list it yet.
 */
const REVOKED: readonly string[] = [
  "net",
  "env",
  "run",
  "write",
  "ffi",
  "sys",
  "import",
];

function writeAll(stream: typeof Deno.stdout, text: string): void {
  const bytes = encoder.encode(text);
  let written = 0;
  while (written < bytes.length) written += stream.writeSync(bytes.subarray(written));
}

function send(message: unknown): void {
  writeAll(Deno.stdout, JSON.stringify(message) + "\n");
}

/** Gives up every permission a plugin process does not need (it keeps read for the Worker). */
function narrowPermissions(): void {
  for (const name of REVOKED) Deno.permissions.revokeSync({ name } as Deno.PermissionDescriptor);
}

/** The folder a plugin may read: the one its file is in; refused when that is a root. */
export function pluginFolder(url: string): string {
  const file = fileURLToPath(url);
  const folder = dirname(file);
  if (parse(folder).root === folder || parse(folder).root === `${folder}/`) {
    throw new Error(
      `a plugin must be in a folder of its own, not at the root ${folder}: it may read its folder`,
    );
  }
  return folder;
}

/** Starts the sandbox Worker for the plugin at `url`. */
function startSandbox(url: string): Worker {
  if (!url.startsWith("file:")) throw new Error(`a plugin is loaded from a file: URL, got ${url}`);
  const folder = pluginFolder(url);
  const none = false as const;
  return new Worker(new URL("./_plugin_worker.ts", import.meta.url), {
    type: "module",
    // @ts-ignore Worker `deno` options need --unstable-worker-options (see the module doc)
    deno: {
      permissions: {
        read: [folder],
        net: none,
        env: none,
        run: none,
        write: none,
        ffi: none,
        sys: none,
        import: none,
      },
    },
  });
}

/** Serves one plugin over stdin/stdout until stdin ends. */
export async function servePlugin(): Promise<void> {
  narrowPermissions();
  let worker: Worker | undefined;

  const load = (message: Extract<Inbound, { type: "load" }>) => {
    try {
      worker = startSandbox(message.url);
    } catch (error) {
      send({
        type: "load_error",
        message: `cannot start the plugin sandbox: ${(error as Error).message}`,
      });
      return;
    }
    worker.onmessage = (event: MessageEvent<{ type: string; line?: string }>) => {
      if (event.data.type === "log") writeAll(Deno.stderr, `${event.data.line}\n`);
      else send(event.data);
    };
    worker.onerror = (event) => {
      // An error outside load/evaluate (e.g. a timer the plugin started threw): report it and
      // exit, so the host treats it as a crash.
      event.preventDefault();
      writeAll(Deno.stderr, `plugin error: ${event.message}\n`);
      Deno.exit(1);
    };
    worker.postMessage(message);
  };

  let buffer = "";
  for await (const chunk of Deno.stdin.readable.pipeThrough(new TextDecoderStream())) {
    buffer += chunk;
    let newline: number;
    while ((newline = buffer.indexOf("\n")) >= 0) {
      const line = buffer.slice(0, newline);
      buffer = buffer.slice(newline + 1);
      if (line.trim() === "") continue;
      const message = JSON.parse(line) as Inbound;
      if (message.type === "load") load(message);
      else if (worker !== undefined) worker.postMessage(message);
      else send({ type: "error", seq: message.seq, message: "plugin not loaded" });
    }
  }
  worker?.terminate();
}

if (import.meta.main) await servePlugin();
