/**
 * The plugin sandbox: a Worker, started by the plugin process (`_plugin_process.ts`) with
 * `deno.permissions` that allow reading the plugin's own folder and nothing else (no network,
 * no remote or npm imports, no environment, no writes, no subprocesses, no FFI, no system
 * information). It imports the plugin and evaluates it on the contexts it is given.
 *
 * Messages in: `{type: "load", url, options}`, `{type: "evaluate", seq, context}`. Out: the
 * replies of the plugin protocol (see `_plugin_process.ts`) plus `{type: "log", line}` for
 * what the plugin prints: stdout belongs to the protocol, so console output goes through the
 * parent to stderr.
 *
 * @module
 */
/// <reference lib="deno.worker" />
import type { Rule, RuleContext } from "./rule.ts";
import { createRuleInput } from "./helpers.ts";

type Inbound =
  | { type: "load"; url: string; options: unknown }
  | { type: "evaluate"; seq: number; context: RuleContext };

function describe(error: unknown): { message: string; stack?: string } {
  if (error instanceof Error) {
    return error.stack === undefined
      ? { message: error.message }
      : { message: error.message, stack: error.stack };
  }
  return { message: String(error) };
}

function redirectConsole(): void {
  const write = (...args: unknown[]) => {
    const line = args.map((arg) => typeof arg === "string" ? arg : Deno.inspect(arg)).join(" ");
    self.postMessage({ type: "log", line });
  };
  console.log = write;
  console.info = write;
  console.debug = write;
  console.warn = write;
  console.error = write;
}

let rule: Rule<unknown> | undefined;
let options: unknown;

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
    self.postMessage({
      type: "loaded",
      id: rule.id,
      description: typeof rule.description === "string" ? rule.description : "",
      options: parsed ?? null,
    });
  } catch (error) {
    self.postMessage({ type: "load_error", ...describe(error) });
  }
}

function evaluate(seq: number, context: RuleContext): void {
  try {
    if (rule === undefined) throw new Error("plugin not loaded");
    const actions = rule.evaluate(createRuleInput(context, options));
    self.postMessage({ type: "result", seq, actions });
  } catch (error) {
    self.postMessage({ type: "error", seq, ...describe(error) });
  }
}

redirectConsole();
self.onmessage = (event: MessageEvent<Inbound>) => {
  const message = event.data;
  if (message.type === "load") void load(message.url, message.options);
  else evaluate(message.seq, message.context);
};
