/**
 * Typed errors raised by the store adapters. Every one is a {@link RiskGuardError} with a code.
 *
 * @module
 */
import { RiskGuardError, type RiskGuardErrorCode } from "../shared/errors.ts";
import { maskUriCredentials } from "../shared/secrets.ts";
import type { FieldIssue } from "./schemas.ts";

/** Codes raised by the store. */
export type StoreErrorCode = Extract<
  RiskGuardErrorCode,
  | "NOT_FOUND"
  | "STORE_UNAVAILABLE"
  | "STORE_CONFLICT"
  | "CLAIM_FAILED"
  | "LEASE_LOST"
  | "ELEMENT_INVALID"
  | "ELEMENT_HELD"
  | "INPUT_INVALID"
  | "CLOSED"
>;

/** An error raised by a store adapter. Its message never holds a password. */
export class StoreError extends RiskGuardError {
  /** Creates a store error; the message is passed through {@link maskUriCredentials}. */
  constructor(code: StoreErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(code, maskUriCredentials(message), options);
  }
}

/** The database cannot be reached (after retries). */
export class StoreUnavailableError extends StoreError {
  /** Creates the error; `what` names the store without credentials. */
  constructor(message: string, options: { cause?: unknown } = {}) {
    super("STORE_UNAVAILABLE", message, options);
  }
}

/** A write carried a lease that is no longer the element's current one. */
export class LeaseLostError extends StoreError {
  /** The element whose lease was lost. */
  readonly elementId: string;
  /** The lease the writer held. */
  readonly lease: number;

  /** Creates the error for `elementId` and the stale `lease`. */
  constructor(elementId: string, lease: number, detail = "") {
    super(
      "LEASE_LOST",
      `Lease ${lease} on element ${elementId} is no longer valid${
        detail === "" ? "" : `: ${detail}`
      }`,
    );
    this.elementId = elementId;
    this.lease = lease;
  }
}

/** Input given to the store does not match its schema. */
export class StoreInputError extends StoreError {
  /** Every issue found. */
  readonly issues: FieldIssue[];

  /** Creates the error from `what` (e.g. "instance") and its issues. */
  constructor(what: string, issues: FieldIssue[]) {
    const first = issues[0];
    super(
      "INPUT_INVALID",
      first === undefined ? `Invalid ${what}` : `Invalid ${what}: ${first.field} ${first.reason}`,
    );
    this.issues = issues;
  }
}
