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
 * Protocol, one message per line. In (stdin, host -> plugin): the type, a space and a JSON body:
 * `load {url, options}`, then per snapshot either `evaluate {seq, version, context}` (the whole
 * rule context) or `evaluate {seq, version, base, delta}` (what changed since the context of
 * version `base`, which this process was sent last; the format is in `_context_delta.ts`).
 * `version` numbers the contexts the host sends; the process keeps the last one it has. The host
 * sends the whole context to a new process, after an error or restart, to a process that skipped
 * a snapshot, and when the delta would not be smaller.
 * This process reads the `load` line, starts the Worker, and leaves stdin and stdout to it: the
 * Worker reads the `evaluate` lines and writes its replies itself, so a snapshot crosses no
 * thread inside this process (each hop costs a wake-up, which on a busy machine is most of the
 * round trip).
 * Out (stdout, one JSON object per line): `{type: "loaded", id, description, options}`,
 * `{type: "load_error", message, stack}`, `{type: "result", seq, actions}`,
 * `{type: "error", seq, message, stack}` (the plugin threw), `{type: "resync", seq, message}` (a
 * delta from another version than the one held, or one that does not fit it: nothing was
 * evaluated, nothing is kept, and the host answers with the whole context for the same `seq`).
 * Anything the plugin prints goes to stderr, never to the protocol.
 *
 * Started as `deno run --unstable-worker-options --allow-read <this file>` in development and
 * as `riskguard rules serve-plugin` inside the compiled executable.
 *
 * @module
 */
import { dirname, parse } from "node:path";
import { fileURLToPath } from "node:url";

interface LoadMessage {
  url: string;
  options: unknown;
}

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

/**
 * Reads stdin up to the first newline with plain reads (no stream that could read ahead and
 * keep bytes the Worker needs). Returns the line and any bytes after it; undefined at the end.
 */
async function readFirstLine(): Promise<{ line: string; rest: Uint8Array } | undefined> {
  const chunks: Uint8Array[] = [];
  const buffer = new Uint8Array(16 * 1024);
  for (;;) {
    const count = await Deno.stdin.read(buffer);
    if (count === null) return undefined;
    const chunk = buffer.slice(0, count);
    const newline = chunk.indexOf(10);
    if (newline < 0) {
      chunks.push(chunk);
      continue;
    }
    chunks.push(chunk.subarray(0, newline));
    const line = new TextDecoder().decode(concat(chunks));
    return { line, rest: chunk.slice(newline + 1) };
  }
}

function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((sum, chunk) => sum + chunk.length, 0));
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
}

/** Reads stdin to its end, so that this process lives until the host closes it. */
async function drainStdin(): Promise<void> {
  for await (const _ of Deno.stdin.readable) {
    // Nothing to serve.
  }
}

/**
 * Serves one plugin until stdin ends: reads the `load` line, starts the sandbox Worker, and
 * leaves the rest of stdin and stdout to the Worker.
 */
export async function servePlugin(): Promise<void> {
  narrowPermissions();
  const first = await readFirstLine();
  if (first === undefined) return;
  const space = first.line.indexOf(" ");
  if (first.line.slice(0, space) !== "load") {
    send({
      type: "load_error",
      message: `expected a load message, got: ${first.line.slice(0, 40)}`,
    });
    return await drainStdin();
  }
  const message = JSON.parse(first.line.slice(space + 1)) as LoadMessage;
  let worker: Worker;
  try {
    worker = startSandbox(message.url);
  } catch (error) {
    send({
      type: "load_error",
      message: `cannot start the plugin sandbox: ${(error as Error).message}`,
    });
    return await drainStdin();
  }
  worker.onerror = (event) => {
    // An error outside load/evaluate (e.g. a timer the plugin started threw): report it and
    // exit, so the host treats it as a crash.
    event.preventDefault();
    writeAll(Deno.stderr, `plugin error: ${event.message}\n`);
    Deno.exit(1);
  };
  // The Worker says when stdin has ended; until then this call does not return (the compiled
  // executable's command line exits when it does).
  const done = new Promise<void>((resolve) => {
    worker.onmessage = () => resolve();
  });
  worker.postMessage({
    type: "load",
    url: message.url,
    options: message.options,
    rest: first.rest,
  });
  await done;
  worker.terminate();
}

if (import.meta.main) await servePlugin();
