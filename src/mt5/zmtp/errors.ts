/**
 * The error class of the ZMTP transport.
 *
 * @module
 */
import { RiskGuardError, type RiskGuardErrorCode } from "../../shared/errors.ts";

/** The codes a {@link ZmtpError} carries: a subset of riskguard's error codes. */
export type ZmtpErrorCode = Extract<
  RiskGuardErrorCode,
  "PROTOCOL" | "AUTH_FAILED" | "TIMEOUT" | "CLOSED" | "INPUT_INVALID"
>;

/** An error raised by the ZMTP codec, a mechanism or a socket. Messages never hold secrets. */
export class ZmtpError extends RiskGuardError {
  /** Creates an error with a code and a message naming the value seen. */
  constructor(code: ZmtpErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(code, message, options);
  }
}
