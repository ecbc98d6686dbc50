import assert from "node:assert/strict";
import { openStore, parseStoreSpec } from "./open_store.ts";
import { MongoStore } from "./mongo_store.ts";
import { SqliteStore } from "./sqlite_store.ts";

Deno.test("parseStoreSpec selects the adapter from --store", () => {
  assert.deepEqual(parseStoreSpec("mongodb://u:p@h:27017/x"), {
    kind: "mongodb",
    uri: "mongodb://u:p@h:27017/x",
  });
  assert.deepEqual(parseStoreSpec("mongodb+srv://cluster0.example.net"), {
    kind: "mongodb",
    uri: "mongodb+srv://cluster0.example.net",
  });
  assert.deepEqual(parseStoreSpec("sqlite:data/rg.db"), { kind: "sqlite", path: "data/rg.db" });
  assert.deepEqual(parseStoreSpec("sqlite:///abs/rg.db"), { kind: "sqlite", path: "/abs/rg.db" });
  assert.deepEqual(parseStoreSpec("C:\\rg\\rg.db"), { kind: "sqlite", path: "C:\\rg\\rg.db" });
  assert.deepEqual(parseStoreSpec("./rg.db"), { kind: "sqlite", path: "./rg.db" });
  assert.deepEqual(parseStoreSpec(undefined), { kind: "sqlite", path: "riskguard.db" });
  assert.throws(() => parseStoreSpec("postgres://u:pw@h/db"), (error: Error) => {
    assert.equal((error as Error & { code: string }).code, "INPUT_INVALID");
    assert.ok(!error.message.includes("pw"));
    return true;
  });
  assert.throws(() => parseStoreSpec("sqlite:"), { code: "INPUT_INVALID" });
  assert.throws(() => parseStoreSpec("  "), { code: "INPUT_INVALID" });
});

Deno.test("openStore opens a SQLite file and the default adapter is SQLite", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const store = await openStore(`sqlite:${dir}/a.db`);
    assert.ok(store instanceof SqliteStore);
    assert.equal(store.kind, "sqlite");
    await store.close();
    const plain = await openStore(`${dir}/b.db`);
    assert.ok(plain instanceof SqliteStore);
    await plain.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("an unopenable SQLite path is STORE_UNAVAILABLE", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await assert.rejects(openStore(`sqlite:${dir}/missing/dir/x.db`), {
      code: "STORE_UNAVAILABLE",
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("an unreachable MongoDB is STORE_UNAVAILABLE and its message hides the password", async () => {
  const uri = "mongodb://admin:hunter2-secret@127.0.0.1:9/?directConnection=true";
  const error = await openStore(uri, { connectAttempts: 2, serverSelectionTimeoutMs: 200 }).then(
    () => assert.fail("connected to nothing"),
    (error: Error & { code?: string }) => error,
  );
  assert.equal(error.code, "STORE_UNAVAILABLE");
  assert.ok(!error.message.includes("hunter2"), error.message);
  assert.match(error.message, /127\.0\.0\.1:9/);
  assert.match(error.message, /2 attempts/);
});

Deno.test("a malformed MongoDB URI is INPUT_INVALID without the password", async () => {
  const error = await MongoStore.open({ uri: "mongodb://u:pw-x@" }).then(
    () => assert.fail("opened"),
    (error: Error & { code?: string }) => error,
  );
  assert.ok(error.code === "INPUT_INVALID" || error.code === "STORE_UNAVAILABLE", error.message);
  assert.ok(!error.message.includes("pw-x"), error.message);
});
