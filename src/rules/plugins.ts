/**
 * The plugin loader and host. Each plugin (`rules: [{module, options}]` on an element, or
 * `--rules <file>`) runs in its own module Worker that imports the plugin from its absolute
 * `file:` URL, so it works from any folder and inside a `deno compile` executable (which
 * needs `--include src/rules/_plugin_worker.ts`).
 *
 * Isolation model:
 * - a plugin that fails to load (missing file, syntax error, bad shape, invalid options, top
 *   level that never finishes) is reported with file, line and message and stays out; the
 *   built-ins are not affected because they never run here;
 * - a plugin that throws in `evaluate`, or returns invalid actions, is reported per snapshot
 *   and counted; its valid actions are kept;
 * - a plugin that does not answer within the deadline (default 50 ms) is terminated and
 *   restarted; that snapshot's actions from it are skipped and the timeout is counted; after
 *   `maxFailures` failures in a row it is suspended with exponential backoff;
 * - a plugin still busy with an earlier snapshot is skipped for the new one.
 *
 * Plugins are isolated for faults, not for security: a worker has the permissions of the
 * process. Only load plugin files you trust.
 *
 * @module
 */
import { isAbsolute, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import type { Clock } from "../shared/clock.ts";
import { systemClock } from "../shared/clock.ts";
import { type Action, checkActions, type RuleContext, type RuleError } from "./rule.ts";
import { BUILTIN_RULE_IDS } from "./builtin/mod.ts";

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
  /** Time source for suspensions; default the system clock. */
  clock?: Clock;
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
  /** Worker crashes (uncaught errors). */
  crashes: number;
  /** Worker restarts. */
  restarts: number;
  /** Snapshots skipped (busy, restarting, suspended). */
  skipped: number;
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
  | { type: "error"; seq: number; message: string; stack?: string };

interface Settled {
  actions: Action[];
  error?: RuleError;
  skipped?: string;
}

interface Pending {
  seq: number;
  timer: ReturnType<typeof setTimeout>;
  resolve: (settled: Settled) => void;
}

function firstLine(text: string): string {
  const line = text.split("\n", 1)[0]!.trim();
  return line.replace(/^TypeError: (SyntaxError: )/, "$1");
}

const WORKER_URL = new URL("./_plugin_worker.ts", import.meta.url);

/** One plugin in its worker. */
class PluginSlot {
  readonly spec: PluginSpec;
  readonly url: URL;
  readonly file: string;
  readonly #options: Required<Omit<PluginHostOptions, "baseDir">>;
  #worker: Worker | undefined;
  #state: PluginStatus["state"] = "loading";
  #id: string | undefined;
  #description = "";
  #parsedOptions: unknown;
  #seq = 0;
  #pending: Pending | undefined;
  #loadWaiter: ((reply: Reply | { type: "crash"; message: string }) => void) | undefined;
  #failuresInRow = 0;
  #suspendedUntil = 0;
  #counters = { evaluations: 0, errors: 0, timeouts: 0, crashes: 0, restarts: 0, skipped: 0 };

  constructor(spec: PluginSpec, url: URL, options: Required<Omit<PluginHostOptions, "baseDir">>) {
    this.spec = spec;
    this.url = url;
    this.file = url.protocol === "file:" ? decodeURIComponent(url.pathname) : url.href;
    if (Deno.build.os === "windows" && /^\/[A-Za-z]:/.test(this.file)) {
      this.file = this.file.slice(1).replaceAll("/", "\\");
    }
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

  /** Starts the worker and loads the plugin; resolves with the error, if any. */
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
    if (this.#state === "closed") return undefined;
    const worker = this.#spawn();
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
      worker.postMessage({ type: "load", url: this.url.href, options: this.spec.options });
    });
    if (this.#state === "closed") return undefined;
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

  /** Evaluates one context; resolves by the deadline at the latest. */
  evaluate(context: RuleContext): Promise<Settled> {
    if (this.#state === "suspended" && this.#options.clock.now() >= this.#suspendedUntil) {
      this.#restart();
    }
    if (this.#state !== "ready") return Promise.resolve(this.#skip(this.#state));
    if (this.#pending !== undefined) return Promise.resolve(this.#skip("busy"));
    const worker = this.#worker!;
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
            message: `no answer within ${this.#options.deadlineMs} ms: worker restarted`,
            file: this.file,
          },
        });
        this.#failed();
      }, this.#options.deadlineMs);
      this.#pending = { seq, timer, resolve };
      try {
        worker.postMessage({ type: "evaluate", seq, context });
      } catch (error) {
        clearTimeout(timer);
        this.#pending = undefined;
        resolve({
          actions: [],
          error: {
            rule: this.id,
            kind: "crashed",
            message: `cannot post the snapshot: ${
              error instanceof Error ? error.message : String(error)
            }`,
          },
        });
      }
    });
  }

  close(): void {
    this.#state = "closed";
    this.#settlePending({ actions: [], skipped: "closed" });
    this.#loadWaiter?.({ type: "crash", message: "closed" });
    this.#worker?.terminate();
    this.#worker = undefined;
  }

  #skip(reason: string): Settled {
    this.#counters.skipped++;
    return { actions: [], skipped: reason };
  }

  #fail(error: PluginLoadError): PluginLoadError {
    this.#state = "failed";
    this.#worker?.terminate();
    this.#worker = undefined;
    return error;
  }

  #spawn(): Worker {
    this.#worker?.terminate();
    const worker = new Worker(WORKER_URL, { type: "module", name: `plugin:${this.spec.module}` });
    worker.onmessage = (event: MessageEvent<Reply>) => this.#onReply(worker, event.data);
    worker.onerror = (event: ErrorEvent) => {
      event.preventDefault();
      this.#onCrash(worker, event.message);
    };
    worker.onmessageerror = () => this.#onCrash(worker, "a message could not be deserialized");
    this.#worker = worker;
    return worker;
  }

  #onReply(worker: Worker, reply: Reply): void {
    if (worker !== this.#worker) return;
    if (reply.type === "loaded" || reply.type === "load_error") {
      this.#loadWaiter?.(reply);
      return;
    }
    const pending = this.#pending;
    if (pending === undefined || pending.seq !== reply.seq) return;
    this.#pending = undefined;
    clearTimeout(pending.timer);
    this.#failuresInRow = 0;
    if (reply.type === "error") {
      this.#counters.errors++;
      const error: RuleError = { rule: this.id, kind: "threw", message: reply.message };
      const where = locateError(`${reply.message}\n${reply.stack ?? ""}`, this.url);
      error.file = this.file;
      if (where !== undefined) {
        error.line = where.line;
        error.column = where.column;
      }
      pending.resolve({ actions: [], error });
      return;
    }
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

  #onCrash(worker: Worker, message: string): void {
    if (worker !== this.#worker) return;
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

  /** A timeout or crash: restart now, or suspend after too many in a row. */
  #failed(): void {
    this.#worker?.terminate();
    this.#worker = undefined;
    this.#failuresInRow++;
    const { maxFailures, backoffMs, maxBackoffMs, clock } = this.#options;
    if (this.#failuresInRow >= maxFailures) {
      const wait = Math.min(maxBackoffMs, backoffMs * 2 ** (this.#failuresInRow - maxFailures));
      this.#suspendedUntil = clock.now() + wait;
      this.#state = "suspended";
      return;
    }
    this.#restart();
  }

  #restart(): void {
    this.#counters.restarts++;
    this.#state = "restarting";
    void this.load();
  }
}

/** Runs rule plugins in workers, each with a per-snapshot deadline. */
export class PluginHost {
  readonly #slots: PluginSlot[];
  readonly #loadErrors: PluginLoadError[];

  private constructor(slots: PluginSlot[], loadErrors: PluginLoadError[]) {
    this.#slots = slots;
    this.#loadErrors = loadErrors;
  }

  /**
   * Loads every plugin, each in its own worker, in parallel. Never rejects for a bad plugin:
   * those are listed in {@link PluginHost.loadErrors} and skipped.
   */
  static async start(
    specs: readonly PluginSpec[],
    options: PluginHostOptions = {},
  ): Promise<PluginHost> {
    const settings = {
      deadlineMs: options.deadlineMs ?? 50,
      loadTimeoutMs: options.loadTimeoutMs ?? 5000,
      maxFailures: options.maxFailures ?? 3,
      backoffMs: options.backoffMs ?? 1000,
      maxBackoffMs: options.maxBackoffMs ?? 60_000,
      clock: options.clock ?? systemClock,
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
    return this.#slots.filter((slot) => slot.status().id !== undefined).map((slot) => ({
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
    const settled = await Promise.all(this.#slots.map((slot) => slot.evaluate(context)));
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

  /** Terminates every worker; pending evaluations resolve as skipped. */
  close(): void {
    for (const slot of this.#slots) slot.close();
  }
}
