/**
 * Fixtures that give the contract suite a fresh, isolated store of each adapter: a new SQLite
 * file in a temp dir, or a new database on the test MongoDB. Also raw access, to plant
 * documents that bypass validation (as other systems might write them).
 *
 * @module
 */
import { DatabaseSync } from "node:sqlite";
import { MongoClient, ObjectId } from "mongodb";
import { openStore, type Store } from "../../src/store/mod.ts";
import { type MongoHandle, startMongo } from "../support/mongo_server.ts";

/** One isolated database with a store open on it. */
export interface Fixture {
  /** The store under test. */
  store: Store;
  /** The `--store` value of this database (for child processes). */
  spec: string;
  /** The MongoDB database name (`riskguard` for SQLite, unused). */
  db: string;
  /** Opens another store on the same database (another connection). */
  connect(): Promise<Store>;
  /** Writes a document as is, bypassing validation. */
  insertRaw(collection: string, doc: Record<string, unknown>): Promise<void>;
  /** Reads a document as stored. */
  readRaw(collection: string, id: string): Promise<Record<string, unknown> | null>;
  /** Closes the store and removes the database. */
  dispose(): Promise<void>;
}

/** Creates fixtures of one adapter. */
export interface Adapter {
  /** `sqlite` or `mongodb`. */
  name: string;
  /** A fresh database. */
  fresh(): Promise<Fixture>;
  /** Stops what the adapter started. */
  stop(): Promise<void>;
}

/** The SQLite adapter: one temp dir per fixture. */
export function sqliteAdapter(): Adapter {
  return {
    name: "sqlite",
    async fresh() {
      const dir = await Deno.makeTempDir({ prefix: "riskguard-store-" });
      const path = `${dir}/test.db`;
      const spec = `sqlite:${path}`;
      // A fast change-feed poll keeps the feed cases quick (the default is 25 ms).
      const store = await openStore(spec, { feedPollMs: 10 });
      return {
        store,
        spec,
        db: "riskguard",
        connect: () => openStore(spec, { feedPollMs: 10 }),
        insertRaw(collection, doc) {
          const db = new DatabaseSync(path);
          try {
            db.exec("PRAGMA busy_timeout = 5000");
            if (collection === "events") {
              db.prepare("INSERT INTO events (id, element_id, at, doc) VALUES (?, ?, ?, ?)").run(
                String(doc._id),
                String(doc.element_id),
                typeof doc.at === "number" ? doc.at : 0,
                JSON.stringify(doc),
              );
            } else {
              db.prepare(`INSERT INTO ${collection} (id, doc) VALUES (?, ?)`).run(
                String(doc._id),
                JSON.stringify(doc),
              );
            }
          } finally {
            db.close();
          }
          return Promise.resolve();
        },
        readRaw(collection, id) {
          const db = new DatabaseSync(path);
          try {
            const row = db.prepare(`SELECT doc FROM ${collection} WHERE id = ?`).get(id);
            return Promise.resolve(
              row === undefined ? null : JSON.parse(String(row.doc)) as Record<string, unknown>,
            );
          } finally {
            db.close();
          }
        },
        async dispose() {
          await store.close();
          await Deno.remove(dir, { recursive: true });
        },
      };
    },
    stop: () => Promise.resolve(),
  };
}

/** The MongoDB adapter, or the reason it is skipped. */
export async function mongoAdapter(): Promise<Adapter | { skip: string }> {
  const started = await startMongo();
  if (!started.ok) return { skip: started.reason };
  const server: MongoHandle = started.server;
  const client = new MongoClient(server.uri, { serverSelectionTimeoutMS: 5_000 });
  await client.connect();
  return {
    name: "mongodb",
    async fresh() {
      const db = `rg_test_${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`;
      const store = await openStore(server.uri, { db });
      return {
        store,
        spec: server.uri,
        db,
        connect: () => openStore(server.uri, { db }),
        async insertRaw(collection, doc) {
          const id = String(doc._id);
          const key = /^[0-9a-f]{24}$/.test(id) ? new ObjectId(id) : id;
          await client.db(db).collection<{ _id: ObjectId | string }>(collection).insertOne({
            ...doc,
            _id: key,
          });
        },
        async readRaw(collection, id) {
          const key = /^[0-9a-f]{24}$/.test(id) ? new ObjectId(id) : id;
          return await client.db(db).collection<{ _id: ObjectId | string }>(collection).findOne({
            _id: key,
          });
        },
        async dispose() {
          await store.close();
          await client.db(db).dropDatabase().catch(() => {});
        },
      };
    },
    async stop() {
      await client.close();
      await server.stop();
    },
  };
}
