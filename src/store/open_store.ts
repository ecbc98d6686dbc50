/**
 * Selects and opens the store adapter named by `--store`:
 *
 * - `mongodb://...` or `mongodb+srv://...` -> {@link MongoStore};
 * - `sqlite:<path>` or a plain file path -> {@link SqliteStore};
 * - nothing -> `sqlite:riskguard.db` in the working directory.
 *
 * The MongoDB adapter (and with it the MongoDB driver) is loaded by a dynamic `import()` only
 * when the store is MongoDB: a risk process, the demo or a command on SQLite never loads it.
 * The specifier is a string literal, so `deno compile` still finds and embeds the module.
 *
 * @module
 */
import type { Store } from "./types.ts";
import { SqliteStore } from "./sqlite_store.ts";
import { StoreError } from "./errors.ts";

/** The default `--store`. */
export const DEFAULT_STORE = "sqlite:riskguard.db";

/** A parsed `--store` value. */
export type StoreSpec = { kind: "mongodb"; uri: string } | { kind: "sqlite"; path: string };

/** Options of {@link openStore}. */
export interface OpenStoreOptions {
  /** MongoDB database name (default `riskguard`). */
  db?: string;
  /** MongoDB: connection attempts (default 4). */
  connectAttempts?: number;
  /** MongoDB: server selection timeout per attempt, ms (default 5 000). */
  serverSelectionTimeoutMs?: number;
  /** SQLite: how long a write waits for the lock, ms (default 10 000). */
  busyTimeoutMs?: number;
  /** SQLite: how often a change feed polls the change table, ms (default 25). */
  feedPollMs?: number;
}

/**
 * Parses a `--store` value.
 *
 * @throws {StoreError} `INPUT_INVALID` for an empty value or an unknown scheme.
 */
export function parseStoreSpec(value: string | undefined): StoreSpec {
  const spec = (value ?? DEFAULT_STORE).trim();
  if (spec === "") throw new StoreError("INPUT_INVALID", "Empty --store value");
  if (/^mongodb(\+srv)?:\/\//i.test(spec)) return { kind: "mongodb", uri: spec };
  if (/^sqlite:/i.test(spec)) {
    const path = spec.slice("sqlite:".length).replace(/^\/\/(?=\/)/, "");
    if (path === "") throw new StoreError("INPUT_INVALID", "--store sqlite: needs a file path");
    return { kind: "sqlite", path };
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(spec)) {
    throw new StoreError(
      "INPUT_INVALID",
      `Unsupported --store scheme in ${spec.replace(/\/\/.*$/, "//...")}: use mongodb://, ` +
        "mongodb+srv://, sqlite:<path> or a file path",
    );
  }
  return { kind: "sqlite", path: spec };
}

/**
 * Opens the store named by `spec` and ensures its indexes.
 *
 * @throws {StoreError} `STORE_UNAVAILABLE` when it cannot be reached (password masked),
 * `INPUT_INVALID` for a malformed value.
 */
export async function openStore(
  spec: string | undefined,
  options: OpenStoreOptions = {},
): Promise<Store> {
  const parsed = parseStoreSpec(spec);
  if (parsed.kind === "mongodb") {
    const { MongoStore } = await import("./mongo_store.ts");
    return await MongoStore.open({
      uri: parsed.uri,
      ...(options.db === undefined ? {} : { db: options.db }),
      ...(options.connectAttempts === undefined
        ? {}
        : { connectAttempts: options.connectAttempts }),
      ...(options.serverSelectionTimeoutMs === undefined
        ? {}
        : { serverSelectionTimeoutMs: options.serverSelectionTimeoutMs }),
    });
  }
  return await SqliteStore.open({
    path: parsed.path,
    ...(options.busyTimeoutMs === undefined ? {} : { busyTimeoutMs: options.busyTimeoutMs }),
    ...(options.feedPollMs === undefined ? {} : { feedPollMs: options.feedPollMs }),
  });
}

/**
 * Opens the store, runs `body` with it and closes it, also when `body` throws. For short
 * commands (`riskguard elements ...`, `riskguard status`).
 */
export async function withStore<T>(
  spec: string | undefined,
  options: OpenStoreOptions,
  body: (store: Store) => Promise<T>,
): Promise<T> {
  const store = await openStore(spec, options);
  try {
    return await body(store);
  } finally {
    await store.close();
  }
}
