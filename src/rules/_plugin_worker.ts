/**
 * The plugin sandbox: a Worker, started by the plugin process (`_plugin_process.ts`) with
 * `deno.permissions` that allow reading the plugin's own folder and nothing else (no network,
 * no remote or npm imports, no environment, no writes, no subprocesses, no FFI, no system
 * information). It imports the plugin and evaluates it on the contexts it is given.
 *
 * The plugin process posts it one message, `{type: "load", url, options, rest}` (`rest`: bytes
 * of stdin read after the load line); from then on this Worker serves the plugin protocol (see
 * `_plugin_process.ts`) itself: it writes the load reply to stdout, reads the `evaluate` lines
 * from stdin and writes each reply to stdout, and at the end of stdin posts `"done"` and closes. Reading and
 * writing here, not in the process's main thread, saves two thread hops per snapshot.
 *
 * An `evaluate` line carries the whole context or a delta from the one this Worker holds
 * (`_context_delta.ts`); the Worker keeps the context and hands the plugin a fresh copy of it
 * ({@link cloneJson}), so a plugin that changes its input (sorts the positions in place, ...)
 * changes nothing another snapshot is built on. A delta from another context than the one held
 * (or that does not fit it) is not evaluated: the Worker drops what it holds and answers
 * `resync`, and the host sends the whole context. The lines are read with plain reads into one
 * buffer ({@link LineReader}), not through a stream. What the plugin prints goes to stderr:
 * stdout is the protocol.
 *
 * @module
 */
/// <reference lib="deno.worker" />
import type { Rule, RuleContext } from "./rule.ts";
import { createRuleInput } from "./helpers.ts";
import { LineReader } from "../shared/lines.ts";
import { applyDelta, cloneJson, type Delta, type JsonObject } from "./_context_delta.ts";

interface LoadMessage {
  type: "load";
  url: string;
  options: unknown;
  rest: Uint8Array;
}

/** `{seq, version, context}` or `{seq, version, base, delta}`. */
interface EvaluateMessage {
  seq: number;
  version: number;
  context?: JsonObject;
  base?: number;
  delta?: Delta;
}

function describe(error: unknown): { message: string; stack?: string } {
  if (error instanceof Error) {
    return error.stack === undefined
      ? { message: error.message }
      : { message: error.message, stack: error.stack };
  }
  return { message: String(error) };
}

const encoder = new TextEncoder();

function writeAll(stream: typeof Deno.stdout, text: string): void {
  const bytes = encoder.encode(text);
  let written = 0;
  while (written < bytes.length) written += stream.writeSync(bytes.subarray(written));
}

/** Writes one reply line to the host. */
function send(message: unknown): void {
  writeAll(Deno.stdout, JSON.stringify(message) + "\n");
}

function redirectConsole(): void {
  const write = (...args: unknown[]) => {
    const line = args.map((arg) => typeof arg === "string" ? arg : Deno.inspect(arg)).join(" ");
    writeAll(Deno.stderr, `${line}\n`);
  };
  console.log = write;
  console.info = write;
  console.debug = write;
  console.warn = write;
  console.error = write;
}

let rule: Rule<unknown> | undefined;
let options: unknown;
/** The context of version {@link held} (0: none), kept for the next delta; never the plugin's. */
let context: JsonObject | undefined;
let held = 0;

async function load(url: string, raw: unknown): Promise<void> {
  try {
    const module = await import(url);
    const candidate = module.default as Partial<Rule<unknown>> | undefined;
    if (typeof candidate !== "object" || candidate === null) {
      throw new TypeError("the module has no default export: `export default { id, evaluate }`");
    }
    if (typeof candidate.id !== "string" || !/^[a-z][a-z0-9_]{0,63}$/.test(candidate.id)) {
      throw new TypeError(
        `the rule's id must be snake_case (a-z, 0-9, _), got ${JSON.stringify(candidate.id)}`,
      );
    }
    if (typeof candidate.evaluate !== "function") {
      throw new TypeError(`rule ${candidate.id} has no evaluate(input) function`);
    }
    if (candidate.parseOptions !== undefined && typeof candidate.parseOptions !== "function") {
      throw new TypeError(`rule ${candidate.id}: parseOptions must be a function`);
    }
    let parsed: unknown = raw;
    if (candidate.parseOptions !== undefined) {
      try {
        parsed = candidate.parseOptions(raw);
      } catch (error) {
        throw new TypeError(`invalid options for rule ${candidate.id}: ${describe(error).message}`);
      }
    }
    rule = candidate as Rule<unknown>;
    options = parsed;
    send({
      type: "loaded",
      id: rule.id,
      description: typeof rule.description === "string" ? rule.description : "",
      options: parsed ?? null,
    });
  } catch (error) {
    send({ type: "load_error", ...describe(error) });
  }
}

/**
 * Brings the kept context to the message's version; undefined (and nothing kept) when the
 * message is a delta from another version, or one that does not fit.
 */
function advance(message: EvaluateMessage): string | undefined {
  if (message.context !== undefined) {
    context = message.context;
  } else if (context === undefined || message.base !== held) {
    const had = held;
    context = undefined;
    held = 0;
    return `a delta from version ${message.base}, this holds ${had === 0 ? "none" : had}`;
  } else {
    try {
      applyDelta(context, message.delta!);
    } catch (error) {
      context = undefined;
      held = 0;
      return describe(error).message;
    }
  }
  held = message.version;
  return undefined;
}

function evaluate(text: string): void {
  const message = JSON.parse(text) as EvaluateMessage;
  const seq = message.seq;
  const misfit = advance(message);
  if (misfit !== undefined) {
    send({ type: "resync", seq, message: misfit });
    return;
  }
  try {
    if (rule === undefined) throw new Error("plugin not loaded");
    const input = cloneJson(context!) as unknown as RuleContext;
    const actions = rule.evaluate(createRuleInput(input, options));
    send({ type: "result", seq, actions });
  } catch (error) {
    send({ type: "error", seq, ...describe(error) });
  }
}

/** Serves `evaluate` lines from stdin until it ends, then closes this Worker. */
async function serve(rest: Uint8Array): Promise<void> {
  const lines = new LineReader(Deno.stdin, rest);
  for (let line = await lines.next(); line !== undefined; line = await lines.next()) {
    const space = line.indexOf(" ");
    if (space > 0 && line.slice(0, space) === "evaluate") evaluate(line.slice(space + 1));
  }
  self.postMessage("done");
  self.close();
}

redirectConsole();
self.onmessage = async (event: MessageEvent<LoadMessage>) => {
  self.onmessage = null;
  const message = event.data;
  await load(message.url, message.options);
  await serve(message.rest);
};
