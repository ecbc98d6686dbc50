import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { StatementCache } from "./_statements.ts";

Deno.test("StatementCache: one statement per SQL text, reused; the least recently used goes first", () => {
  const db = new DatabaseSync(":memory:");
  try {
    const cache = new StatementCache(db, 2);
    const one = cache.get("SELECT 1 AS v");
    assert.equal(cache.get("SELECT 1 AS v"), one);
    const two = cache.get("SELECT 2 AS v");
    cache.get("SELECT 1 AS v"); // used last: "SELECT 2" is now the oldest
    cache.get("SELECT 3 AS v");
    assert.equal(cache.size, 2);
    assert.equal(cache.get("SELECT 1 AS v"), one);
    assert.notEqual(cache.get("SELECT 2 AS v"), two, "evicted, prepared again");
    assert.deepEqual({ ...cache.get("SELECT 2 AS v").get() }, { v: 2 });
  } finally {
    db.close();
  }
});

Deno.test("StatementCache: a statement that failed on a locked database works when used again", () => {
  const dir = Deno.makeTempDirSync({ prefix: "riskguard-statements-" });
  const a = new DatabaseSync(`${dir}/t.db`);
  const b = new DatabaseSync(`${dir}/t.db`);
  try {
    a.exec("CREATE TABLE t (v TEXT)");
    b.exec("PRAGMA busy_timeout = 0");
    const cache = new StatementCache(b);
    a.exec("BEGIN IMMEDIATE");
    assert.throws(() => cache.get("INSERT INTO t (v) VALUES (?)").run("x"), /locked/);
    a.exec("COMMIT");
    assert.equal(cache.get("INSERT INTO t (v) VALUES (?)").run("y").changes, 1);
    assert.deepEqual({ ...cache.get("SELECT v FROM t").get() }, { v: "y" });
  } finally {
    a.close();
    b.close();
    Deno.removeSync(dir, { recursive: true });
  }
});
