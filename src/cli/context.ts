/**
 * What every command handler gets from the CLI: output streams, the environment, and the
 * resolution of global options into a validated {@link Config}.
 *
 * @module
 */
import type { Command } from "commander";
import {
  type Config,
  type ConfigInputs,
  type ConfigKey,
  loadConfigLazily,
} from "../shared/config.ts";
import { logExitReason, type LoggingOptions, setupLogging } from "../shared/logging.ts";
import { ConfigError, describeError, exitCodeOf } from "../shared/errors.ts";
import { maskUriCredentials } from "../shared/secrets.ts";

/** Input and output of one CLI run; tests replace it to capture output. */
export interface CliContext {
  /** Environment variables. */
  env: Record<string, string | undefined>;
  /** Writes to standard output (no newline added). */
  stdout(text: string): void;
  /** Writes to standard error (no newline added). */
  stderr(text: string): void;
  /** Reads one line from the terminal without echo (passwords); `undefined` without a TTY. */
  readSecret(prompt: string): Promise<string | undefined>;
  /** Resolves when the user asks the process to stop (Ctrl+C / SIGTERM). */
  stopSignal: AbortSignal;
}

/** Global option names (commander camelCase) mapped to config keys. */
const GLOBAL_OPTIONS: Readonly<Record<string, ConfigKey>> = {
  store: "store",
  db: "db",
  host: "host",
  logLevel: "log_level",
  logFile: "log_file",
  webhookUrl: "webhook_url",
  staleAfter: "stale_after_s",
  pingInterval: "ping_interval_s",
};

/**
 * Resolves the configuration of a command from its global options, the environment and the
 * config file, then sets up logging with it.
 */
export async function startCommand(ctx: CliContext, command: Command): Promise<Config> {
  const options = command.optsWithGlobals<Record<string, unknown>>();
  const flags: Partial<Record<ConfigKey, string>> = {};
  for (const [option, key] of Object.entries(GLOBAL_OPTIONS)) {
    const value = options[option];
    if (typeof value === "string") flags[key] = value;
  }
  return await startWithConfig(ctx, {
    flags,
    configFile: typeof options.config === "string" ? options.config : undefined,
  });
}

/**
 * Resolves the configuration from `inputs` and the environment, then sets up logging with it
 * (and `logging`): the start of every command, and of a risk child started by admin (which has
 * no flags).
 */
export async function startWithConfig(
  ctx: CliContext,
  inputs: Omit<ConfigInputs, "env">,
  logging: Pick<LoggingOptions, "orphanFile"> = {},
): Promise<Config> {
  const config = await loadConfigLazily({ ...inputs, env: ctx.env });
  try {
    await setupLogging({ level: config.log_level, file: config.log_file, ...logging });
  } catch (error) {
    throw new ConfigError(
      `Cannot write the log file ${config.log_file} (--log-file or RISKGUARD_LOG_FILE): ${
        (error as Error).message
      }`,
      { cause: error },
    );
  }
  return config;
}

/**
 * Reports why a command failed (on stderr, and as the exit reason in the log) and returns its
 * exit code: 2 for configuration or input errors, 1 for the rest.
 */
export function reportFailure(ctx: CliContext, error: unknown): number {
  const message = maskUriCredentials(describeError(error));
  ctx.stderr(`riskguard: ${message}\n`);
  logExitReason(exitCodeOf(error), message);
  return exitCodeOf(error);
}

/** The context of a real process: Deno's streams, environment and signals. */
export function processContext(): CliContext {
  const controller = new AbortController();
  const stop = () => {
    // The first Ctrl+C asks for a graceful stop; a second one ends the process at once.
    if (controller.signal.aborted) Deno.exit(130);
    controller.abort();
  };
  try {
    Deno.addSignalListener("SIGINT", stop);
    if (Deno.build.os !== "windows") Deno.addSignalListener("SIGTERM", stop);
    else Deno.addSignalListener("SIGBREAK", stop);
  } catch {
    // Signals are not available in every environment (e.g. some sandboxes); Ctrl+C then
    // falls back to the default behaviour, which ends the process.
  }
  const encoder = new TextEncoder();
  const write = (stream: typeof Deno.stdout, text: string) => {
    const bytes = encoder.encode(text);
    let written = 0;
    try {
      while (written < bytes.length) written += stream.writeSync(bytes.subarray(written));
    } catch {
      // Nobody reads this stream any more (a risk child whose admin died): nothing to tell.
    }
  };
  return {
    env: Deno.env.toObject(),
    stdout: (text) => write(Deno.stdout, text),
    stderr: (text) => write(Deno.stderr, text),
    readSecret: readSecretFromTerminal,
    stopSignal: controller.signal,
  };
}

async function readSecretFromTerminal(prompt: string): Promise<string | undefined> {
  if (!Deno.stdin.isTerminal()) return undefined;
  const encoder = new TextEncoder();
  await Deno.stderr.write(encoder.encode(prompt));
  Deno.stdin.setRaw(true);
  const decoder = new TextDecoder();
  let secret = "";
  let escape = false;
  const buffer = new Uint8Array(64);
  try {
    reading: while (true) {
      const n = await Deno.stdin.read(buffer);
      if (n === null) break;
      for (const char of decoder.decode(buffer.subarray(0, n), { stream: true })) {
        if (escape) {
          // Skip an escape sequence (arrow keys, ...): ESC [ ... final letter.
          if (/[A-Za-z~]/.test(char)) escape = false;
          continue;
        }
        if (char === "\u0003") throw new Deno.errors.Interrupted("cancelled");
        if (char === "\r" || char === "\n") break reading;
        if (char === "\u001b") escape = true;
        else if (char === "\u007f" || char === "\b") secret = [...secret].slice(0, -1).join("");
        else if (char >= " ") secret += char;
      }
    }
  } finally {
    Deno.stdin.setRaw(false);
    await Deno.stderr.write(encoder.encode("\n"));
  }
  return secret;
}
