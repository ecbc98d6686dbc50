/**
 * The contract suite of the Store port: the same cases run against every adapter
 * (`sqlite_contract_test.ts`, `mongo_contract_test.ts`). Each case gets a fresh database.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  type ElementChange,
  type ElementFeed,
  type LeaseRef,
  MANAGED_FIELD_REASON,
  type ParsedElement,
  type Store,
} from "../../src/store/mod.ts";
import type { Adapter, Fixture } from "./_harness.ts";

const MIN = 60_000;
const T0 = 1_700_000_000_000;

/** A valid element document with the given overrides. */
export function account(login: number, extra: Record<string, unknown> = {}) {
  return { server: "Demo-Server", login, password: `pw-${login}`, ...extra };
}

/** Inserts a valid element and returns its id. */
export async function addElement(store: Store, login: number, extra: Record<string, unknown> = {}) {
  const result = await store.insertElement(account(login, extra), T0);
  if (!result.ok) throw new Error(`fixture element invalid: ${result.field} ${result.reason}`);
  return result.element.id;
}

/** Asserts that `promise` rejects with a RiskGuardError of `code`; returns the error. */
export async function rejectsWith(promise: Promise<unknown>, code: string): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof Error, `expected an Error, got ${String(error)}`);
    assert.equal((error as Error & { code?: string }).code, code, `${error.message}`);
    return error;
  }
  assert.fail(`expected a rejection with code ${code}`);
}

function valid(parsed: ParsedElement | null) {
  assert.ok(parsed !== null, "element missing");
  assert.ok(parsed.valid, parsed.valid ? "" : `invalid: ${parsed.field} ${parsed.reason}`);
  return parsed.element;
}

/** Reads changes from a feed until `until` says stop; fails after `max` changes. */
export async function collect(
  feed: ElementFeed,
  until: (change: ElementChange, all: ElementChange[]) => boolean,
  max = 10_000,
): Promise<ElementChange[]> {
  const all: ElementChange[] = [];
  while (all.length < max) {
    const next = await feed.next();
    if (next.done) break;
    all.push(next.value);
    if (until(next.value, all)) return all;
  }
  throw new Error(`feed ended or exceeded ${max} changes: ${JSON.stringify(all.slice(-5))}`);
}

function upsertIds(changes: ElementChange[]): string[] {
  return changes.flatMap((c) => c.op === "upsert" ? [c.id] : []);
}

/** Fails when two elements reference one instance, or an element's instance is not held by it. */
async function assertOneHolderPerInstance(store: Store): Promise<void> {
  const byInstance = new Map<string, string>();
  for (const parsed of await store.listElements()) {
    if (!parsed.valid || parsed.element.instance_id === null) continue;
    const { _id: id, instance_id } = parsed.element;
    const other = byInstance.get(instance_id);
    assert.equal(other, undefined, `elements ${other} and ${id} both reference ${instance_id}`);
    byInstance.set(instance_id, id);
    const instance = await store.getInstance(instance_id);
    assert.equal(instance?.element_id, id, `instance ${instance_id} is not held by ${id}`);
  }
}

type Case = (fx: Fixture) => Promise<void>;

/** Every case of the contract, by name. */
export const CASES: Record<string, Case> = {
  async "insert, get and list parse limits and fill defaults"(fx) {
    const { store } = fx;
    const result = await store.insertElement(
      account(1001, {
        max_daily_loss: "5%",
        max_position_risk: 250,
        max_drawdown: { limit: "10%", mode: "trailing_equity" },
        daily: { reset: "22:00", timezone: "Europe/London" },
        rules: [{ module: "./rules/x.ts", options: { a: 1 } }],
      }),
      T0,
    );
    assert.ok(result.ok);
    const element = valid(await store.getElement(result.element.id));
    assert.deepEqual(element.max_daily_loss, { kind: "percent", value: 5 });
    assert.deepEqual(element.max_position_risk, { kind: "money", value: 250 });
    assert.deepEqual(element.max_drawdown?.limit, { kind: "percent", value: 10 });
    assert.equal(element.status, "PENDING");
    assert.equal(element.trading, "ALLOWED");
    assert.equal(element.lease, 0);
    assert.equal(element.warn_at, 0.8);
    assert.deepEqual(element.daily, {
      reset: "22:00",
      timezone: "Europe/London",
      baseline: "balance",
    });
    const raw = await fx.readRaw("elements", result.element.id);
    assert.equal(raw?.max_daily_loss, "5%", "the raw limit is kept in the document");
    await addElement(store, 1002);
    const listed = await store.listElements();
    assert.equal(listed.length, 2);
    assert.deepEqual(listed.map((p) => p.id), [...listed.map((p) => p.id)].sort());
    assert.equal(await store.getElement("000000000000000000000000"), null);
    assert.equal(await store.getElement("no-such-id"), null);
  },

  async "bad element input returns a typed invalid result and writes nothing"(fx) {
    const { store } = fx;
    const cases: [Record<string, unknown>, string][] = [
      [{ server: "S", password: "p" }, "login"],
      [account(1, { max_daily_loss: -5 }), "max_daily_loss"],
      [account(1, { max_profit: "abc%" }), "max_profit"],
      [account(1, { max_position_risk: "100" }), "max_position_risk"],
      [{ server: "S", login: "12345", password: "p" }, "login"],
      [account(1, { status: "SLEEPING" }), "status"],
      [account(1, { daily: { timezone: "Mars/Olympus" } }), "daily.timezone"],
      [account(1, { max_drawdown: { limit: "5%", mode: "sideways" } }), "max_drawdown.mode"],
      [account(1, { warn_at: 1.5 }), "warn_at"],
      [account(1, { trading_hours: { start: "9:00", end: "17:00" } }), "trading_hours.start"],
    ];
    for (const [doc, field] of cases) {
      const result = await store.insertElement(doc);
      assert.equal(result.ok, false, `accepted ${JSON.stringify(doc)}`);
      if (!result.ok) {
        assert.equal(result.field, field, `${JSON.stringify(doc)}: ${result.reason}`);
        assert.ok(result.reason.length > 0);
      }
    }
    assert.equal((await store.listElements()).length, 0);
  },

  async "documents written by others are read as invalid results, never thrown"(fx) {
    const { store } = fx;
    await fx.insertRaw("elements", { _id: "bad-1", server: "S", password: "p", status: "ACTIVE" });
    await fx.insertRaw("elements", {
      _id: "bad-2",
      server: "S",
      login: 7,
      password: "p",
      max_daily_loss: "abc%",
    });
    await fx.insertRaw("elements", { _id: "ok-1", server: "S", login: 8, password: "plain" });
    const one = await store.getElement("bad-1");
    assert.ok(one !== null && !one.valid);
    assert.equal(one.field, "login");
    assert.equal(one.raw.status, "ACTIVE");
    const listed = await store.listElements();
    assert.deepEqual(listed.map((p) => [p.id, p.valid]), [
      ["bad-1", false],
      ["bad-2", false],
      ["ok-1", true],
    ]);
    const two = listed[1]!;
    assert.ok(!two.valid && two.field === "max_daily_loss" && two.reason.includes("abc%"));
    await rejectsWith(store.claimFreeInstance("bad-2", "h", T0), "ELEMENT_INVALID");
    const marked = await store.setElementStatus("bad-2", "ERROR", {
      error: { code: "ELEMENT_INVALID", message: two.reason, at: T0 },
    });
    assert.equal(marked.valid, false);
    assert.equal((await fx.readRaw("elements", "bad-2"))?.status, "ERROR");
    const filtered = await store.listElements({ status: ["ERROR"] });
    assert.deepEqual(filtered.map((p) => p.id), ["bad-2"]);
    await fx.insertRaw("instances", { _id: "inst-bad", path: "C:/x", host: "h", port: "abc" });
    assert.deepEqual(await store.listInstances(), [], "an invalid instance is left out of lists");
    const error = await rejectsWith(store.getInstance("inst-bad"), "INPUT_INVALID");
    assert.match(error.message, /inst-bad.*port/);
  },

  async "status changes, removal and not-found errors"(fx) {
    const { store } = fx;
    const id = await addElement(store, 2001);
    const disabled = valid(await store.setElementStatus(id, "DISABLED", { now: T0 }));
    assert.equal(disabled.status, "DISABLED");
    await rejectsWith(store.setElementStatus("nope", "DISABLED"), "NOT_FOUND");
    assert.equal(await store.removeElement(id), true);
    assert.equal(await store.removeElement(id), false);
    assert.equal(await store.getElement(id), null);
  },

  async "configureElement applies config changes, validates the merged document, and null removes"(
    fx,
  ) {
    const { store } = fx;
    const id = await addElement(store, 2101, {
      max_daily_loss: "5%",
      max_profit: 500,
      max_drawdown: { limit: "10%", mode: "trailing_equity" },
      daily: { reset: "22:00", timezone: "Europe/London" },
      rules: [{ module: "./rules/x.ts", options: { a: 1 } }],
    });
    const changed = await store.configureElement(
      id,
      { max_daily_loss: "3%", max_position_risk: 100, name: "main", require_stop_loss: true },
      T0 + 1_000,
    );
    assert.ok(changed.ok, changed.ok ? "" : `${changed.field} ${changed.reason}`);
    assert.equal(changed.element.id, id);
    assert.deepEqual(changed.element.element.max_daily_loss, { kind: "percent", value: 3 });
    const element = valid(await store.getElement(id));
    assert.deepEqual(element.max_daily_loss, { kind: "percent", value: 3 });
    assert.deepEqual(element.max_position_risk, { kind: "money", value: 100 });
    assert.equal(element.name, "main");
    assert.equal(element.require_stop_loss, true);
    assert.deepEqual(element.max_profit, { kind: "money", value: 500 }, "other fields are kept");
    assert.equal(element.daily.reset, "22:00");
    assert.equal(element.max_drawdown?.mode, "trailing_equity");
    assert.equal(element.rules.length, 1);
    assert.equal(element.updated_at, T0 + 1_000);
    assert.equal(element.created_at, T0);
    const raw = await fx.readRaw("elements", id);
    assert.equal(raw?.max_daily_loss, "3%", "the raw limit is stored");

    // An invalid value is refused naming the field, and nothing of the change is written.
    const before = await fx.readRaw("elements", id);
    const bad = await store.configureElement(
      id,
      { max_daily_loss: "abc%", name: "renamed" },
      T0 + 2_000,
    );
    assert.equal(bad.ok, false);
    assert.ok(!bad.ok);
    assert.equal(bad.field, "max_daily_loss");
    assert.match(bad.reason, /abc%/);
    assert.deepEqual(await fx.readRaw("elements", id), before, "nothing written");
    const several = await store.configureElement(id, { server: " ", warn_at: 1.5 });
    assert.ok(!several.ok);
    assert.deepEqual(several.issues.map((i) => i.field).sort(), ["server", "warn_at"]);
    const nested = await store.configureElement(id, {
      max_drawdown: { limit: "5%", mode: "sideways" },
    });
    assert.ok(!nested.ok && nested.field === "max_drawdown.mode", JSON.stringify(nested));
    const secret = await store.configureElement(id, { password: 424242 });
    assert.ok(!secret.ok && secret.field === "password");
    assert.doesNotMatch(secret.reason, /424242/, "a password value is never shown");
    const notObject = await store.configureElement(id, [] as never);
    assert.ok(!notObject.ok && notObject.field === "(document)");
    assert.deepEqual(await fx.readRaw("elements", id), before, "nothing written by refusals");

    // null removes an optional field (defaults apply again); a required one cannot be removed.
    const removed = await store.configureElement(
      id,
      { max_profit: null, warn_at: null },
      T0 + 3_000,
    );
    assert.ok(removed.ok);
    const after = valid(await store.getElement(id));
    assert.equal(after.max_profit, undefined);
    assert.equal(after.warn_at, 0.8);
    const rawAfter = await fx.readRaw("elements", id);
    assert.ok(rawAfter !== null && !("max_profit" in rawAfter), "max_profit is gone");
    assert.equal(rawAfter.updated_at, T0 + 3_000);
    const required = await store.configureElement(id, { server: null });
    assert.ok(!required.ok && required.field === "server", JSON.stringify(required));
    assert.equal(valid(await store.getElement(id)).server, "Demo-Server");

    // Not-found ids throw.
    await rejectsWith(store.configureElement("missing", { name: "x" }), "NOT_FOUND");
    await rejectsWith(
      store.configureElement("000000000000000000000000", { name: "x" }),
      "NOT_FOUND",
    );
  },

  async "configureElement refuses managed fields and keeps the manager's state"(fx) {
    const { store } = fx;
    const id = await addElement(store, 2201);
    await store.addInstance({ path: "C:/mt5/1", host: "h1" });
    const lease = await store.claimFreeInstance(id, "h1", T0);
    const day = {
      date: "2026-11-24",
      start_balance: 10_000,
      start_equity: 10_000,
      high_equity: 10_000,
      baseline: 10_000,
    };
    await store.updateElement(lease, { day }, T0 + 1);
    const before = await fx.readRaw("elements", id);
    for (const field of ["status", "host", "instance_id", "lease", "last_ping", "day", "_id"]) {
      const result = await store.configureElement(id, { max_profit: 100, [field]: null });
      assert.ok(!result.ok, `${field} was accepted`);
      assert.equal(result.field, field);
      assert.equal(result.reason, MANAGED_FIELD_REASON);
    }
    const many = await store.configureElement(id, { lock_reason: "x", metrics: {}, name: "n" });
    assert.ok(!many.ok);
    assert.equal(many.reason, MANAGED_FIELD_REASON);
    assert.deepEqual(many.issues.map((i) => i.field), ["lock_reason", "metrics"]);
    assert.deepEqual(await fx.readRaw("elements", id), before, "nothing written");

    // A held element is changed without its lease; the holder's lease and state stay.
    const changed = await store.configureElement(id, { max_daily_loss: 300 }, T0 + 2);
    assert.ok(changed.ok);
    const element = valid(await store.getElement(id));
    assert.deepEqual(element.max_daily_loss, { kind: "money", value: 300 });
    assert.equal(element.status, "ACTIVE");
    assert.equal(element.lease, lease.lease);
    assert.equal(element.instance_id, lease.instance_id);
    assert.deepEqual(element.day, day);
    await store.ping(lease, T0 + 3);
    await store.updateElement(lease, { trading: "LOCKED_DAY" }, T0 + 4);

    // Concurrent manager writes and config changes of other fields are all kept.
    for (let n = 1; n <= 8; n++) {
      await Promise.all([
        store.configureElement(id, { name: `name-${n}` }, T0 + 10 + n),
        store.configureElement(id, { max_open_positions: n }, T0 + 10 + n),
        store.updateElement(lease, { day: { ...day, start_balance: n } }, T0 + 10 + n),
      ]);
      const now = valid(await store.getElement(id));
      assert.equal(now.name, `name-${n}`);
      assert.equal(now.max_open_positions, n);
      assert.equal(now.day?.start_balance, n);
      assert.equal(now.trading, "LOCKED_DAY");
    }

    // A password replaces the other form, so that the new one is used.
    const enc = await store.configureElement(id, { password_enc: "v1:aaaa:bbbb" });
    assert.ok(enc.ok);
    let raw = await fx.readRaw("elements", id);
    assert.ok(raw !== null && !("password" in raw) && raw.password_enc === "v1:aaaa:bbbb");
    const plain = await store.configureElement(id, { password: "new-pw" });
    assert.ok(plain.ok);
    raw = await fx.readRaw("elements", id);
    assert.ok(raw !== null && !("password_enc" in raw) && raw.password === "new-pw");
  },

  async "configureElement trading ALLOWED unlocks; other trading values are refused"(fx) {
    const { store } = fx;
    const id = await addElement(store, 2301);
    await store.addInstance({ path: "C:/mt5/1", host: "h1" });
    const lease = await store.claimFreeInstance(id, "h1", T0);
    await store.updateElement(lease, {
      trading: "LOCKED_DAY",
      lock_reason: "max daily loss",
      locked_until: T0 + 60 * MIN,
    }, T0 + 1);
    const before = await fx.readRaw("elements", id);
    for (const value of ["LOCKED", "LOCKED_DAY", "allowed", null, 1]) {
      const result = await store.configureElement(id, { trading: value });
      assert.ok(!result.ok, `trading ${String(value)} was accepted`);
      assert.equal(result.field, "trading");
      assert.match(result.reason, /ALLOWED/);
    }
    assert.deepEqual(await fx.readRaw("elements", id), before, "nothing written");
    const unlocked = await store.configureElement(id, { trading: "ALLOWED" }, T0 + 2);
    assert.ok(unlocked.ok);
    assert.equal(unlocked.element.element.trading, "ALLOWED");
    const element = valid(await store.getElement(id));
    assert.equal(element.trading, "ALLOWED");
    assert.equal(element.lock_reason, null);
    assert.equal(element.locked_until, null);
    assert.equal(element.unlocked_at, T0 + 2, "the person's unlock is recorded");
    assert.equal(element.unlock_applied_at, null);
    assert.equal(element.status, "ACTIVE");
    assert.equal(element.lease, lease.lease, "unlocking does not move the lease");
    await store.ping(lease, T0 + 3);
    // The risk process records the unlock it saw take effect on the EA; a person cannot.
    await store.updateElement(lease, { unlock_applied_at: T0 + 2 }, T0 + 4);
    assert.equal(valid(await store.getElement(id)).unlock_applied_at, T0 + 2);
    const refused = await store.configureElement(id, { unlock_applied_at: 1 });
    assert.ok(!refused.ok);
    assert.equal(refused.field, "unlock_applied_at");
  },

  async "configureElement changes reach a single-element feed"(fx) {
    const { store } = fx;
    const a = await addElement(store, 2401);
    const b = await addElement(store, 2402, { max_daily_loss: "5%" });
    await store.addInstance({ path: "C:/mt5/1", host: "h1" });
    const lease = await store.claimFreeInstance(b, "h1", T0);
    const feed = store.watchElements({ elementId: b });
    try {
      await collect(feed, (c) => c.op === "synced");
      await store.configureElement(a, { name: "not watched" });
      await store.configureElement(b, { max_daily_loss: "2%" });
      const changes = await collect(feed, (c) => c.op === "upsert");
      assert.deepEqual(upsertIds(changes), [b]);
      const change = changes.at(-1)!;
      assert.ok(change.op === "upsert" && change.source === "change" && change.element.valid);
      assert.deepEqual(change.element.element.max_daily_loss, { kind: "percent", value: 2 });

      await store.updateElement(lease, { trading: "LOCKED_DAY", lock_reason: "loss" }, T0 + 1);
      await collect(
        feed,
        (c) => c.op === "upsert" && c.element.valid && c.element.element.trading === "LOCKED_DAY",
      );
      await store.configureElement(b, { trading: "ALLOWED" });
      const unlock = await collect(feed, (c) => c.op === "upsert");
      const last = unlock.at(-1)!;
      assert.ok(last.op === "upsert" && last.element.valid);
      assert.equal(last.element.element.trading, "ALLOWED");
      assert.equal(last.element.element.lock_reason, null);
    } finally {
      await feed.close();
    }
  },

  async "instances keep a chart symbol for the terminal's startup chart"(fx) {
    const { store } = fx;
    const a = await store.addInstance({ path: "C:/mt5/a", host: "h1", symbol: "EURUSD.m" }, T0);
    assert.equal(a.symbol, "EURUSD.m");
    assert.equal((await store.getInstance(a._id))?.symbol, "EURUSD.m");
    const b = await store.addInstance({ path: "C:/mt5/b", host: "h1" }, T0);
    assert.equal(b.symbol, undefined);
    const error = await rejectsWith(
      store.addInstance({ path: "C:/mt5/c", host: "h1", symbol: "EUR USD" }),
      "INPUT_INVALID",
    );
    assert.match(error.message, /symbol/);
  },

  async "instances get collision-free ports per host"(fx) {
    const { store } = fx;
    const a = await store.addInstance({ path: "C:/mt5/a", host: "h1" }, T0);
    const b = await store.addInstance({ path: "C:/mt5/b", host: "h1" }, T0);
    const c = await store.addInstance({ path: "C:/mt5/a", host: "h2" }, T0);
    assert.deepEqual([a.port, b.port, c.port], [15000, 15002, 15000]);
    assert.equal(a.status, "FREE");
    const d = await store.addInstance({ path: "C:/mt5/d", host: "h1", port: 15010 }, T0);
    assert.equal(d.port, 15010);
    await rejectsWith(
      store.addInstance({ path: "C:/mt5/e", host: "h1", port: 15011 }),
      "STORE_CONFLICT",
    );
    await rejectsWith(
      store.addInstance({ path: "C:/mt5/e", host: "h1", port: 15003 }),
      "STORE_CONFLICT",
    );
    await rejectsWith(store.addInstance({ path: "C:/mt5/a", host: "h1" }), "STORE_CONFLICT");
    await rejectsWith(store.addInstance({ path: "", host: "h1" }), "INPUT_INVALID");
    await rejectsWith(store.addInstance({ path: "x", host: "h1", port: 80 }), "INPUT_INVALID");
    const s1 = await store.addInstance({ path: "sim:calm", host: "h1" });
    const s2 = await store.addInstance({ path: "sim:calm", host: "h1" });
    assert.deepEqual([s1.port, s2.port], [15004, 15006]);
    const listed = await store.listInstances({ host: "h1" });
    assert.deepEqual(listed.map((i) => i.port), [15000, 15002, 15004, 15006, 15010]);
    assert.deepEqual((await store.getInstance(b._id))?.path, "C:/mt5/b");
    assert.equal(await store.removeInstance(b._id), true);
    assert.equal(await store.removeInstance(b._id), false);
    const again = await store.addInstance({ path: "C:/mt5/b2", host: "h1" });
    assert.equal(again.port, 15002, "a freed port range is reused");
  },

  async "claim takes a FREE instance and the element exactly once"(fx) {
    const { store } = fx;
    const id = await addElement(store, 3001);
    const other = await addElement(store, 3002);
    await rejectsWith(store.claimFreeInstance(id, "h1", T0), "CLAIM_FAILED");
    const inst = await store.addInstance({ path: "C:/mt5/1", host: "h1" });
    const lease = await store.claimFreeInstance(id, "h1", T0);
    assert.equal(lease.instance_id, inst._id);
    assert.equal(lease.lease, 1);
    assert.equal(lease.host, "h1");
    assert.equal(lease.instance.status, "OCCUPIED");
    const element = valid(await store.getElement(id));
    assert.equal(element.status, "ACTIVE");
    assert.equal(element.instance_id, inst._id);
    assert.equal(element.host, "h1");
    const instance = await store.getInstance(inst._id);
    assert.equal(instance?.status, "OCCUPIED");
    assert.equal(instance?.element_id, id);
    await rejectsWith(store.claimFreeInstance(id, "h1", T0), "ELEMENT_HELD");
    await rejectsWith(store.claimFreeInstance(other, "h1", T0), "CLAIM_FAILED");
    await rejectsWith(store.claimFreeInstance("missing", "h1", T0), "NOT_FOUND");
    await store.setElementStatus(other, "DISABLED");
    await store.addInstance({ path: "C:/mt5/2", host: "h1" });
    await rejectsWith(store.claimFreeInstance(other, "h1", T0), "CLAIM_FAILED");
    await rejectsWith(store.removeElement(id), "ELEMENT_HELD");
    await rejectsWith(store.removeInstance(inst._id), "STORE_CONFLICT");
    assert.equal(await store.removeElement(id, { force: true }), true);
    assert.equal((await store.getInstance(inst._id))?.status, "FREE");
  },

  async "fencing: a stale lease cannot write, ping or release"(fx) {
    const { store } = fx;
    const id = await addElement(store, 4001);
    await store.addInstance({ path: "C:/mt5/1", host: "h1" });
    const first = await store.claimFreeInstance(id, "h1", T0);
    await store.ping(first, T0 + 1_000, { pid: 4242 });
    assert.equal((await store.getInstance(first.instance_id))?.pid, 4242);
    await store.updateElement(
      first,
      { trading: "LOCKED_DAY", lock_reason: "daily loss" },
      T0 + 2_000,
    );
    await store.release(first, { now: T0 + 3_000 });
    const released = valid(await store.getElement(id));
    assert.equal(released.status, "INACTIVE");
    assert.equal(released.instance_id, null);
    assert.equal(released.lease, 2, "release bumps the lease");
    assert.equal((await store.getInstance(first.instance_id))?.status, "FREE");
    const second = await store.claimFreeInstance(id, "h1", T0 + 4_000);
    assert.equal(second.lease, 3);
    const stale: LeaseRef = { ...first };
    await rejectsWith(store.updateElement(stale, { trading: "ALLOWED" }, T0 + 5_000), "LEASE_LOST");
    await rejectsWith(store.ping(stale, T0 + 5_000), "LEASE_LOST");
    await rejectsWith(store.release(stale), "LEASE_LOST");
    const element = valid(await store.getElement(id));
    assert.equal(element.trading, "LOCKED_DAY", "the stale write did not land");
    assert.equal(element.instance_id, second.instance_id);
    await store.updateElement(second, { trading: "ALLOWED", lock_reason: null }, T0 + 6_000);
    assert.equal(valid(await store.getElement(id)).trading, "ALLOWED");
  },

  async "takeLease adopts a fresh admin claim once and takes over stale holders"(fx) {
    const { store } = fx;
    const id = await addElement(store, 5001);
    const i1 = await store.addInstance({ path: "C:/mt5/1", host: "h1" });
    const i2 = await store.addInstance({ path: "C:/mt5/2", host: "h1" });
    const admin = await store.claimFreeInstance(id, "h1", T0);
    const adopt = { host: "h1", now: T0 + 10, staleAfterMs: 5 * MIN, takeId: "take-1" };
    const child = await store.takeLease(id, i1._id, adopt);
    assert.equal(child.lease, admin.lease, "the admin's child adopts its lease");
    const repeated = await store.takeLease(id, i1._id, adopt);
    assert.equal(repeated.lease, child.lease, "an adoption made again with its id gets it again");
    await rejectsWith(
      store.takeLease(id, i1._id, { ...adopt, takeId: "take-2" }),
      "ELEMENT_HELD",
    );
    await rejectsWith(
      store.takeLease(id, i1._id, { host: "h1", now: T0 + 20, staleAfterMs: 5 * MIN }),
      "ELEMENT_HELD",
    );
    await rejectsWith(
      store.takeLease(id, i2._id, { host: "h1", now: T0 + 1 * MIN, staleAfterMs: 5 * MIN }),
      "ELEMENT_HELD",
    );
    const later = T0 + 10 * MIN;
    const take = { host: "h1", now: later, staleAfterMs: 5 * MIN, takeId: "take-3" };
    const byHand = await store.takeLease(id, i2._id, take);
    assert.equal(byHand.lease, admin.lease + 1);
    const again = await store.takeLease(id, i2._id, take);
    assert.equal(again.lease, byHand.lease, "a take made again with its id gets the same lease");
    // Another process taking it at the very millisecond of the holder's ping (or of its take)
    // is refused: only the id makes a repeat.
    await store.ping(byHand, later);
    for (const other of [{ ...take, takeId: "take-4" }, { ...take, takeId: undefined }]) {
      await rejectsWith(store.takeLease(id, i2._id, other), "ELEMENT_HELD");
    }
    assert.equal(byHand.instance_id, i2._id);
    assert.equal((await store.getInstance(i1._id))?.status, "FREE", "the old instance is freed");
    assert.equal((await store.getInstance(i2._id))?.element_id, id);
    await rejectsWith(store.ping(child, later + 1), "LEASE_LOST");
    await store.ping(byHand, later + 1);
    const other = await addElement(store, 5002);
    await rejectsWith(
      store.takeLease(other, i2._id, { host: "h1", now: later + 2, staleAfterMs: 5 * MIN }),
      "CLAIM_FAILED",
    );
    await store.setElementStatus(other, "DISABLED");
    await rejectsWith(
      store.takeLease(other, i1._id, { host: "h1", now: later + 2, staleAfterMs: 5 * MIN }),
      "CLAIM_FAILED",
    );
    await rejectsWith(
      store.takeLease(id, "missing", { host: "h1", now: later, staleAfterMs: 5 * MIN }),
      "NOT_FOUND",
    );
  },

  async "fencing: taking over a stale instance releases its old holder"(fx) {
    const { store } = fx;
    const [e1, e2, e3] = [
      await addElement(store, 5101),
      await addElement(store, 5102),
      await addElement(store, 5103),
    ];
    const inst = await store.addInstance({ path: "sim:steal", host: "h1" });
    const opts = (now: number) => ({ host: "h1", now, staleAfterMs: MIN });
    const l1 = await store.takeLease(e1, inst._id, opts(T0));
    // E1's holder hangs for 2 minutes; E2's risk process is started on the same instance.
    const l2 = await store.takeLease(e2, inst._id, opts(T0 + 2 * MIN));
    await assertOneHolderPerInstance(store);
    const old = valid(await store.getElement(e1));
    assert.equal(old.instance_id, null, "the old holder no longer references the instance");
    assert.equal(old.status, "INACTIVE");
    assert.equal(old.lease, l1.lease + 1, "the old holder's lease is bumped");
    await rejectsWith(store.ping(l1, T0 + 2 * MIN + 1), "LEASE_LOST");
    await rejectsWith(
      store.updateElement(l1, { trading: "LOCKED" }, T0 + 2 * MIN + 2),
      "LEASE_LOST",
    );
    assert.equal(
      valid(await store.getElement(e1)).trading,
      "ALLOWED",
      "the stale write did not land",
    );
    assert.equal((await store.getInstance(inst._id))?.element_id, e2);
    await store.ping(l2, T0 + 2 * MIN + 3);
    // The instance changes hands again through release and an admin claim.
    await store.release(l2, { now: T0 + 2 * MIN + 4 });
    const l3 = await store.claimFreeInstance(e3, "h1", T0 + 2 * MIN + 5);
    assert.equal(l3.instance_id, inst._id);
    await rejectsWith(store.ping(l1, T0 + 2 * MIN + 6), "LEASE_LOST");
    await rejectsWith(store.ping(l2, T0 + 2 * MIN + 6), "LEASE_LOST");
    await assertOneHolderPerInstance(store);
    await store.ping(l3, T0 + 2 * MIN + 7);
    const reaped = await store.reap({
      now: T0 + 2 * MIN + 8,
      instanceStaleMs: MIN,
      elementStaleMs: MIN,
    });
    assert.deepEqual(reaped, { instances: 0, elements: [] });
    assert.equal(valid(await store.getElement(e3)).instance_id, inst._id);
  },

  async "fencing: ping fails once the instance is no longer held by the lease's element"(fx) {
    const { store } = fx;
    const id = await addElement(store, 5201);
    const inst = await store.addInstance({ path: "sim:gone", host: "h1" });
    const lease = await store.claimFreeInstance(id, "h1", T0);
    await store.ping(lease, T0 + 1);
    // Another system frees the instance behind the holder's back (lease left as it was).
    assert.equal(await store.removeInstance(inst._id, { force: true }), true);
    await rejectsWith(store.ping(lease, T0 + 2), "LEASE_LOST");
  },

  async "reap releases the elements of the instances it frees"(fx) {
    const { store } = fx;
    const [e1, e3] = [await addElement(store, 5301), await addElement(store, 5302)];
    const inst = await store.addInstance({ path: "sim:reap", host: "h1" });
    const l1 = await store.takeLease(e1, inst._id, { host: "h1", now: T0, staleAfterMs: MIN });
    await store.ping(l1, T0 + 100_000);
    // The instance is stale after 1 minute; the element only after 5.
    const result = await store.reap({
      now: T0 + 200_000,
      instanceStaleMs: MIN,
      elementStaleMs: 5 * MIN,
    });
    assert.deepEqual(result, { instances: 1, elements: [e1] });
    const released = valid(await store.getElement(e1));
    assert.equal(released.instance_id, null);
    assert.equal(released.status, "INACTIVE");
    assert.equal(released.lease, l1.lease + 1);
    const l3 = await store.claimFreeInstance(e3, "h1", T0 + 200_001);
    assert.equal(l3.instance_id, inst._id);
    await rejectsWith(store.ping(l1, T0 + 200_002), "LEASE_LOST");
    await rejectsWith(store.updateElement(l1, { trading: "LOCKED" }, T0 + 200_003), "LEASE_LOST");
    await assertOneHolderPerInstance(store);
  },

  async "claims skip instance documents written invalid by others and never change them"(fx) {
    const { store } = fx;
    const [e1, e2] = [await addElement(store, 5401), await addElement(store, 5402)];
    const bad = {
      _id: "bad-instance",
      path: "C:/mt5/bad",
      host: "h1",
      port: 14_000,
      status: "FREE",
      created_at: "2024-01-01",
    };
    await fx.insertRaw("instances", bad);
    const good = await store.addInstance({ path: "sim:good", host: "h1" });
    assert.ok(good.port > bad.port, "the invalid instance comes first by port");
    const lease = await store.claimFreeInstance(e1, "h1", T0);
    assert.equal(lease.instance_id, good._id);
    assert.equal(valid(await store.getElement(e1)).instance_id, good._id);
    // Only the invalid instance is left: the claim fails and writes nothing.
    await rejectsWith(store.claimFreeInstance(e2, "h1", T0 + 1), "CLAIM_FAILED");
    await rejectsWith(
      store.takeLease(e2, "bad-instance", { host: "h1", now: T0 + 2, staleAfterMs: MIN }),
      "CLAIM_FAILED",
    );
    const other = valid(await store.getElement(e2));
    assert.equal(other.instance_id, null);
    assert.equal(other.lease, 0);
    assert.equal(other.status, "PENDING");
    const raw = await fx.readRaw("instances", "bad-instance");
    assert.equal(raw?.status, "FREE");
    assert.equal(raw?.element_id, undefined, "the invalid instance was not written");
    assert.equal(raw?.lease, undefined);
    // A valid instance added later is claimed normally.
    const second = await store.addInstance({ path: "sim:second", host: "h1" });
    const l2 = await store.claimFreeInstance(e2, "h1", T0 + 3);
    assert.equal(l2.instance_id, second._id);
  },

  async "an instance document without status is FREE for listing and for claiming"(fx) {
    const { store } = fx;
    const [e1, e2] = [await addElement(store, 5501), await addElement(store, 5502)];
    // Written by another system (or an older riskguard): no status field; the schema says FREE.
    await fx.insertRaw("instances", {
      _id: "no-status",
      path: "C:/mt5/ns",
      host: "h1",
      port: 15_100,
    });
    const listed = await store.listInstances({ host: "h1" });
    assert.deepEqual(listed.map((i) => [i._id, i.status]), [["no-status", "FREE"]]);
    assert.deepEqual(
      (await store.listInstances({ host: "h1", status: "FREE" })).map((i) => i._id),
      ["no-status"],
      "a status filter of FREE lists it",
    );
    assert.deepEqual(await store.listInstances({ host: "h1", status: "OCCUPIED" }), []);
    // What the status table shows as free, the scheduler can claim.
    const lease = await store.claimFreeInstance(e1, "h1", T0);
    assert.equal(lease.instance_id, "no-status");
    assert.equal(lease.instance.status, "OCCUPIED");
    assert.equal(lease.instance.element_id, e1);
    const raw = await fx.readRaw("instances", "no-status");
    assert.equal(raw?.status, "OCCUPIED", "the claim wrote the instance");
    assert.equal(raw?.element_id, e1);
    // Now it is taken: a second claim on the host finds nothing FREE.
    await rejectsWith(store.claimFreeInstance(e2, "h1", T0 + 1), "CLAIM_FAILED");
    // A second one without status is taken over by hand (takeLease) as well.
    await fx.insertRaw("instances", {
      _id: "no-status-2",
      path: "C:/mt5/ns2",
      host: "h1",
      port: 15_200,
    });
    const taken = await store.takeLease(e2, "no-status-2", {
      host: "h1",
      now: T0 + 2,
      staleAfterMs: MIN,
    });
    assert.equal(taken.instance.status, "OCCUPIED");
    assert.equal((await fx.readRaw("instances", "no-status-2"))?.element_id, e2);
  },

  async "managed updates store state, validate patches and respect DISABLED"(fx) {
    const { store } = fx;
    const id = await addElement(store, 6001);
    await store.addInstance({ path: "C:/mt5/1", host: "h1" });
    const lease = await store.claimFreeInstance(id, "h1", T0);
    const day = {
      date: "2026-11-24",
      start_balance: 10_000,
      start_equity: 10_050,
      high_equity: 10_100,
      baseline: 10_050,
    };
    const peak = { initial_balance: 10_000, high_balance: 10_500, high_equity: 10_600, since: T0 };
    const metrics = {
      balance: 10_000,
      equity: 9_900,
      daily_pl: -150,
      positions: 2,
      orders: 1,
      updated_at: T0 + 5,
    };
    await store.updateElement(lease, {
      day,
      peak,
      metrics,
      trading: "LOCKED",
      lock_reason: "max drawdown",
      locked_until: null,
      error: { code: "TERMINAL", message: "restart", at: T0 },
    }, T0 + 10);
    const element = valid(await store.getElement(id));
    assert.deepEqual(element.day, day);
    assert.deepEqual(element.peak, peak);
    assert.deepEqual(element.metrics, metrics);
    assert.equal(element.trading, "LOCKED");
    assert.equal(element.lock_reason, "max drawdown");
    assert.equal(element.error?.code, "TERMINAL");
    await rejectsWith(
      store.updateElement(lease, { trading: "SIDEWAYS" } as never, T0 + 11),
      "INPUT_INVALID",
    );
    await rejectsWith(
      store.updateElement(lease, { day: { ...day, date: "24.11.2026" } }, T0 + 11),
      "INPUT_INVALID",
    );
    await store.setElementStatus(id, "DISABLED");
    await rejectsWith(store.updateElement(lease, { status: "ACTIVE" }, T0 + 12), "STORE_CONFLICT");
    await store.updateElement(lease, { trading: "ALLOWED" }, T0 + 13);
    await store.release(lease, { now: T0 + 14 });
    const after = valid(await store.getElement(id));
    assert.equal(after.status, "DISABLED", "release keeps a person's DISABLED");
    assert.equal(after.trading, "ALLOWED");
  },

  async "reap frees stale instances and releases stale elements"(fx) {
    const { store } = fx;
    const ids = [
      await addElement(store, 7001),
      await addElement(store, 7002),
      await addElement(store, 7003),
    ];
    for (const n of [1, 2, 3]) await store.addInstance({ path: `C:/mt5/${n}`, host: "h1" });
    await store.addInstance({ path: "C:/mt5/x", host: "h2" });
    const stale = await store.claimFreeInstance(ids[0]!, "h1", T0);
    await store.ping(stale, T0);
    const fresh = await store.claimFreeInstance(ids[1]!, "h1", T0);
    await store.ping(fresh, T0 + 9 * MIN);
    const neverPinged = await store.claimFreeInstance(ids[2]!, "h2", T0 + 8 * MIN);
    const result = await store.reap({ now: T0 + 10 * MIN });
    assert.deepEqual(result, { instances: 1, elements: [ids[0]!] });
    const reaped = valid(await store.getElement(ids[0]!));
    assert.equal(reaped.status, "INACTIVE");
    assert.equal(reaped.instance_id, null);
    assert.equal(reaped.lease, stale.lease + 1);
    assert.equal((await store.getInstance(stale.instance_id))?.status, "FREE");
    await rejectsWith(store.ping(stale, T0 + 10 * MIN), "LEASE_LOST");
    assert.equal(valid(await store.getElement(ids[1]!)).status, "ACTIVE");
    assert.equal(valid(await store.getElement(ids[2]!)).status, "ACTIVE");
    const tight = await store.reap({
      now: T0 + 10 * MIN,
      instanceStaleMs: 30_000,
      elementStaleMs: 30_000,
      host: "h2",
    });
    assert.deepEqual(tight, { instances: 1, elements: [ids[2]!] });
    assert.equal(valid(await store.getElement(ids[1]!)).status, "ACTIVE", "other host untouched");
    void neverPinged;
  },

  async "lists skip stored instances and events that others wrote invalid"(fx) {
    const { store } = fx;
    const id = await addElement(store, 8101);
    const good = await store.addInstance({ path: "sim:good", host: "h1" });
    await fx.insertRaw("instances", { _id: "no-port", path: "C:/mt5/x", host: "h1" });
    await fx.insertRaw("instances", {
      _id: "bad-date",
      path: "C:/mt5/y",
      host: "h1",
      port: 14_000,
      status: "FREE",
      created_at: "2024-01-01",
    });
    const instances = await store.listInstances();
    assert.deepEqual(instances.map((i) => i._id), [good._id]);
    assert.deepEqual(
      (await store.listInstances({ host: "h1", status: "FREE" })).map((i) => i._id),
      [
        good._id,
      ],
    );
    const first = await store.appendEvent({ element_id: id, type: "lifecycle", at: T0 });
    await fx.insertRaw("events", { _id: "no-type", element_id: id, at: T0 + 1 });
    const last = await store.appendEvent({ element_id: id, type: "lock", at: T0 + 2 });
    const events = await store.listEvents(id);
    assert.deepEqual(events.map((e) => e._id), [first._id, last._id]);
  },

  async "24-hex ids name the same documents in upper and lower case"(fx) {
    const { store } = fx;
    const upper = "6B04F7F82A995319170DAB82";
    const lower = upper.toLowerCase();
    const inserted = await store.insertElement(account(8201, { _id: upper }), T0);
    assert.ok(inserted.ok);
    assert.equal(inserted.element.id, lower, "stored and returned in lowercase");
    assert.equal(valid(await store.getElement(upper))._id, lower);
    assert.equal(valid(await store.getElement(lower))._id, lower);
    assert.deepEqual((await store.listElements()).map((p) => p.id), [lower]);
    const dup = await store.insertElement(account(8202, { _id: lower }), T0);
    assert.equal(dup.ok, false, "the lowercase id is the same element");
    const feed = store.watchElements({ elementId: upper });
    try {
      const start = await collect(feed, (c) => c.op === "synced");
      assert.deepEqual(upsertIds(start), [lower]);
      const changed = await store.configureElement(upper, { max_daily_loss: 50 }, T0 + 1);
      assert.ok(changed.ok);
      const next = await collect(feed, (c) => c.op === "upsert");
      assert.deepEqual(upsertIds(next), [lower]);
    } finally {
      await feed.close();
    }
    const inst = await store.addInstance({ path: "sim:upper", host: "h1" });
    const lease = await store.claimFreeInstance(upper, "h1", T0 + 2);
    assert.equal(lease.element_id, lower);
    const shouted = {
      element_id: upper,
      instance_id: inst._id.toUpperCase(),
      lease: lease.lease,
    };
    await store.ping(shouted, T0 + 3);
    await store.updateElement(shouted, { trading: "LOCKED", lock_reason: "test" }, T0 + 4);
    assert.equal(valid(await store.getElement(lower)).trading, "LOCKED");
    await store.appendEvent({ element_id: upper, type: "lock", at: T0 + 5 });
    assert.equal((await store.listEvents(lower)).length, 1);
    assert.equal((await store.listEvents(upper)).length, 1);
    assert.equal((await store.getInstance(inst._id.toUpperCase()))?._id, inst._id);
    await store.release(shouted, { now: T0 + 6 });
    assert.equal(valid(await store.getElement(lower)).instance_id, null);
    assert.equal(await store.removeElement(upper), true);
    assert.equal(await store.getElement(lower), null);
  },

  async "events are appended and listed oldest first"(fx) {
    const { store } = fx;
    const id = await addElement(store, 8001);
    for (let n = 0; n < 5; n++) {
      await store.appendEvent({
        element_id: id,
        at: T0 + n,
        type: n === 2 ? "breach" : "lifecycle",
        rule: n === 2 ? "max_daily_loss" : null,
        detail: { n },
      });
    }
    await store.appendEvent({ element_id: "other", at: T0, type: "lock" });
    const all = await store.listEvents(id);
    assert.deepEqual(all.map((e) => e.detail.n), [0, 1, 2, 3, 4]);
    assert.equal(all[2]?.rule, "max_daily_loss");
    const last = await store.listEvents(id, { limit: 2 });
    assert.deepEqual(last.map((e) => e.detail.n), [3, 4]);
    const since = await store.listEvents(id, { since: T0 + 3 });
    assert.deepEqual(since.map((e) => e.detail.n), [3, 4]);
    // Every element (null), oldest first, and only some types.
    const everyone = await store.listEvents(null);
    // (Events of the same `at` from several processes come in no particular order; those of one
    // process come in the order written: the next case.)
    assert.deepEqual(everyone.map((e) => e.at), [T0, T0, T0 + 1, T0 + 2, T0 + 3, T0 + 4]);
    assert.deepEqual(everyone.filter((e) => e.element_id !== id).map((e) => e.type), ["lock"]);
    assert.deepEqual((await store.listEvents(null, { since: T0 + 4 })).map((e) => e.at), [T0 + 4]);
    const breachesAndLocks = await store.listEvents(null, { types: ["breach", "lock"] });
    assert.deepEqual(breachesAndLocks.map((e) => e.type), ["lock", "breach"]);
    assert.deepEqual(await store.listEvents(id, { types: ["lock"] }), []);
    assert.deepEqual(await store.listEvents(null, { types: [] }), []);
    await rejectsWith(store.appendEvent({ element_id: "", type: "x" }), "INPUT_INVALID");
    await rejectsWith(store.appendEvent({ element_id: id } as never), "INPUT_INVALID");
    await rejectsWith(
      store.appendEvent({ element_id: id, type: "x", detail: { big: 1n } }),
      "INPUT_INVALID",
    );
  },

  async "events one process writes with the same `at` are listed in the order written"(fx) {
    const { store } = fx;
    const id = await addElement(store, 8002);
    // A lock, cancel, close-all written within one millisecond, as a risk process does.
    const written = Array.from({ length: 30 }, (_, n) => `step ${n}`);
    for (const message of written) {
      await store.appendEvent({ element_id: id, at: T0, type: "command", message });
    }
    await store.appendEvent({ element_id: id, at: T0 - 1, type: "lifecycle", message: "before" });
    const listed = (await store.listEvents(id)).map((e) => e.message);
    assert.deepEqual(listed, ["before", ...written]);
    const everyone = (await store.listEvents(null, { types: ["command"] })).map((e) => e.message);
    assert.deepEqual(everyone, written);
    const last = (await store.listEvents(id, { limit: 3 })).map((e) => e.message);
    assert.deepEqual(last, written.slice(-3));
  },

  async "feed: reconcile, live changes, deletes, and pings are not fed"(fx) {
    const { store } = fx;
    const a = await addElement(store, 9001);
    const feed = store.watchElements();
    try {
      const initial = await collect(feed, (c) => c.op === "synced");
      assert.deepEqual(initial.map((c) => c.op === "upsert" ? [c.op, c.id, c.source] : [c.op]), [
        ["upsert", a, "reconcile"],
        ["synced"],
      ]);
      const b = await addElement(store, 9002);
      const inserted = await collect(feed, (c) => c.op === "upsert" && c.id === b);
      assert.deepEqual(upsertIds(inserted), [b]);
      const last = inserted.at(-1)!;
      assert.ok(last.op === "upsert" && last.source === "change" && last.element.valid);
      await store.addInstance({ path: "C:/mt5/1", host: "h1" });
      const lease = await store.claimFreeInstance(b, "h1", T0);
      await collect(
        feed,
        (c) => c.op === "upsert" && c.element.valid && c.element.element.status === "ACTIVE",
      );
      for (let n = 1; n <= 3; n++) await store.ping(lease, T0 + n);
      await store.updateElement(lease, {
        metrics: { balance: 1, equity: 1, daily_pl: 0, positions: 0, orders: 0, updated_at: T0 },
      }, T0 + 4);
      await store.updateElement(lease, { trading: "LOCKED_DAY" }, T0 + 5);
      const updates = await collect(feed, (c) => c.op === "upsert");
      const states = updates.flatMap((c) =>
        c.op === "upsert" && c.element.valid ? [c.element.element.trading] : []
      );
      assert.deepEqual(states, ["LOCKED_DAY"], "pings and metrics are not fed");
      await store.removeElement(a);
      const deleted = await collect(feed, (c) => c.op === "delete");
      assert.deepEqual(deleted.map((c) => c.op), ["delete"]);
    } finally {
      await feed.close();
    }
    assert.deepEqual(await feed.next(), { done: true, value: undefined });
  },

  async "feed of one element ignores the others"(fx) {
    const { store } = fx;
    const a = await addElement(store, 9101);
    const b = await addElement(store, 9102);
    const feed = store.watchElements({ elementId: b });
    try {
      const initial = await collect(feed, (c) => c.op === "synced");
      assert.deepEqual(upsertIds(initial), [b]);
      await store.setElementStatus(a, "DISABLED");
      await store.setElementStatus(b, "DISABLED");
      const changes = await collect(feed, (c) => c.op === "upsert");
      assert.deepEqual(upsertIds(changes), [b]);
    } finally {
      await feed.close();
    }
  },

  async "feed resumes: inserts made while the watcher was down come once"(fx) {
    const { store } = fx;
    const before = [await addElement(store, 9201), await addElement(store, 9202)];
    const first = store.watchElements({ resumeKey: "host-a" });
    await collect(first, (c) => c.op === "synced");
    const live = await addElement(store, 9203);
    await collect(first, (c) => c.op === "upsert" && c.id === live);
    await first.close();
    const down: string[] = [];
    for (let n = 0; n < 5; n++) down.push(await addElement(store, 9300 + n));
    await store.setElementStatus(before[0]!, "DISABLED");
    const other = await fx.connect();
    const second = other.watchElements({ resumeKey: "host-a" });
    try {
      const sentinel = { id: "" };
      const changes: ElementChange[] = [];
      changes.push(...await collect(second, (c) => c.op === "synced"));
      sentinel.id = await addElement(store, 9999);
      changes.push(...await collect(second, (c) => c.op === "upsert" && c.id === sentinel.id));
      const ids = upsertIds(changes);
      for (const id of [...down, before[0]!, sentinel.id]) {
        assert.equal(ids.filter((x) => x === id).length, 1, `element ${id} delivered once`);
      }
      assert.equal(new Set(ids).size, ids.length, `no element twice: ${ids.join(",")}`);
      const disabled = changes.find((c) => c.op === "upsert" && c.id === before[0]);
      assert.ok(disabled?.op === "upsert" && disabled.element.valid);
      assert.equal(disabled.element.element.status, "DISABLED");
    } finally {
      await second.close();
      await other.close();
    }
  },

  async "feed resumes: deletes made while the watcher was down come once"(fx) {
    const { store } = fx;
    const [kept, gone] = [await addElement(store, 9401), await addElement(store, 9402)];
    const first = store.watchElements({ resumeKey: "host-d" });
    await collect(first, (c) => c.op === "synced");
    await store.setElementStatus(kept, "DISABLED");
    await collect(first, (c) => c.op === "upsert" && c.id === kept);
    await first.close();
    assert.equal(await store.removeElement(gone), true);
    const other = await fx.connect();
    const second = other.watchElements({ resumeKey: "host-d" });
    try {
      const changes = await collect(second, (c) => c.op === "synced");
      const sentinel = await addElement(store, 9499);
      changes.push(...await collect(second, (c) => c.op === "upsert" && c.id === sentinel));
      const deletes = changes.flatMap((c) => c.op === "delete" ? [c.id] : []);
      assert.deepEqual(deletes, [gone], "the delete made while down is delivered once");
      assert.deepEqual(upsertIds(changes), [kept, sentinel]);
    } finally {
      await second.close();
      await other.close();
    }
  },

  async "feed recovers from a lost resume position"(fx) {
    const { store } = fx;
    const a = await addElement(store, 9401);
    await fx.insertRaw("agent_state", {
      _id: "host-b",
      resume_token: fx.store.kind === "sqlite" ? 987654321 : { _data: "ffffffffffffffff" },
      updated_at: T0,
    });
    const feed = store.watchElements({ resumeKey: "host-b" });
    try {
      const initial = await collect(feed, (c) => c.op === "synced");
      assert.deepEqual(upsertIds(initial), [a]);
      const b = await addElement(store, 9402);
      const next = await collect(feed, (c) => c.op === "upsert" && c.id === b);
      assert.deepEqual(upsertIds(next), [b]);
    } finally {
      await feed.close();
    }
  },

  async "samples: appended, listed by element and range oldest first, pruned by age"(fx) {
    const { store } = fx;
    const [a, b] = [await addElement(store, 9501), await addElement(store, 9502)];
    const sample = (element_id: string, at: number, equity: number) => ({
      element_id,
      at,
      balance: 10_000,
      equity,
      daily_pl: equity - 10_000,
      positions: 1,
    });
    for (let i = 0; i < 5; i++) await store.appendSample(sample(a, T0 + i * MIN, 10_000 - i));
    await store.appendSample(sample(b, T0 + MIN, 20_000));
    // The same element at the same millisecond: the later sample replaces the first.
    await store.appendSample(sample(a, T0 + 2 * MIN, 9_000));

    const all = await store.listSamples(a);
    assert.deepEqual(all.map((s) => s.at), [0, 1, 2, 3, 4].map((i) => T0 + i * MIN));
    assert.deepEqual(all[2], sample(a, T0 + 2 * MIN, 9_000));
    assert.deepEqual(
      (await store.listSamples(a, { since: T0 + MIN, until: T0 + 3 * MIN })).map((s) => s.at),
      [T0 + MIN, T0 + 2 * MIN, T0 + 3 * MIN],
    );
    assert.deepEqual(
      (await store.listSamples(a, { limit: 2 })).map((s) => s.at),
      [T0 + 3 * MIN, T0 + 4 * MIN],
      "a limit keeps the newest of the range",
    );
    assert.deepEqual(await store.listSamples(b), [sample(b, T0 + MIN, 20_000)]);
    assert.deepEqual(await store.listSamples("no-such-element"), []);

    assert.equal(await store.pruneSamples(T0 + 2 * MIN), 3, "a's first two and b's one");
    assert.deepEqual((await store.listSamples(a)).map((s) => s.at), [
      T0 + 2 * MIN,
      T0 + 3 * MIN,
      T0 + 4 * MIN,
    ]);
    assert.deepEqual(await store.listSamples(b), []);
    assert.equal(await store.pruneSamples(T0), 0);
  },

  async "samples: a malformed sample is refused with INPUT_INVALID and nothing is written"(fx) {
    const { store } = fx;
    const a = await addElement(store, 9503);
    const good = { element_id: a, at: T0, balance: 1, equity: 1, daily_pl: 0, positions: 0 };
    for (
      const [bad, field] of [
        [{ ...good, equity: Number.NaN }, "equity"],
        [{ ...good, positions: -1 }, "positions"],
        [{ ...good, element_id: "" }, "element_id"],
        [{ ...good, at: "yesterday" }, "at"],
      ] as const
    ) {
      const error = await rejectsWith(store.appendSample(bad as never), "INPUT_INVALID");
      assert.match(error.message, new RegExp(`sample: ${field} `));
    }
    assert.deepEqual(await store.listSamples(a), []);
  },

  async "admin heartbeat: a fresh beat of another run blocks, stopped or stale ones do not"(fx) {
    const { store } = fx;
    const beat = (run: string, at: number, stopped: number | null = null) => ({
      host: "vps-1",
      run_id: run,
      pid: 42,
      machine: "m",
      version: "1",
      started_at: T0,
      last_seen: at,
      children: 2,
      instances_free: 1,
      instances_total: 3,
      stopped_at: stopped,
    });
    assert.deepEqual(await store.beatAgent(beat("r1", T0), { staleAfterMs: 10_000 }), { ok: true });
    assert.deepEqual(await store.beatAgent(beat("r1", T0 + 1_000), { staleAfterMs: 10_000 }), {
      ok: true,
    });
    const refused = await store.beatAgent(beat("r2", T0 + 2_000), { staleAfterMs: 10_000 });
    assert.equal(refused.ok, false);
    assert.equal(refused.ok ? "" : refused.holder.run_id, "r1");
    assert.equal(refused.ok ? 0 : refused.holder.last_seen, T0 + 1_000);
    // A run known dead, a stale beat, a stopped one: none blocks.
    assert.equal(
      (await store.beatAgent(beat("r2", T0 + 2_000), { staleAfterMs: 10_000, replaceRunId: "r1" }))
        .ok,
      true,
    );
    assert.equal(
      (await store.beatAgent(beat("r3", T0 + 12_001), { staleAfterMs: 10_000 })).ok,
      true,
    );
    await store.beatAgent(beat("r3", T0 + 13_000, T0 + 13_000), { staleAfterMs: 10_000 });
    assert.equal(
      (await store.beatAgent(beat("r4", T0 + 13_001), { staleAfterMs: 10_000 })).ok,
      true,
    );
    await store.beatAgent({ ...beat("x", T0), host: "vps-0" }, { staleAfterMs: 10_000 });
    const agents = await store.listAgents();
    assert.deepEqual(agents.map((a) => [a.host, a.run_id]), [["vps-0", "x"], ["vps-1", "r4"]]);
    // The feed's resume token of the same host is a separate document.
    const feed = store.watchElements({ resumeKey: "vps-1" });
    await collect(feed, (c) => c.op === "synced");
    await feed.close();
    assert.equal((await store.listAgents()).length, 2);
  },

  async "setInstanceUsable marks a FREE instance UNUSABLE with the reason, and back"(fx) {
    const { store } = fx;
    const instance = await store.addInstance({ path: "C:/MT5/a", host: "h" });
    assert.equal(await store.setInstanceUsable(instance._id, "folder missing", T0), true);
    const marked = await store.getInstance(instance._id);
    assert.equal(marked?.status, "UNUSABLE");
    assert.equal(marked?.error?.message, "folder missing");
    assert.equal(await store.setInstanceUsable(instance._id, "again", T0), false);
    const id = await addElement(store, 9501);
    await rejectsWith(store.claimFreeInstance(id, "h", T0), "CLAIM_FAILED");
    assert.equal(await store.setInstanceUsable(instance._id, null, T0), true);
    assert.equal((await store.getInstance(instance._id))?.status, "FREE");
    assert.equal((await store.claimFreeInstance(id, "h", T0)).instance_id, instance._id);
    // An OCCUPIED instance is never marked.
    assert.equal(await store.setInstanceUsable(instance._id, "x", T0), false);
  },

  async "feed positions are saved in agent_state without losing its other fields"(fx) {
    const { store } = fx;
    const a = await addElement(store, 9501);
    // The admin's heartbeat lives in the same document as the feed position.
    const heartbeat = { version: "0.1.0", children: 2, free: 1, total: 3 };
    await fx.insertRaw("agent_state", { _id: "host-h", heartbeat, updated_at: T0 });
    const feed = store.watchElements({ resumeKey: "host-h" });
    try {
      assert.deepEqual(upsertIds(await collect(feed, (c) => c.op === "synced")), [a]);
      const b = await addElement(store, 9502);
      await collect(feed, (c) => c.op === "upsert" && c.id === b);
    } finally {
      await feed.close(); // saves the position of the last handled change
    }
    const saved = await fx.readRaw("agent_state", "host-h");
    assert.ok(saved !== null);
    assert.deepEqual(saved.heartbeat, heartbeat, "the heartbeat is kept");
    assert.ok(saved.resume_token !== undefined && saved.resume_token !== null, "position saved");
    assert.equal(typeof saved.updated_at, "number");
  },

  async "an agent_state document written invalid by others is ignored by the feed"(fx) {
    const { store } = fx;
    const a = await addElement(store, 9601);
    await fx.insertRaw("agent_state", { _id: "host-i", resume_token: 1, updated_at: "yesterday" });
    const feed = store.watchElements({ resumeKey: "host-i" });
    try {
      assert.deepEqual(upsertIds(await collect(feed, (c) => c.op === "synced")), [a]);
      const b = await addElement(store, 9602);
      assert.deepEqual(upsertIds(await collect(feed, (c) => c.op === "upsert" && c.id === b)), [b]);
    } finally {
      await feed.close();
    }
    const saved = await fx.readRaw("agent_state", "host-i");
    assert.equal(typeof saved?.updated_at, "number", "the next save makes the document valid");
  },
};

/** Runs every case of the contract as steps of `t`, each on a fresh database. */
export async function runContract(t: Deno.TestContext, adapter: Adapter): Promise<void> {
  for (const [name, body] of Object.entries(CASES)) {
    await t.step(name, async () => {
      const fx = await adapter.fresh();
      try {
        await body(fx);
      } finally {
        await fx.dispose();
      }
    });
  }
}
