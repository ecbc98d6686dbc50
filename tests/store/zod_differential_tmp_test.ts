/**
 * TEMPORARY (removed with zod): the hand-written schemas against the zod ones they replace, on
 * many generated documents: same success, same output (keys and order), same issues.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import * as old from "./_zod_reference_tmp.ts";
import * as now from "../../src/store/schemas.ts";
import { checkManagedPatch } from "../../src/store/_validation.ts";

const ABSENT = Symbol("absent");
const many = (n: number, item: unknown) => Array.from({ length: n }, () => item);
const PALETTE: unknown[] = [
  undefined,
  null,
  "",
  " ",
  "  x  ",
  "abc",
  "5%",
  "0%",
  "150%",
  " 7.5 % ",
  "12",
  "00:00",
  "23:59",
  "24:00",
  "Europe/Berlin",
  "Not/AZone",
  "server",
  "EURUSD",
  "EUR USD",
  0,
  -1,
  1,
  1.5,
  7,
  8,
  0.8,
  0.5,
  1e20,
  -1e20,
  65534,
  65535,
  2 ** 53,
  -0,
  NaN,
  Infinity,
  true,
  false,
  [],
  [1],
  ["a"],
  [1.5],
  [0],
  [8],
  ["close_all"],
  ["nope"],
  {},
  { a: 1 },
  { length: 0 },
  "buy",
  "long",
  "PENDING",
  "DISABLED",
  "LOCKED",
  "cancel_orders",
  "x".repeat(600),
  many(501, 1),
  many(600, "a"),
  Object.create(null),
  new Date(0),
  "\u{1F600}",
  "secret-pass",
];
const palette = fc.constantFrom(...PALETTE);

function isPlain(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value) &&
    Object.getPrototypeOf(value) === Object.prototype;
}

/** Documents near `base`: most fields kept, some replaced, removed or mutated inside. */
function near(
  base: Record<string, unknown>,
  depth = 0,
  keep = 8,
): fc.Arbitrary<Record<string, unknown>> {
  const keys = Object.keys(base);
  const fields = keys.map((key) => {
    const value = base[key];
    const options: fc.WeightedArbitrary<unknown>[] = [
      { arbitrary: fc.constant(value), weight: keep },
      { arbitrary: palette, weight: 1 },
      { arbitrary: fc.constant(ABSENT), weight: 1 },
    ];
    if (isPlain(value) && depth < 3) {
      options.push({ arbitrary: near(value, depth + 1, keep), weight: 4 });
    }
    if (Array.isArray(value) && value.length > 0 && isPlain(value[0]) && depth < 3) {
      options.push({
        arbitrary: fc.array(near(value[0], depth + 1, keep), { maxLength: 3 }),
        weight: 4,
      });
    }
    return fc.oneof(...options);
  });
  return fc.tuple(fc.tuple(...fields), fc.boolean(), palette).map(([values, extra, extraValue]) => {
    const doc: Record<string, unknown> = {};
    keys.forEach((key, i) => {
      if (values[i] !== ABSENT) doc[key] = values[i];
    });
    if (extra) doc.unknown_key = extraValue;
    return doc;
  });
}

function keyOrder(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(keyOrder);
  if (value !== null && typeof value === "object") {
    return Object.entries(value).map(([key, item]) => [key, keyOrder(item)]);
  }
  return value;
}

function same(
  name: string,
  oldSchema: { safeParse(input: unknown, options: object): unknown },
  nowSchema: now.Schema<unknown>,
  base: Record<string, unknown>,
  runs: number,
  keep = 8,
) {
  let failures = 0;
  let both = 0;
  fc.assert(
    fc.property(near(base, 0, keep), (doc) => {
      // deno-lint-ignore no-explicit-any
      const a = oldSchema.safeParse(doc, { reportInput: true }) as any;
      const b = nowSchema.parse(doc);
      assert.equal(b.ok, a.success, `${name}: success differs`);
      if (a.success && b.ok) {
        assert.deepStrictEqual(b.value, a.data);
        assert.deepStrictEqual(keyOrder(b.value), keyOrder(a.data));
      } else if (!b.ok) {
        failures++;
        if (b.issues.length > 1) both++;
        assert.deepStrictEqual(b.issues, old.describeIssues(a.error.issues));
      }
    }),
    { numRuns: runs },
  );
  console.log(`${name}: ${runs} documents, ${failures} invalid (${both} with several issues)`);
}

const DAY = {
  date: "2026-01-02",
  start_balance: 1000,
  start_equity: 1000,
  high_equity: 1010,
  baseline: 1000,
  ops_seen: 2,
  ops_date: "2026-01-02",
  notified: ["a|b"],
};
const PEAK = { initial_balance: 1000, high_balance: 1100, high_equity: 1200, since: 5 };
const POSITION = {
  ticket: 1,
  symbol: "EURUSD",
  side: "buy",
  volume: 1,
  open_price: 1.1,
  sl: 0,
  tp: 0,
  profit: -3,
};
const ORDER = {
  ticket: 2,
  symbol: "EURUSD",
  type: "buy_limit",
  volume: 1,
  price: 1.05,
  sl: 0,
  tp: 0,
};
const METRICS = {
  balance: 1000,
  equity: 990,
  daily_pl: -10,
  positions: 1,
  orders: 1,
  updated_at: 5,
  open_positions: { items: [POSITION], truncated: false },
  pending_orders: { items: [ORDER], truncated: false },
  server_offset: 7_200_000,
};
const ERROR = { code: "X", message: "m", at: 3 };
const ELEMENT = {
  _id: "e1",
  name: "main",
  server: " Demo-Server ",
  login: 123,
  password: "secret-pass",
  password_enc: "enc",
  max_daily_loss: "5%",
  max_position_risk: 100,
  max_profit: "10%",
  max_drawdown: { limit: 500, mode: "static", stop_at_initial: true },
  daily: { reset: "17:00", timezone: "Europe/Berlin", baseline: "equity" },
  warn_at: 0.5,
  require_stop_loss: true,
  position_risk_action: "notify",
  max_open_positions: 3,
  max_total_lots: 2.5,
  max_lots_per_symbol: 1,
  trading_hours: { start: "08:00", end: "20:00", timezone: "server", days: [1, 2, 3] },
  close_before_weekend: { day: 5, time: "21:00", timezone: "server" },
  rules: [{ module: "./r.ts", options: { a: 1 } }],
  initial_balance: 1000,
  pin_host: " vps-1 ",
  status: "ACTIVE",
  trading: "LOCKED_DAY",
  lock_reason: "daily",
  locked_until: 100,
  unlocked_at: 50,
  unlock_applied_at: 40,
  flatten_pending: ["close_all"],
  host: "h",
  instance_id: "i1",
  lease: 4,
  leased_at: 30,
  last_ping: 31,
  day: DAY,
  peak: PEAK,
  metrics: METRICS,
  error: ERROR,
  created_at: 1,
  updated_at: 2,
};
const INSTANCE = {
  _id: "i1",
  path: "C:/mt5",
  host: "h",
  port: 5555,
  symbol: "EURUSD.m",
  status: "OCCUPIED",
  element_id: "e1",
  lease: 2,
  last_ping: 9,
  pid: 77,
  error: ERROR,
  created_at: 1,
};
const EVENT = {
  _id: "v1",
  element_id: "e1",
  at: 5,
  type: "breach",
  server_time: "2026.01.02 10:00",
  rule: "max_daily_loss",
  message: "hit",
  detail: { loss: 5 },
  host: "h",
};
const SAMPLE = { element_id: "e1", at: 5, balance: 1, equity: 2, daily_pl: 3, positions: 0 };
const HEARTBEAT = {
  host: "h",
  run_id: "r",
  pid: 1,
  machine: "m",
  version: "0.1",
  started_at: 1,
  last_seen: 2,
  children: 3,
  instances_free: 1,
  instances_total: 4,
  stopped_at: 9,
};
const PATCH = {
  status: "ERROR",
  trading: "LOCKED",
  lock_reason: "x",
  locked_until: 5,
  unlock_applied_at: 3,
  flatten_pending: ["cancel_orders"],
  metrics: METRICS,
  day: DAY,
  peak: PEAK,
  error: ERROR,
};

const RUNS = Number(Deno.env.get("DIFF_RUNS") ?? 3000);

Deno.test("element: hand-written schema matches zod", () => {
  same("element", old.elementSchema, now.elementSchema as now.Schema<unknown>, ELEMENT, RUNS * 4);
  same(
    "element (few changes)",
    old.elementSchema,
    now.elementSchema as now.Schema<unknown>,
    ELEMENT,
    RUNS * 4,
    150,
  );
  fc.assert(
    fc.property(near(ELEMENT), (doc) => {
      assert.deepStrictEqual(now.parseElement(doc), old.parseElement(doc));
    }),
    { numRuns: RUNS },
  );
  // Sparse documents: few fields given, so required-field and password issues meet.
  same("element (sparse)", old.elementSchema, now.elementSchema as now.Schema<unknown>, {
    _id: "e2",
    server: "s",
    login: 1,
    password: "p",
  }, RUNS);
});

Deno.test("instance, event, new event, sample, agent state, heartbeat, metrics match zod", () => {
  same("instance", old.instanceSchema, now.instanceSchema as now.Schema<unknown>, INSTANCE, RUNS);
  same("event", old.eventSchema, now.eventSchema as now.Schema<unknown>, EVENT, RUNS);
  const { _id: _, ...newEvent } = EVENT;
  same("new event", old.newEventSchema, now.newEventSchema as now.Schema<unknown>, newEvent, RUNS);
  same("sample", old.sampleSchema, now.sampleSchema as now.Schema<unknown>, SAMPLE, RUNS);
  same("agent state", old.agentStateSchema, now.agentStateSchema as now.Schema<unknown>, {
    _id: "a",
    resume_token: { t: 1 },
    updated_at: 1,
  }, RUNS);
  same(
    "heartbeat",
    old.agentHeartbeatSchema,
    now.agentHeartbeatSchema as now.Schema<unknown>,
    HEARTBEAT,
    RUNS,
  );
  same("metrics", old.metricsSchema, now.metricsSchema as now.Schema<unknown>, METRICS, RUNS);
});

Deno.test("managed patch matches zod", () => {
  fc.assert(
    fc.property(near(PATCH), (patch) => {
      const a = old.managedPatchSchema.safeParse(patch, { reportInput: true });
      let fields: unknown;
      let issues: unknown;
      try {
        fields = checkManagedPatch(patch as never);
      } catch (error) {
        issues = (error as { issues?: unknown }).issues;
      }
      if (a.success) {
        const expected = Object.fromEntries(
          Object.entries(a.data).filter(([, value]) => value !== undefined),
        );
        assert.deepStrictEqual(fields, expected);
      } else {
        assert.deepStrictEqual(issues, old.describeIssues(a.error.issues));
      }
    }),
    { numRuns: RUNS },
  );
});
