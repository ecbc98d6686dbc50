/**
 * Error classes shared by every part of riskguard.
 *
 * Every error the agent raises on purpose is a {@link RiskGuardError} with a machine-readable
 * `code`, so callers can branch on the code and the CLI can map it to an exit code. Messages
 * say what failed and the value seen; they never contain secrets.
 *
 * @module
 */

/** Every error code riskguard raises. */
export type RiskGuardErrorCode =
  | "CONFIG_INVALID"
  | "INPUT_INVALID"
  | "NOT_IMPLEMENTED"
  | "NOT_FOUND"
  | "STORE_UNAVAILABLE"
  | "STORE_CONFLICT"
  | "CLAIM_FAILED"
  | "LEASE_LOST"
  | "ELEMENT_INVALID"
  | "ELEMENT_HELD"
  | "PROTOCOL"
  | "AUTH_FAILED"
  | "TIMEOUT"
  | "BRIDGE_LOST"
  | "TERMINAL"
  | "PLUGIN_LOAD"
  | "PLUGIN_RUNTIME"
  | "CLOSED";

/** Codes that mean "the input is wrong": restarting the process will not help. */
const INPUT_CODES: ReadonlySet<RiskGuardErrorCode> = new Set([
  "CONFIG_INVALID",
  // A feature that is not there yet will not appear on a restart either.
  "NOT_IMPLEMENTED",
  "PLUGIN_RUNTIME",
  "INPUT_INVALID",
  "NOT_FOUND",
  "ELEMENT_INVALID",
  "ELEMENT_HELD",
  "PLUGIN_LOAD",
]);

/** Process exit codes, see docs/operations.md. */
export const ExitCode = {
  /** Finished normally. */
  Ok: 0,
  /** Crashed: a supervisor may restart the process. */
  Crash: 1,
  /** Configuration or input error: a restart with the same input fails the same way. */
  InvalidInput: 2,
} as const;

/** Options accepted by {@link RiskGuardError}. */
export interface RiskGuardErrorOptions {
  /** The underlying error, kept for diagnostics. */
  cause?: unknown;
}

/** Base class of every error riskguard raises on purpose. */
export class RiskGuardError extends Error {
  /** Machine-readable error code. */
  readonly code: RiskGuardErrorCode;

  /** Creates an error with a code and a message that names the value seen. */
  constructor(code: RiskGuardErrorCode, message: string, options: RiskGuardErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
  }

  /** The exit code a process should use when it stops because of this error. */
  get exitCode(): number {
    return INPUT_CODES.has(this.code) ? ExitCode.InvalidInput : ExitCode.Crash;
  }
}

/** Invalid configuration (flags, environment variables, config file). Exit code 2. */
export class ConfigError extends RiskGuardError {
  /** Creates a configuration error. */
  constructor(message: string, options: RiskGuardErrorOptions = {}) {
    super("CONFIG_INVALID", message, options);
  }
}

/** A feature whose issue has not landed yet. */
export class NotImplementedError extends RiskGuardError {
  /** Creates an error naming the missing feature. */
  constructor(feature: string) {
    super("NOT_IMPLEMENTED", `${feature} is not implemented yet`);
  }
}

/** Maps any thrown value to the exit code the process should use. */
export function exitCodeOf(error: unknown): number {
  return error instanceof RiskGuardError ? error.exitCode : ExitCode.Crash;
}

/** Returns a one-line description of any thrown value. */
export function describeError(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}
