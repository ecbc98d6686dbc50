/**
 * The prepared statements of one `node:sqlite` connection, each prepared once per SQL text and
 * reused (folder-private).
 *
 * Why: a statement prepared per call (a ping every second, a metrics write, the change feed's
 * poll every 25 ms) holds its native SQLite memory until V8 happens to collect its small wrapper
 * in a major collection, and V8 does not count that memory, so it waits: a risk process's RSS
 * crept up for as long as it ran. Reused statements cost that memory once. `node:sqlite` resets
 * a statement after every use, also after a failed one (a busy database), so reuse is safe.
 *
 * The cache is bounded ({@link MAX_STATEMENTS}, least recently used dropped first) because a
 * few SQL texts are built per call (an events query with N types, the reaper's host clause); the
 * statements a process keeps using stay. `node:sqlite` offers no `finalize()`: closing the
 * connection finalizes every statement it prepared, and {@link StatementCache.clear} lets go of
 * the wrappers at the same moment.
 *
 * @module
 */
import type { DatabaseSync, StatementSync } from "node:sqlite";

/** Statements kept per connection: far more than the distinct SQL texts a process uses. */
export const MAX_STATEMENTS = 64;

/** See the module documentation. */
export class StatementCache {
  readonly #db: DatabaseSync;
  readonly #max: number;
  /** In order of last use, oldest first (a `Map` keeps insertion order). */
  readonly #statements = new Map<string, StatementSync>();

  /** A cache over `db` keeping at most `max` statements. */
  constructor(db: DatabaseSync, max = MAX_STATEMENTS) {
    this.#db = db;
    this.#max = Math.max(1, max);
  }

  /** Statements held now. */
  get size(): number {
    return this.#statements.size;
  }

  /** The statement of `sql`, prepared on its first use. */
  get(sql: string): StatementSync {
    let statement = this.#statements.get(sql);
    if (statement !== undefined) {
      this.#statements.delete(sql);
    } else {
      statement = this.#db.prepare(sql);
      if (this.#statements.size >= this.#max) {
        const oldest = this.#statements.keys().next().value;
        if (oldest !== undefined) this.#statements.delete(oldest);
      }
    }
    this.#statements.set(sql, statement);
    return statement;
  }

  /** Forgets every statement (the connection is closing, which finalizes them). */
  clear(): void {
    this.#statements.clear();
  }
}
