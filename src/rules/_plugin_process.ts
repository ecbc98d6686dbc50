/**
 * The plugin process: loads one rule plugin with `import()` of its absolute `file:` URL and
 * evaluates it on the contexts the host sends. One process per plugin, so that the host can
 * kill a plugin that never returns (Deno 2.9 cannot stop a Worker stuck in a JavaScript loop:
 * `terminate()` leaves the thread spinning, denoland/deno#35657).
 *
 * Protocol: one JSON object per line on stdin (host -> plugin) and stdout (plugin -> host).
 * In: `{type: "load", url, options}`, `{type: "evaluate", seq, context}`.
 * Out: `{type: "loaded", id, description, options}`, `{type: "load_error", message, stack}`,
 * `{type: "result", seq, actions}`, `{type: "error", seq, message, stack}`.
 * Anything the plugin prints goes to stderr (console is redirected), never to the protocol.
 *
 * Started as `deno run --allow-read <this file>` in development and as
 * `riskguard rules serve-plugin` inside the compiled executable.
 *
 * @module
 */
import type { Rule, RuleContext } from "./rule.ts";
import { createRuleInput } from "./helpers.ts";

type Inbound =
  | { type: "load"; url: string; options: unknown }
  | { type: "evaluate"; seq: number; context: RuleContext };

const encoder = new TextEncoder();

function send(message: unknown): void {
  const bytes = encoder.encode(JSON.stringify(message) + "\n");
  let written = 0;
  while (written < bytes.length) written += Deno.stdout.writeSync(bytes.subarray(written));
}

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
    const bytes = encoder.encode(line + "\n");
    let written = 0;
    while (written < bytes.length) written += Deno.stderr.writeSync(bytes.subarray(written));
  };
  console.log = write;
  console.info = write;
  console.debug = write;
  console.warn = write;
  console.error = write;
}

/** Serves one plugin over stdin/stdout until stdin ends. */
export async function servePlugin(): Promise<void> {
  redirectConsole();
  let rule: Rule<unknown> | undefined;
  let options: unknown;

  const load = async (url: string, raw: unknown) => {
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
          throw new TypeError(
            `invalid options for rule ${candidate.id}: ${describe(error).message}`,
          );
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
  };

  const evaluate = (seq: number, context: RuleContext) => {
    try {
      if (rule === undefined) throw new Error("plugin not loaded");
      const actions = rule.evaluate(createRuleInput(context, options));
      send({ type: "result", seq, actions });
    } catch (error) {
      send({ type: "error", seq, ...describe(error) });
    }
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
      if (message.type === "load") await load(message.url, message.options);
      else evaluate(message.seq, message.context);
    }
  }
}

if (import.meta.main) await servePlugin();
