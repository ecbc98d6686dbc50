/**
 * A {@link CliContext} for tests: captures stdout and stderr, has no terminal, never stops.
 *
 * @module
 */
import type { CliContext } from "../../src/cli/mod.ts";

/** A CLI context that captures output and has no terminal. */
export function fakeContext(
  env: Record<string, string> = {},
  secret?: string,
): CliContext & {
  out: string[];
  err: string[];
} {
  const out: string[] = [];
  const err: string[] = [];
  return {
    env,
    out,
    err,
    stdout: (text) => out.push(text),
    stderr: (text) => err.push(text),
    readSecret: () => Promise.resolve(secret),
    stopSignal: new AbortController().signal,
  };
}
