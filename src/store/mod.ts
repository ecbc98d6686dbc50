/**
 * The store: the `Store` port (`types.ts`), its document schemas, errors, password
 * encryption and {@link openStore}, which picks the adapter from the `--store` value.
 *
 * This module only re-exports. It does not re-export `MongoStore`: the MongoDB driver is loaded
 * (by a dynamic import in `open_store.ts`) only by a process whose store is MongoDB, so a risk
 * process on SQLite, the demo and the CLI on SQLite never pay for it. Import
 * `./mongo_store.ts` directly where the MongoDB adapter itself is wanted.
 *
 * @module
 */
export type * from "./types.ts";
export * from "./schemas.ts";
export * from "./errors.ts";
export { CONFIG_ELEMENT_FIELDS, MANAGED_FIELD_REASON } from "./_config_change.ts";
export { DEFAULT_STALE_MS } from "../shared/stale.ts";
export { DEFAULT_SAMPLE_RETENTION_MS } from "./_validation.ts";
export {
  decryptPassword,
  encryptPassword,
  isEncryptedPassword,
  revealPassword,
} from "./password.ts";
export {
  DEFAULT_STORE,
  openStore,
  type OpenStoreOptions,
  parseStoreSpec,
  type StoreSpec,
  withStore,
} from "./open_store.ts";
export { SqliteStore, type SqliteStoreOptions } from "./sqlite_store.ts";
export {
  CHANNEL_ADDRESS_ENV,
  CHANNEL_TOKEN_ENV,
  ChannelStore,
  type ChannelStoreOptions,
} from "./channel_store.ts";
export { newChannelToken, type StoreChannelOptions, StoreChannelServer } from "./channel_server.ts";
