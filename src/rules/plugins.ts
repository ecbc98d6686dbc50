/**
 * The plugin loader and host. Each plugin (`rules: [{module, options}]` on an element, or
 * `--rules <file>`) runs in its own child process that imports the plugin from its absolute
 * `file:` URL, so it works from any folder and inside a `deno compile` executable (where the
 * child is the executable itself, `riskguard rules serve-plugin`).
 *
 * Why processes and not Workers: in Deno 2.9 `Worker.terminate()` does not stop a worker
 * stuck in a JavaScript loop (the thread keeps spinning a core, and the process cannot exit:
 * denoland/deno#35657, also with `node:worker_threads`). A process can always be killed.
 *
 * Isolation model:
 * - a plugin that fails to load (missing file, syntax error, bad shape, invalid options, top
 *   level that never finishes) is reported with file, line and message and stays out; the
 *   built-ins are not affected because they never run here;
 * - a plugin that throws in `evaluate`, or returns invalid actions, is reported per snapshot
 *   and counted; its valid actions are kept;
 * - a plugin that does not answer within the deadline (default 50 ms) is killed and
 *   restarted; that snapshot's actions from it are skipped and the timeout is counted; after
 *   `maxFailures` timeouts or crashes in a row it is suspended with exponential backoff;
 * - a plugin still busy with an earlier snapshot is skipped for the new one.
 *
 * - a plugin that throws in `evaluate` is treated like one that hangs: after `maxFailures`
 *   failures in a row it is suspended with the same backoff, so it cannot flood the audit trail.
 *
 * What a plugin can reach: its process gives up network, environment, subprocess, write, FFI,
 * system and import permissions before loading it, and the plugin runs in a Worker that may
 * read its own folder and nothing else (see `_plugin_process.ts`), under `deno run` and in
 * the compiled executable alike.
 *
 * @module
 */
import { dirname, isAbsolute, relative, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { exponentialBackoff } from "../shared/backoff.ts";
import type { Clock } from "../shared/clock.ts";
import { childEnv } from "../shared/process.ts";
import { forEachLine } from "../shared/lines.ts";
import { type CommandLine, selfCommand } from "../shared/self_command.ts";
import { systemClock } from "../shared/clock.ts";
import { type Action, checkActions, type RuleContext, type RuleError } from "./rule.ts";
import { BUILTIN_RULE_IDS } from "./builtin/mod.ts";
import { ContextFeed, type ContextMessage, type ContextRound } from "./_context_feed.ts";
import { logger } from "../shared/logging.ts";

/** One plugin to load. */
export interface PluginSpec {
  /** Path of the plugin file (relative to the host's `baseDir`), or a `file:` URL. */
  module: string;
  /** Raw options, checked by the plugin's `parseOptions`. */
  options?: unknown;
}

/** A plugin that did not load. */
export interface PluginLoadError {
  /** The module as configured. */
  module: string;
  /** Absolute path of the file. */
  file: string;
  /** 1-based line of the problem, when known. */
  line?: number;
  /** 1-based column of the problem, when known. */
  column?: number;
  /** What went wrong. */
  message: string;
}

/** The per-snapshot deadline of a plugin when none is given: the one the risk process uses. */
export const DEFAULT_PLUGIN_DEADLINE_MS = 50;

/** Options of {@link PluginHost.start}. */
export interface PluginHostOptions {
  /** Folder relative plugin paths are resolved against; default the working directory. */
  baseDir?: string;
  /** Per-snapshot deadline of each plugin in ms; default 50. */
  deadlineMs?: number;
  /** Time a plugin may take to load in ms; default 5000. */
  loadTimeoutMs?: number;
  /** Timeouts or crashes in a row after which a plugin is suspended; default 3. */
  maxFailures?: number;
  /** First suspension in ms, doubled on each further failure; default 1000. */
  backoffMs?: number;
  /** Longest suspension in ms; default 60000. */
  maxBackoffMs?: number;
  /** Time source for suspensions (its monotonic reading); default the system clock. */
  clock?: Clock;
  /** How to start a plugin process; default {@link defaultPluginCommand}. */
  command?: PluginCommand;
  /**
   * Files and folders a plugin must never be able to read (the store file, the log file, the
   * terminal folder): a plugin whose folder holds one of them is refused, because a plugin may
   * read everything in its own folder.
   */
  protectedPaths?: readonly ProtectedPath[];
}

/** A file or folder no plugin may share a folder with. */
export interface ProtectedPath {
  /** Absolute, or relative to the working directory. */
  path: string;
  /** What it is, for the refusal ("the store file"). */
  what: string;
}

/** Counters and state of one plugin. */
export interface PluginStatus {
  /** The module as configured. */
  module: string;
  /** Absolute path of the file. */
  file: string;
  /** The rule's id once loaded. */
  id?: string;
  /** Current state. */
  state: "loading" | "ready" | "restarting" | "suspended" | "failed" | "closed";
  /** Evaluations that returned. */
  evaluations: number;
  /** Evaluations that threw or returned invalid actions. */
  errors: number;
  /** Evaluations that missed the deadline. */
  timeouts: number;
  /** Plugin process crashes (exited on its own, or killed for an answer line too long). */
  crashes: number;
  /** Answer lines over {@link MAX_REPLY_CHARS} (the process was killed for each). */
  oversized: number;
  /** Restarts that did not load (reported, retried with backoff). */
  reloadFailures: number;
  /** Plugin process restarts. */
  restarts: number;
  /** Snapshots skipped (busy, restarting, suspended). */
  skipped: number;
  /** Snapshots sent as a delta from the context the process held (the others went whole). */
  deltas: number;
  /** Deltas the process could not apply (answered `resync`: sent the whole context again). */
  resyncs: number;
}

/** What the plugins said about one snapshot. */
export interface PluginOutcome {
  /** Valid actions from every plugin that answered in time (stamped with its id, unmerged). */
  actions: Action[];
  /** Per-plugin failures for this snapshot. */
  errors: RuleError[];
  /** Plugins that were not asked (loading, restarting, suspended, failed, busy, closed). */
  skipped: { rule: string; reason: string }[];
}

/** Turns a configured module into the absolute `file:` URL it is imported from. */
export function resolvePluginUrl(module: string, baseDir: string = Deno.cwd()): URL {
  if (module.startsWith("file:")) return new URL(module);
  return pathToFileURL(isAbsolute(module) ? module : resolve(baseDir, module));
}

/** Finds `url:line:column` in an error's message or stack. */
export function locateError(
  text: string,
  url: URL,
): { line: number; column: number } | undefined {
  const escaped = url.href.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const match = new RegExp(`${escaped}:(\\d+):(\\d+)`).exec(text);
  if (match === null) return undefined;
  return { line: Number(match[1]), column: Number(match[2]) };
}

/** `file:line:column: message` for a load error. */
export function formatLoadError(error: PluginLoadError): string {
  const where = error.line === undefined
    ? error.file
    : `${error.file}:${error.line}${error.column === undefined ? "" : `:${error.column}`}`;
  return `${where}: ${error.message}`;
}

type Reply =
  | { type: "loaded"; id: string; description: string; options: unknown }
  | { type: "load_error"; message: string; stack?: string }
  | { type: "result"; seq: number; actions: unknown }
  | { type: "error"; seq: number; message: string; stack?: string }
  | { type: "resync"; seq: number; message: string };

interface Settled {
  actions: Action[];
  error?: RuleError;
  skipped?: string;
}

interface Pending {
  seq: number;
  timer: ReturnType<typeof setTimeout>;
  resolve: (settled: Settled) => void;
  /** The snapshot's context, for a process that asks for it whole. */
  round: ContextRound;
}

function firstLine(text: string): string {
  const line = text.split("\n", 1)[0]!.trim();
  return line.replace(/^TypeError: (SyntaxError: )/, "$1");
}

const PROCESS_URL = new URL("./_plugin_process.ts", import.meta.url);

/**
 * The plugin process's side of the protocol (folder-private `_plugin_process.ts`), for the
 * compiled executable's hidden `rules serve-plugin` command.
 */
export { servePlugin } from "./_plugin_process.ts";

/** How a plugin process is started: an executable and its arguments. */
export type PluginCommand = CommandLine;

/**
 * The default plugin process ({@link selfCommand}): inside a compiled executable, the executable
 * itself with `rules serve-plugin`; otherwise `deno run --allow-read` of `_plugin_process.ts` (no
 * network, writes, subprocesses or environment; no remote or npm modules), which ignores the
 * arguments. Either way the process narrows its own permissions and runs the plugin in a Worker
 * that reads its folder only.
 */
export function defaultPluginCommand(): PluginCommand {
  return selfCommand(["rules", "serve-plugin"], {
    script: PROCESS_URL,
    denoFlags: [
      "--no-config",
      "--unstable-worker-options",
      "--no-remote",
      "--no-npm",
      "--allow-read",
      "--no-prompt",
    ],
  });
}

const encoder = new TextEncoder();
const log = logger("rules", "plugin");

/** Longest answer line a plugin process may write (characters, about 1 MiB of JSON). */
export const MAX_REPLY_CHARS = 1024 * 1024;
/** Plugin output lines (console, stderr) logged per window; the rest are counted. */
const LOG_LINES_PER_WINDOW = 20;
/** Resyncs of one plugin after which it is sent whole contexts only (see `#wholeOnly`). */
const MAX_RESYNCS = 3;
/** The window of {@link LOG_LINES_PER_WINDOW}, ms. */
const LOG_WINDOW_MS = 10_000;
/** Longest plugin output line logged, characters (the rest is cut). */
const LOG_LINE_CHARS = 1_000;

/**
 * Logs a plugin's console output, at most {@link LOG_LINES_PER_WINDOW} lines per window and
 * each cut to {@link LOG_LINE_CHARS}: a plugin printing in a loop must not flood the log file
 * or stall the risk process. Lines held back are counted and reported once per window.
 */
class RateLimitedLog {
  readonly #name: string;
  #windowStart = performance.now();
  #logged = 0;
  #suppressed = 0;

  constructor(name: string) {
    this.#name = name;
  }

  line(text: string): void {
    const now = performance.now();
    if (now - this.#windowStart >= LOG_WINDOW_MS) {
      this.end();
      this.#windowStart = now;
      this.#logged = 0;
    }
    if (this.#logged >= LOG_LINES_PER_WINDOW) {
      this.#suppressed++;
      return;
    }
    this.#logged++;
    const line = text.length > LOG_LINE_CHARS
      ? `${text.slice(0, LOG_LINE_CHARS)}... (${text.length} characters)`
      : text;
    log.info("plugin {name}: {line}", { name: this.#name, line });
  }

  /** Reports the lines held back in the current window. */
  end(): void {
    if (this.#suppressed === 0) return;
    log.warn("plugin {name}: {count} more output line(s) not logged (at most {max} per {s} s)", {
      name: this.#name,
      count: this.#suppressed,
      max: LOG_LINES_PER_WINDOW,
      s: LOG_WINDOW_MS / 1000,
    });
    this.#suppressed = 0;
  }
}

/** A running plugin process. */
class PluginProcess {
  readonly child: Deno.ChildProcess;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly done: Promise<void>;
  #killed = false;

  constructor(
    command: PluginCommand,
    onReply: (reply: Reply) => void,
    onExit: (message: string) => void,
    name: string,
    onOversized: (chars: number) => void,
  ) {
    this.child = new Deno.Command(command.path, {
      args: command.args,
      // A plugin never sees riskguard's secrets (RISKGUARD_SECRET_KEY, MONGODB_URI, ...): only
      // what a runtime needs to start is passed on.
      clearEnv: true,
      env: childEnv(),
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.#writer = this.child.stdin.getWriter();
    // A reply is one JSON line, never cut; one beyond MAX_REPLY_CHARS is refused (the slot kills
    // the process) before it can hold the risk process's memory and time.
    const whole = { maxLineChars: MAX_REPLY_CHARS, onOverflow: onOversized };
    const stdout = forEachLine(this.child.stdout, (line) => {
      let reply: Reply;
      try {
        reply = JSON.parse(line) as Reply;
      } catch {
        log.warn("plugin {name} wrote a line that is not JSON: {line}", { name, line });
        return;
      }
      onReply(reply);
    }, whole);
    const stderrLog = new RateLimitedLog(name);
    const stderr = forEachLine(this.child.stderr, (line) => stderrLog.line(line))
      .finally(() => stderrLog.end());
    this.done = Promise.all([stdout, stderr, this.child.status]).then(([, , status]) => {
      if (!this.#killed) {
        onExit(
          `plugin process exited with code ${status.code}${
            status.signal === null ? "" : ` (${status.signal})`
          }`,
        );
      }
    });
  }

  /** Writes one message: its type, a space and its JSON body on one line. */
  send(type: "load" | "evaluate", body: unknown): void {
    this.sendJson(type, JSON.stringify(body));
  }

  /** {@link send} with the body already in JSON. */
  sendJson(type: "load" | "evaluate", json: string): void {
    this.#writer.write(encoder.encode(`${type} ${json}\n`)).catch(() => {
      // The process is gone: its exit is reported through `done`.
    });
  }

  kill(): Promise<void> {
    if (!this.#killed) {
      this.#killed = true;
      this.#writer.close().catch(() => {});
      try {
        this.child.kill("SIGKILL");
      } catch {
        // Already exited.
      }
    }
    return this.done;
  }
}

type SlotOptions = Required<Omit<PluginHostOptions, "baseDir">>;

/** An existing protected path inside `folder` (or the folder itself), if any. */
async function protectedIn(
  folder: string,
  paths: readonly ProtectedPath[],
): Promise<ProtectedPath | undefined> {
  for (const item of paths) {
    const inside = relative(folder, resolve(item.path));
    if (inside !== "" && (inside.startsWith("..") || isAbsolute(inside))) continue;
    // Only what is there can be read (a terminal folder named for an instance not set up yet).
    if (await Deno.stat(item.path).then(() => true, () => false)) return item;
  }
  return undefined;
}

/** One plugin in its process. */
class PluginSlot {
  readonly spec: PluginSpec;
  readonly url: URL;
  readonly file: string;
  readonly #options: SlotOptions;
  #process: PluginProcess | undefined;
  #state: PluginStatus["state"] = "loading";
  #id: string | undefined;
  #description = "";
  #parsedOptions: unknown;
  #seq = 0;
  /**
   * The context version ({@link ContextFeed}) the process holds: it is sent a delta from it.
   * 0 when it holds none or its state is unknown (new process, error): the whole context next.
   */
  #held = 0;
  /**
   * Set after {@link MAX_RESYNCS} resyncs: deltas keep failing for this plugin (a bug), so it
   * gets the whole context from then on instead of a warning and a second send per snapshot.
   */
  #wholeOnly = false;
  #pending: Pending | undefined;
  #loadWaiter: ((reply: Reply | { type: "crash"; message: string }) => void) | undefined;
  #failuresInRow = 0;
  #suspendedUntil = 0;
  /** A reload failure not yet handed out with an outcome. */
  #unreported: RuleError | undefined;
  #counters = {
    evaluations: 0,
    errors: 0,
    timeouts: 0,
    crashes: 0,
    oversized: 0,
    reloadFailures: 0,
    restarts: 0,
    skipped: 0,
    deltas: 0,
    resyncs: 0,
  };
  readonly #exits = new Set<Promise<void>>();

  constructor(spec: PluginSpec, url: URL, options: SlotOptions) {
    this.spec = spec;
    this.url = url;
    let file = url.protocol === "file:" ? decodeURIComponent(url.pathname) : url.href;
    if (Deno.build.os === "windows" && /^\/[A-Za-z]:/.test(file)) {
      file = file.slice(1).replaceAll("/", "\\");
    }
    this.file = file;
    this.#options = options;
  }

  get id(): string {
    return this.#id ?? this.spec.module;
  }

  get description(): string {
    return this.#description;
  }

  get parsedOptions(): unknown {
    return this.#parsedOptions;
  }

  get loaded(): boolean {
    return this.#id !== undefined;
  }

  status(): PluginStatus {
    const status: PluginStatus = {
      module: this.spec.module,
      file: this.file,
      state: this.#state,
      ...this.#counters,
    };
    if (this.#id !== undefined) status.id = this.#id;
    return status;
  }

  /** Starts the process and loads the plugin; resolves with the error, if any. */
  async load(): Promise<PluginLoadError | undefined> {
    const failure = (message: string, stack?: string): PluginLoadError => {
      const error: PluginLoadError = {
        module: this.spec.module,
        file: this.file,
        message: firstLine(message),
      };
      const where = locateError(`${message}\n${stack ?? ""}`, this.url);
      if (where !== undefined) {
        error.line = where.line;
        error.column = where.column;
      }
      return error;
    };
    if (this.url.protocol === "file:") {
      const folder = dirname(this.file);
      const exposed = await protectedIn(folder, this.#options.protectedPaths);
      if (exposed !== undefined) {
        return this.#fail(failure(
          `refused: its folder ${folder} also holds ${exposed.what} (${
            resolve(exposed.path)
          }), which a plugin may read; move the plugin into a folder of its own`,
        ));
      }
      try {
        const info = await Deno.stat(this.url);
        if (!info.isFile) return this.#fail(failure("not a file"));
      } catch (error) {
        const message = error instanceof Deno.errors.NotFound
          ? "file not found"
          : `cannot read the file: ${error instanceof Error ? error.message : String(error)}`;
        return this.#fail(failure(message));
      }
    }
    if (this.#isClosed()) return undefined;
    let process: PluginProcess;
    try {
      process = this.#spawn();
    } catch (error) {
      return this.#fail(
        failure(
          `cannot start the plugin process: ${error instanceof Error ? error.message : error}`,
        ),
      );
    }
    const reply = await new Promise<Reply | { type: "crash"; message: string }>((done) => {
      const timer = setTimeout(() => {
        this.#loadWaiter = undefined;
        done({
          type: "crash",
          message: `did not load within ${this.#options.loadTimeoutMs} ms ` +
            "(does its top level never finish?)",
        });
      }, this.#options.loadTimeoutMs);
      this.#loadWaiter = (reply) => {
        clearTimeout(timer);
        this.#loadWaiter = undefined;
        done(reply);
      };
      process.send("load", { url: this.url.href, options: this.spec.options ?? null });
    });
    if (this.#isClosed()) return undefined;
    if (reply.type === "loaded") {
      if (this.#id !== undefined && reply.id !== this.#id) {
        return this.#fail(failure(`its id changed from ${this.#id} to ${reply.id} on reload`));
      }
      if (BUILTIN_RULE_IDS.includes(reply.id)) {
        return this.#fail(failure(`its id "${reply.id}" is the id of a built-in rule`));
      }
      this.#id = reply.id;
      this.#description = reply.description;
      this.#parsedOptions = reply.options;
      this.#state = "ready";
      return undefined;
    }
    if (reply.type === "load_error") return this.#fail(failure(reply.message, reply.stack));
    if (reply.type === "crash") return this.#fail(failure(reply.message));
    return this.#fail(failure(`unexpected reply ${reply.type} while loading`));
  }

  /**
   * Evaluates one snapshot's context (`round`: its JSON, whole or as a delta, made once for
   * every plugin, and only when one is asked); resolves by the deadline at the latest.
   */
  evaluate(round: ContextRound): Promise<Settled> {
    if (this.#state === "suspended" && this.#options.clock.monotonic() >= this.#suspendedUntil) {
      this.#restart();
    }
    const unreported = this.#unreported;
    if (unreported !== undefined && this.#state !== "ready") {
      this.#unreported = undefined;
      return Promise.resolve({ ...this.#skip(this.#state), error: unreported });
    }
    if (this.#state !== "ready") return Promise.resolve(this.#skip(this.#state));
    if (this.#pending !== undefined) return Promise.resolve(this.#skip("busy"));
    const process = this.#process!;
    const seq = ++this.#seq;
    return new Promise<Settled>((resolve) => {
      const timer = setTimeout(() => {
        this.#pending = undefined;
        this.#counters.timeouts++;
        resolve({
          actions: [],
          error: {
            rule: this.id,
            kind: "timeout",
            message: `no answer within ${this.#options.deadlineMs} ms: plugin process restarted`,
            file: this.file,
          },
        });
        this.#failed();
      }, this.#options.deadlineMs);
      this.#pending = { seq, timer, resolve, round };
      this.#sendContext(process, seq, round.message(this.#wholeOnly ? 0 : this.#held));
    });
  }

  async close(): Promise<void> {
    this.#state = "closed";
    this.#settlePending({ actions: [], skipped: "closed" });
    this.#loadWaiter?.({ type: "crash", message: "closed" });
    this.#stopProcess();
    await Promise.all([...this.#exits]);
  }

  #sendContext(process: PluginProcess, seq: number, message: ContextMessage): void {
    process.sendJson("evaluate", `{"seq":${seq},${message.json}}`);
    this.#held = message.version;
    if (message.delta) this.#counters.deltas++;
  }

  #isClosed(): boolean {
    return this.#state === "closed";
  }

  #skip(reason: string): Settled {
    this.#counters.skipped++;
    return { actions: [], skipped: reason };
  }

  #fail(error: PluginLoadError): PluginLoadError {
    if (this.#state !== "closed") this.#state = "failed";
    this.#stopProcess();
    return error;
  }

  #stopProcess(): void {
    const process = this.#process;
    this.#process = undefined;
    this.#held = 0;
    if (process === undefined) return;
    const exit = process.kill();
    this.#exits.add(exit);
    void exit.then(() => this.#exits.delete(exit));
  }

  #spawn(): PluginProcess {
    this.#stopProcess();
    const process: PluginProcess = new PluginProcess(
      this.#options.command,
      (reply) => {
        if (process === this.#process) this.#onReply(reply);
      },
      (message) => {
        if (process === this.#process) this.#onCrash(message);
      },
      this.spec.module,
      (chars) => {
        if (process !== this.#process) return;
        this.#counters.oversized++;
        log.error("plugin {name} wrote an answer line over {max} characters: killed", {
          name: this.spec.module,
          max: MAX_REPLY_CHARS,
        });
        this.#onCrash(
          `wrote an answer line of more than ${MAX_REPLY_CHARS} characters (${chars} so far): ` +
            "plugin process killed",
        );
      },
    );
    this.#process = process;
    this.#exits.add(process.done);
    void process.done.then(() => this.#exits.delete(process.done));
    return process;
  }

  #onReply(reply: Reply): void {
    if (reply.type === "loaded" || reply.type === "load_error") {
      this.#loadWaiter?.(reply);
      return;
    }
    if (reply.type === "resync") {
      this.#resync(reply);
      return;
    }
    const pending = this.#pending;
    if (pending === undefined || pending.seq !== reply.seq) return;
    this.#pending = undefined;
    clearTimeout(pending.timer);
    if (reply.type === "error") {
      // The plugin threw: its process is kept, but what it holds is no longer taken for granted.
      this.#held = 0;
      this.#counters.errors++;
      const error: RuleError = {
        rule: this.id,
        kind: "threw",
        message: firstLine(reply.message),
        file: this.file,
      };
      const where = locateError(`${reply.message}\n${reply.stack ?? ""}`, this.url);
      if (where !== undefined) {
        error.line = where.line;
        error.column = where.column;
      }
      this.#threw(error);
      pending.resolve({ actions: [], error });
      return;
    }
    this.#failuresInRow = 0;
    this.#counters.evaluations++;
    const { actions, problems } = checkActions(reply.actions, this.id);
    if (problems.length > 0) {
      this.#counters.errors++;
      pending.resolve({
        actions,
        error: {
          rule: this.id,
          kind: "invalid_actions",
          message: problems.join("; "),
          file: this.file,
        },
      });
      return;
    }
    pending.resolve({ actions });
  }

  /**
   * The process could not apply a delta (it holds another context than the host believes: a
   * bug, never a plugin's doing) and evaluated nothing: it is sent the whole context for the
   * same snapshot, within the same deadline.
   */
  #resync(reply: { seq: number; message: string }): void {
    this.#held = 0;
    this.#counters.resyncs++;
    const pending = this.#pending;
    const process = this.#process;
    log.warn("plugin {name} could not apply a context delta ({message}): sent the whole context", {
      name: this.spec.module,
      message: reply.message,
    });
    if (this.#counters.resyncs >= MAX_RESYNCS && !this.#wholeOnly) {
      this.#wholeOnly = true;
      log.warn("plugin {name}: {count} deltas could not be applied: whole contexts from now on", {
        name: this.spec.module,
        count: this.#counters.resyncs,
      });
    }
    if (pending === undefined || pending.seq !== reply.seq || process === undefined) return;
    this.#sendContext(process, pending.seq, pending.round.whole());
  }

  #onCrash(message: string): void {
    if (this.#loadWaiter !== undefined) {
      this.#loadWaiter({ type: "load_error", message });
      return;
    }
    this.#counters.crashes++;
    this.#settlePending({
      actions: [],
      error: { rule: this.id, kind: "crashed", message, file: this.file },
    });
    this.#failed();
  }

  #settlePending(settled: Settled): void {
    const pending = this.#pending;
    if (pending === undefined) return;
    this.#pending = undefined;
    clearTimeout(pending.timer);
    pending.resolve(settled);
  }

  /**
   * A throw counts like a timeout or crash: the process answers, so it is kept until
   * `maxFailures` failures in a row, then suspended with the same backoff (a plugin that throws
   * on every snapshot must not flood the audit trail and the webhook).
   */
  #threw(error: RuleError): void {
    if (this.#failuresInRow + 1 < this.#options.maxFailures) {
      this.#failuresInRow++;
      return;
    }
    this.#failed();
    if (this.#state === "suspended") {
      const ms = Math.round(this.#suspendedUntil - this.#options.clock.monotonic());
      error.message += ` (suspended for ${ms} ms after ${this.#failuresInRow} failures in a row)`;
    }
  }

  /** A timeout or crash: restart now, or suspend after too many in a row. */
  #failed(): void {
    if (this.#state === "closed") return;
    this.#stopProcess();
    this.#failuresInRow++;
    const { maxFailures, backoffMs, maxBackoffMs, clock } = this.#options;
    if (this.#failuresInRow >= maxFailures) {
      const wait = exponentialBackoff(this.#failuresInRow - maxFailures, {
        baseMs: backoffMs,
        maxMs: maxBackoffMs,
      });
      this.#suspendedUntil = clock.monotonic() + wait;
      this.#state = "suspended";
      return;
    }
    this.#restart();
  }

  #restart(): void {
    this.#counters.restarts++;
    this.#state = "restarting";
    void this.load().then((error) => {
      if (error !== undefined) this.#reloadFailed(error);
    });
  }

  /**
   * A restart that did not load (the file was edited into a syntax error, removed, ...): the
   * plugin is not dropped for good in silence. The failure is reported with the next snapshot's
   * outcome (an `error` of kind `load`) and the load is retried with the same backoff as a
   * suspension, so a fixed file is picked up again.
   */
  #reloadFailed(error: PluginLoadError): void {
    if (this.#state === "closed") return;
    this.#counters.reloadFailures++;
    this.#failuresInRow++;
    const { maxFailures, backoffMs, maxBackoffMs, clock } = this.#options;
    const wait = exponentialBackoff(Math.max(0, this.#failuresInRow - maxFailures), {
      baseMs: backoffMs,
      maxMs: maxBackoffMs,
    });
    this.#suspendedUntil = clock.monotonic() + wait;
    this.#state = "suspended";
    const rule: RuleError = {
      rule: this.id,
      kind: "load",
      message: `reload failed: ${error.message} (retried in ${Math.round(wait)} ms)`,
      file: this.file,
    };
    if (error.line !== undefined) rule.line = error.line;
    if (error.column !== undefined) rule.column = error.column;
    this.#unreported = rule;
  }
}

/** Runs rule plugins, each in its own process with a per-snapshot deadline. */
export class PluginHost {
  readonly #slots: PluginSlot[];
  readonly #loadErrors: PluginLoadError[];
  readonly #feed = new ContextFeed();

  private constructor(slots: PluginSlot[], loadErrors: PluginLoadError[]) {
    this.#slots = slots;
    this.#loadErrors = loadErrors;
  }

  /**
   * Loads every plugin, each in its own process, in parallel. Never rejects for a bad plugin:
   * those are listed in {@link PluginHost.loadErrors} and skipped.
   */
  static async start(
    specs: readonly PluginSpec[],
    options: PluginHostOptions = {},
  ): Promise<PluginHost> {
    const settings = {
      deadlineMs: options.deadlineMs ?? DEFAULT_PLUGIN_DEADLINE_MS,
      loadTimeoutMs: options.loadTimeoutMs ?? 5000,
      maxFailures: options.maxFailures ?? 3,
      backoffMs: options.backoffMs ?? 1000,
      maxBackoffMs: options.maxBackoffMs ?? 60_000,
      clock: options.clock ?? systemClock,
      command: options.command ?? defaultPluginCommand(),
      protectedPaths: options.protectedPaths ?? [],
    };
    const slots = specs.map((spec) =>
      new PluginSlot(spec, resolvePluginUrl(spec.module, options.baseDir), settings)
    );
    const results = await Promise.all(slots.map((slot) => slot.load()));
    const errors = results.filter((error): error is PluginLoadError => error !== undefined);
    return new PluginHost(slots, errors);
  }

  /** Plugins that failed to load at start. */
  get loadErrors(): readonly PluginLoadError[] {
    return this.#loadErrors;
  }

  /** Ids, descriptions and parsed options of the plugins that loaded. */
  get rules(): { id: string; description: string; options: unknown; file: string }[] {
    return this.#slots.filter((slot) => slot.loaded).map((slot) => ({
      id: slot.id,
      description: slot.description,
      options: slot.parsedOptions,
      file: slot.file,
    }));
  }

  /** Counters and state of every plugin. */
  status(): PluginStatus[] {
    return this.#slots.map((slot) => slot.status());
  }

  /**
   * Evaluates every ready plugin on `context` in parallel. Resolves once each has answered,
   * failed or reached the deadline; never rejects.
   */
  async evaluate(context: RuleContext): Promise<PluginOutcome> {
    // One delta (or whole context) for every plugin: the JSON of 200 positions is most of a
    // round trip.
    const round = this.#feed.round(context);
    const settled = await Promise.all(this.#slots.map((slot) => slot.evaluate(round)));
    const outcome: PluginOutcome = { actions: [], errors: [], skipped: [] };
    settled.forEach((result, index) => {
      outcome.actions.push(...result.actions);
      if (result.error !== undefined) outcome.errors.push(result.error);
      if (result.skipped !== undefined) {
        outcome.skipped.push({ rule: this.#slots[index]!.id, reason: result.skipped });
      }
    });
    return outcome;
  }

  /** Kills every plugin process and waits for them; pending evaluations resolve as skipped. */
  async close(): Promise<void> {
    await Promise.all(this.#slots.map((slot) => slot.close()));
  }
}
