import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { parseElement } from "../store/mod.ts";
import {
  defaultJournalDir,
  type JournalEntry,
  readJournalEntry,
  replayJournal,
  StateJournal,
} from "./state_journal.ts";

const NOW = Date.UTC(2026, 2, 3, 12, 0, 0);
const DAY = {
  date: "2026-03-03",
  start_balance: 10_000,
  start_equity: 10_000,
  high_equity: 10_100,
  baseline: 10_000,
};
const PEAK = {
  initial_balance: 10_000,
  high_balance: 10_000,
  high_equity: 11_100,
  since: NOW - 3_600_000,
};

function element(fields: Record<string, unknown> = {}) {
  const parsed = parseElement({ _id: "e1", server: "S", login: 1, password: "p", ...fields });
  assert.ok(parsed.valid);
  return parsed.element;
}

function entry(fields: Partial<JournalEntry> = {}): JournalEntry {
  return {
    version: 1,
    element_id: "e1",
    lease: 3,
    written_at: NOW - 60_000,
    trading: "LOCKED",
    locked_until: null,
    lock_reason: "firm rule broken",
    day: DAY,
    peak: PEAK,
    unlock_applied_at: null,
    flatten: [],
    ...fields,
  };
}

Deno.test("replayJournal: an unwritten lock, day and peak come back", () => {
  const replay = replayJournal(element(), entry(), NOW);
  assert.deepEqual(replay.patch, {
    trading: "LOCKED",
    locked_until: null,
    lock_reason: "firm rule broken",
    day: DAY,
    peak: PEAK,
  });
  assert.equal(replay.element.trading, "LOCKED");
  assert.deepEqual(replay.element.peak, PEAK);
});

Deno.test("replayJournal: a person's unlock after the journal wins over its lock", () => {
  const replay = replayJournal(element({ unlocked_at: NOW - 1_000 }), entry(), NOW);
  assert.equal(replay.patch.trading, undefined);
  assert.equal(replay.element.trading, "ALLOWED");
  assert.match(replay.notes.join(), /a person unlocked the account since/);
});

Deno.test("replayJournal: an ended day lock and older day/peak are not replayed", () => {
  const ended = entry({ trading: "LOCKED_DAY", locked_until: NOW - 1 });
  const newerMetrics = {
    metrics: { balance: 1, equity: 1, daily_pl: 0, positions: 0, orders: 0, updated_at: NOW - 1 },
  };
  const replay = replayJournal(element(newerMetrics), ended, NOW);
  assert.deepEqual(replay.patch, {});
  assert.equal(replay.element.trading, "ALLOWED");
});

Deno.test("replayJournal: a weaker journal lock never replaces a stronger stored one", () => {
  const stored = element({ trading: "LOCKED", lock_reason: "dd" });
  const replay = replayJournal(
    stored,
    entry({ trading: "LOCKED_DAY", locked_until: NOW + 1 }),
    NOW,
  );
  assert.equal(replay.patch.trading, undefined);
  assert.equal(replay.element.lock_reason, "dd");
});

Deno.test("StateJournal: save, load and clear; a damaged file is moved aside", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const journal = new StateJournal(`${dir}/j`, "e1");
    assert.equal(await journal.load(), undefined);
    await journal.save(
      {
        lock: { trading: "LOCKED", lockedUntil: null, reason: "r" },
        day: DAY,
        peak: null,
        unlockAppliedAt: 5,
        flatten: ["close_all"],
      },
      3,
      NOW,
    );
    const loaded = await journal.load();
    assert.equal(loaded?.trading, "LOCKED");
    assert.deepEqual(loaded?.flatten, ["close_all"]);
    if (Deno.build.os !== "windows") {
      assert.equal((await Deno.stat(journal.path)).mode! & 0o777, 0o600);
    }
    await journal.clear();
    assert.equal(await journal.load(), undefined);
    await Deno.writeTextFile(journal.path, "{not json");
    await assert.rejects(journal.load(), /not valid for element e1: moved aside/);
    assert.ok((await Deno.stat(`${journal.path}.bad`)).isFile);
    assert.equal(await journal.load(), undefined);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("readJournalEntry: a written entry reads back; a broken one names its field", () => {
  const written = entry({ flatten: ["cancel_orders"], locked_until: NOW + 1 });
  assert.deepEqual(readJournalEntry(JSON.parse(JSON.stringify(written))), written);
  const { flatten: _, ...older } = written; // files written before `flatten` existed
  assert.deepEqual(readJournalEntry({ ...older, future: 1 }), { ...older, flatten: [] });
  assert.equal(
    readJournalEntry({ ...written, day: { ...DAY, date: "3 March" } }),
    'day.date: must be a date "YYYY-MM-DD", got the string "3 March"',
  );
  assert.equal(
    readJournalEntry({ ...written, peak: { ...PEAK, since: undefined } }),
    "peak.since: is required",
  );
  assert.equal(
    readJournalEntry({ ...written, trading: "OPEN" }),
    'trading: expected one of ALLOWED, LOCKED_DAY, LOCKED, got the string "OPEN"',
  );
  assert.equal(
    readJournalEntry({ ...written, locked_until: undefined }),
    "locked_until: expected an integer >= 0 or null, got nothing",
  );
  assert.equal(readJournalEntry(null), "(entry): expected an object, got null");
});

Deno.test("defaultJournalDir: the env override, else a per-store folder with no address in it", () => {
  assert.equal(
    defaultJournalDir({ RISKGUARD_JOURNAL_DIR: "/x" }, "sqlite:a.db", "riskguard"),
    "/x",
  );
  const a = defaultJournalDir({ HOME: "/home/u" }, "mongodb://u:secret@h/x", "riskguard");
  const b = defaultJournalDir({ HOME: "/home/u" }, "sqlite:a.db", "riskguard");
  assert.match(a, /^\/home\/u\/\.local\/state\/riskguard\/journal\/[0-9a-f]{16}$/);
  assert.notEqual(a, b);
  assert.ok(!a.includes("secret"));
  // The key must not change across versions, or an upgrade would not find its journals.
  const key = createHash("sha256").update("sqlite:a.db\u0000riskguard").digest("hex");
  assert.equal(b, `/home/u/.local/state/riskguard/journal/${key.slice(0, 16)}`);
});
