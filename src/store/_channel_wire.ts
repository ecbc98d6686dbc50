/**
 * The wire of the store channel (folder-private): how a risk child started by admin reaches the
 * store through admin (`channel_store.ts` is the child's side, `channel_server.ts` admin's).
 *
 * One TCP connection on 127.0.0.1 per child, one JSON object per line both ways:
 * - the child's first line is `{"hello": token}`; admin answers `{"hello": "ok"}` or closes;
 * - a call: `{"id", "call", "args"}` (a method of the `Store` port, or `feedNext`/`feedClose`
 *   of a feed opened by the call `watchElements`, whose value is the feed's number); the answer
 *   `{"id", "value"}` or `{"id", "error": {code, name, message, ...}}`.
 *
 * Errors cross the wire as their code and message and come back as the same classes
 * (`LeaseLostError`, `StoreInputError`, `StoreUnavailableError`, `StoreError`), so callers
 * (the write queue, the lease logic) cannot tell the channel from the store itself.
 *
 * @module
 */
import { RiskGuardError } from "../shared/errors.ts";
import type { FieldIssue } from "./schemas.ts";
import {
  LeaseLostError,
  StoreError,
  type StoreErrorCode,
  StoreInputError,
  StoreUnavailableError,
} from "./errors.ts";

/** Longest line accepted (a listing of many elements fits; a runaway peer does not). */
export const MAX_LINE_BYTES = 32 * 1024 * 1024;

/** An error as it crosses the wire. */
export interface WireError {
  code?: string;
  name?: string;
  message: string;
  elementId?: string;
  lease?: number;
  issues?: FieldIssue[];
}

/** Turns a thrown value into its wire form. */
export function encodeError(error: unknown): WireError {
  if (!(error instanceof Error)) return { message: String(error) };
  const wire: WireError = { name: error.name, message: error.message };
  if (error instanceof RiskGuardError) wire.code = error.code;
  if (error instanceof LeaseLostError) {
    wire.elementId = error.elementId;
    wire.lease = error.lease;
  }
  if (error instanceof StoreInputError) wire.issues = error.issues;
  return wire;
}

/** Rebuilds the error a wire form describes, with the class the store would have thrown. */
export function decodeError(wire: WireError): Error {
  let error: Error;
  if (wire.code === "LEASE_LOST" && wire.elementId !== undefined && wire.lease !== undefined) {
    error = new LeaseLostError(wire.elementId, wire.lease);
  } else if (wire.code === "INPUT_INVALID" && wire.issues !== undefined) {
    error = new StoreInputError("input", wire.issues);
  } else if (wire.code === "STORE_UNAVAILABLE") {
    error = new StoreUnavailableError(wire.message);
  } else if (wire.code !== undefined) {
    error = new StoreError(wire.code as StoreErrorCode, wire.message);
  } else {
    error = new Error(wire.message);
  }
  // The message as the store wrote it (the classes above may word theirs differently).
  Object.defineProperty(error, "message", { value: wire.message, writable: true });
  return error;
}

const encoder = new TextEncoder();

/** Writes lines to a connection, one at a time, in order. */
export class LineWriter {
  readonly #conn: Deno.Conn;
  #chain: Promise<void> = Promise.resolve();

  /** Creates a writer on `conn`. */
  constructor(conn: Deno.Conn) {
    this.#conn = conn;
  }

  /** Sends one message; rejects when the connection is gone. */
  send(message: unknown): Promise<void> {
    return this.sendLine(JSON.stringify(message));
  }

  /** Sends one line of JSON (without its newline). */
  sendLine(line: string): Promise<void> {
    const bytes = encoder.encode(line + "\n");
    const write = this.#chain.then(async () => {
      let written = 0;
      while (written < bytes.length) written += await this.#conn.write(bytes.subarray(written));
    });
    this.#chain = write.catch(() => {});
    return write;
  }
}

/**
 * Reads a connection line by line and hands each parsed message to `onMessage`; resolves when
 * the connection ends. Rejects on a line longer than {@link MAX_LINE_BYTES} or one that is not
 * JSON (the peer is not speaking this protocol).
 */
export async function readMessages(
  conn: Deno.Conn,
  onMessage: (message: Record<string, unknown>) => void,
): Promise<void> {
  const decoder = new TextDecoder();
  // One small buffer per connection, reused for every read: admin holds one connection per
  // child and a read waits on each all the time; calls and answers are mostly short lines (a
  // long one, a listing, is read in several pieces).
  const chunk = new Uint8Array(4 * 1024);
  let buffer = "";
  for (;;) {
    let count: number | null;
    try {
      count = await conn.read(chunk);
    } catch (error) {
      if (error instanceof Deno.errors.BadResource || error instanceof Deno.errors.Interrupted) {
        break; // Closed by this side.
      }
      throw error;
    }
    if (count === null) break;
    buffer += decoder.decode(chunk.subarray(0, count), { stream: true });
    let newline: number;
    while ((newline = buffer.indexOf("\n")) >= 0) {
      const line = buffer.slice(0, newline);
      buffer = buffer.slice(newline + 1);
      if (line.length === 0) continue;
      const message = JSON.parse(line) as unknown;
      if (typeof message !== "object" || message === null || Array.isArray(message)) {
        throw new Error("a store channel message must be a JSON object");
      }
      onMessage(message as Record<string, unknown>);
    }
    if (buffer.length > MAX_LINE_BYTES) throw new Error("store channel line too long");
  }
}

/** Compares two tokens in time that does not depend on where they differ. */
export function sameToken(a: string, b: string): boolean {
  const x = encoder.encode(a);
  const y = encoder.encode(b);
  let diff = x.length ^ y.length;
  for (let i = 0; i < Math.max(x.length, y.length); i++) diff |= (x[i] ?? 0) ^ (y[i] ?? 0);
  return diff === 0;
}
