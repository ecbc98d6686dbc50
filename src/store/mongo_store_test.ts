/**
 * Unit tests of MongoStore helpers (the shared behaviour is in `tests/store/_contract.ts`).
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  MongoDriverError,
  MongoError,
  MongoErrorLabel,
  MongoNetworkError,
  MongoNetworkTimeoutError,
  MongoNotConnectedError,
  MongoOperationTimeoutError,
  MongoServerClosedError,
  MongoServerError,
  MongoTopologyClosedError,
} from "mongodb";
import { mapMongoError } from "./mongo_store.ts";
import { StoreError } from "./errors.ts";

const DESC = "mongodb://db.example:27017/riskguard";

/** A driver error of a class the driver does not export (pool errors), by its name. */
function named(name: string, message: string): Error {
  const error = new MongoDriverError(message);
  Object.defineProperty(error, "name", { value: name });
  return error;
}

function labelled(label: string): MongoError {
  const error = new MongoError("connection reset");
  error.addErrorLabel(label);
  return error;
}

function serverError(code: number, codeName: string): MongoServerError {
  return new MongoServerError({ ok: 0, code, codeName, errmsg: `${codeName} happened` });
}

function codeOf(error: unknown): string | undefined {
  return error instanceof StoreError ? error.code : undefined;
}

Deno.test("mapMongoError: unreachable-server driver errors are STORE_UNAVAILABLE", () => {
  const cases: [string, Error][] = [
    ["MongoNetworkError", new MongoNetworkError("socket closed")],
    ["MongoNetworkTimeoutError", new MongoNetworkTimeoutError("timed out")],
    ["MongoTopologyClosedError", new MongoTopologyClosedError()],
    ["MongoNotConnectedError", new MongoNotConnectedError("not connected")],
    ["MongoServerClosedError", new MongoServerClosedError()],
    ["MongoOperationTimeoutError", new MongoOperationTimeoutError("operation timed out")],
    ["MongoPoolClosedError", named("MongoPoolClosedError", "pool closed")],
    ["MongoPoolClearedError", named("MongoPoolClearedError", "pool cleared")],
    ["MongoWaitQueueTimeoutError", named("MongoWaitQueueTimeoutError", "wait queue timeout")],
    ["RetryableWriteError label", labelled(MongoErrorLabel.RetryableWriteError)],
    ["ResetPool label", labelled(MongoErrorLabel.ResetPool)],
    ["NotWritablePrimary", serverError(10107, "NotWritablePrimary")],
    ["NotPrimaryNoSecondaryOk", serverError(13435, "NotPrimaryNoSecondaryOk")],
    ["InterruptedAtShutdown", serverError(11600, "InterruptedAtShutdown")],
    ["InterruptedDueToReplStateChange", serverError(11602, "InterruptedDueToReplStateChange")],
    ["ShutdownInProgress", serverError(91, "ShutdownInProgress")],
    ["PrimarySteppedDown", serverError(189, "PrimarySteppedDown")],
  ];
  for (const [what, error] of cases) {
    const mapped = mapMongoError(error, DESC);
    assert.equal(codeOf(mapped), "STORE_UNAVAILABLE", `${what}: ${String(mapped)}`);
    assert.equal((mapped as Error).cause, error, what);
    assert.match((mapped as Error).message, /unreachable/, what);
  }
});

Deno.test("mapMongoError: other errors keep their meaning", () => {
  const duplicate = mapMongoError(serverError(11000, "DuplicateKey"), DESC);
  assert.equal(codeOf(duplicate), "STORE_CONFLICT");
  const other = serverError(2, "BadValue");
  assert.equal(mapMongoError(other, DESC), other);
  const plain = new TypeError("bug");
  assert.equal(mapMongoError(plain, DESC), plain);
  const store = new StoreError("LEASE_LOST", "gone");
  assert.equal(mapMongoError(store, DESC), store);
  const unlabelled = new MongoError("something else");
  assert.equal(mapMongoError(unlabelled, DESC), unlabelled);
});
