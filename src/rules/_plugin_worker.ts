/**
 * The plugin worker: loads one rule plugin with `import()` of its absolute `file:` URL and
 * evaluates it on the contexts the main thread posts. Runs in its own Worker so that a plugin
 * that throws, loops or crashes cannot stop enforcement; the main thread terminates it when a
 * deadline passes.
 *
 * Messages (main -> worker): `{type: "load", url, options}`, `{type: "evaluate", seq, context}`.
 * Replies: `{type: "loaded", id, description}`, `{type: "load_error", message, stack}`,
 * `{type: "result", seq, actions}`, `{type: "error", seq, message, stack}`.
 *
 * `deno compile` must include this file: `--include src/rules/_plugin_worker.ts`.
 *
 * @module
 */
/// <reference no-default-lib="true" />
/// <reference lib="deno.worker" />
import type { Rule, RuleContext } from "./rule.ts";
import { createRuleInput } from "./helpers.ts";

let rule: Rule<unknown> | undefined;
let options: unknown;

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
      options: parsed,
    });
  } catch (error) {
    self.postMessage({ type: "load_error", ...describe(error) });
  }
}

async function evaluate(seq: number, context: RuleContext): Promise<void> {
  try {
    if (rule === undefined) throw new Error("plugin not loaded");
    const actions = await rule.evaluate(createRuleInput(context, options));
    self.postMessage({ type: "result", seq, actions });
  } catch (error) {
    self.postMessage({ type: "error", seq, ...describe(error) });
  }
}

self.onmessage = (event: MessageEvent<Inbound>) => {
  const message = event.data;
  if (message.type === "load") void load(message.url, message.options);
  else void evaluate(message.seq, message.context);
};
