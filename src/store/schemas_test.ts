/**
 * The document schemas' messages, one row per field kind and problem (the texts that operators
 * read in `elements add`, the dashboard and the logs), plus defaults, trimming, unknown keys and
 * the order of issues.
 */
import assert from "node:assert/strict";
import {
  agentStateSchema,
  elementSchema,
  eventSchema,
  type FieldIssue,
  instanceSchema,
  metricsSchema,
  newEventSchema,
  parseElement,
  parseInstance,
  sampleSchema,
} from "./schemas.ts";
import { checkManagedPatch } from "./_validation.ts";
import { StoreInputError } from "./errors.ts";

const ELEMENT = { _id: "e1", server: "Demo", login: 5, password: "pw" };

function issuesOf(doc: Record<string, unknown>): FieldIssue[] {
  const parsed = parseElement(doc);
  assert.equal(parsed.valid, false, `expected ${JSON.stringify(doc)} to be refused`);
  return parsed.valid ? [] : parsed.issues;
}

/** [change to a valid element, field, reason] — every kind of field and problem. */
const ELEMENT_MESSAGES: [Record<string, unknown>, string, string][] = [
  [{ server: undefined }, "server", "is required"],
  [{ server: 5 }, "server", "must be a string, got 5"],
  [{ server: "   " }, "server", 'must not be empty, got the string ""'],
  [{ login: 1.5 }, "login", "must be an integer, got 1.5"],
  [{ login: 0 }, "login", "must be more than 0, got 0"],
  [{ login: "5" }, "login", 'must be a number, got the string "5"'],
  [{ login: 2 ** 53 }, "login", "must be at most 9007199254740991, got 9007199254740992"],
  [{ login: null }, "login", "must be a number, got null"],
  [{ _id: "" }, "_id", 'must be at least 1 characters, got the string ""'],
  [{ name: [] }, "name", "must be a string, got an array"],
  [{ password: undefined }, "password", "is required (password or password_enc)"],
  [{ password: 5 }, "password", "must be a string"],
  [{ password: "" }, "password", "must be at least 1 characters"],
  [{ password_enc: {} }, "password_enc", "must be a string"],
  [{ max_daily_loss: 0 }, "max_daily_loss", "must be a positive amount of money, got 0"],
  [
    { max_daily_loss: "150%" },
    "max_daily_loss",
    'percent must be more than 0 and at most 100, got "150%"',
  ],
  [
    { max_profit: "12" },
    "max_profit",
    'must be a number (money) or a percent like "5%", got the string "12"',
  ],
  [
    { max_position_risk: true },
    "max_position_risk",
    'must be a number (money) or a percent like "5%", got boolean',
  ],
  [{ max_drawdown: { mode: "static" } }, "max_drawdown.limit", "is required"],
  [
    { max_drawdown: { limit: 5, mode: "x" } },
    "max_drawdown.mode",
    'must be one of "static", "trailing_balance", "trailing_equity", got the string "x"',
  ],
  [{ max_drawdown: 5 }, "max_drawdown", "must be an object, got 5"],
  [
    { daily: { reset: "24:00" } },
    "daily.reset",
    'must be a time "HH:MM" (00:00 to 23:59), got the string "24:00"',
  ],
  [
    { daily: { timezone: "Mars/Base" } },
    "daily.timezone",
    'must be "server" or an IANA time zone like "Europe/Berlin"',
  ],
  [{ warn_at: 1.5 }, "warn_at", "must be less than 1, got 1.5"],
  [{ warn_at: 0 }, "warn_at", "must be more than 0, got 0"],
  [{ require_stop_loss: "yes" }, "require_stop_loss", 'must be a boolean, got the string "yes"'],
  [
    { trading_hours: { start: "08:00", end: "20:00", days: [] } },
    "trading_hours.days",
    "must be at least 1 items, got an array",
  ],
  [
    { trading_hours: { start: "08:00", end: "20:00", days: [8] } },
    "trading_hours.days.0",
    "must be at most 7, got 8",
  ],
  [
    { close_before_weekend: { day: 0, time: "20:00" } },
    "close_before_weekend.day",
    "must be at least 1, got 0",
  ],
  [
    { rules: [{ module: "" }] },
    "rules.0.module",
    'must be at least 1 characters, got the string ""',
  ],
  [{ rules: [{ module: "m", options: [] }] }, "rules.0.options", "must be a record, got an array"],
  [{ pin_host: " " }, "pin_host", 'must not be empty, got the string ""'],
  [
    { status: "GONE" },
    "status",
    'must be one of "PENDING", "ACTIVE", "INACTIVE", "DISABLED", "ERROR", got the string "GONE"',
  ],
  [
    { flatten_pending: ["all"] },
    "flatten_pending.0",
    'must be one of "cancel_orders", "close_all", got the string "all"',
  ],
  [{ lease: -1 }, "lease", "must be at least 0, got -1"],
  [{ locked_until: Infinity }, "locked_until", "must be a number, got Infinity"],
  [{ day: { date: "x" } }, "day.date", 'must be a date "YYYY-MM-DD", got the string "x"'],
  [{ peak: 5 }, "peak", "must be an object, got 5"],
  [{ metrics: { balance: 1 } }, "metrics.equity", "is required"],
  [
    { error: { code: "", message: "m", at: 1 } },
    "error.code",
    'must be at least 1 characters, got the string ""',
  ],
];

Deno.test("every field kind of an element is refused with its message", () => {
  for (const [change, field, reason] of ELEMENT_MESSAGES) {
    const doc = { ...ELEMENT, ...change };
    for (const [key, value] of Object.entries(change)) {
      if (value === undefined) delete (doc as Record<string, unknown>)[key];
    }
    const [first] = issuesOf(doc);
    assert.deepEqual(first, { field, reason }, JSON.stringify(change));
  }
});

Deno.test("a valid element gets its defaults, trimmed names and parsed limits; unknown keys go", () => {
  const parsed = parseElement({
    ...ELEMENT,
    server: " Demo ",
    pin_host: " vps ",
    max_daily_loss: "5%",
    extra: 1,
  });
  assert.ok(parsed.valid);
  const element = parsed.element;
  assert.equal(element.server, "Demo");
  assert.equal(element.pin_host, "vps");
  assert.deepEqual(element.max_daily_loss, { kind: "percent", value: 5 });
  assert.deepEqual(element.daily, { reset: "00:00", timezone: "server", baseline: "balance" });
  assert.equal(element.warn_at, 0.8);
  assert.equal(element.require_stop_loss, false);
  assert.equal(element.position_risk_action, "close");
  assert.deepEqual(element.rules, []);
  assert.equal(element.status, "PENDING");
  assert.equal(element.trading, "ALLOWED");
  for (
    const key of [
      "lock_reason",
      "locked_until",
      "unlocked_at",
      "host",
      "day",
      "metrics",
      "error",
    ] as const
  ) {
    assert.equal(element[key], null, key);
  }
  assert.equal(element.lease, 0);
  assert.equal("extra" in element, false, "unknown keys are left out");
  assert.equal("max_profit" in element, false, "an absent optional field stays absent");
  const again = parseElement({ ...ELEMENT });
  assert.ok(again.valid);
  assert.notEqual(again.element.rules, element.rules, "defaults are not shared between documents");
});

Deno.test("every issue is collected in field order; the first is the refusal", () => {
  const parsed = parseElement({ ...ELEMENT, login: 0, warn_at: 2, status: "X" });
  assert.ok(!parsed.valid);
  assert.deepEqual(parsed.issues.map((issue) => issue.field), ["login", "warn_at", "status"]);
  assert.equal(parsed.field, "login");
  assert.equal(parsed.reason, "must be more than 0, got 0");
});

Deno.test("the password rule is checked once every field has its type", () => {
  const { password: _, ...noPassword } = ELEMENT;
  // A value of the right type that is out of range does not hide the password rule...
  assert.deepEqual(issuesOf({ ...noPassword, login: 0 }).map((issue) => issue.field), [
    "login",
    "password",
  ]);
  // ...a value of the wrong type does.
  assert.deepEqual(issuesOf({ ...noPassword, login: "x" }).map((issue) => issue.field), ["login"]);
  assert.ok(parseElement({ ...noPassword, password_enc: "enc" }).valid);
});

Deno.test("a value of the wrong type that has a length is also measured", () => {
  assert.deepEqual(issuesOf({ ...ELEMENT, server: [] }), [
    { field: "server", reason: "must be a string, got an array" },
    { field: "server", reason: "must not be empty, got an array" },
  ]);
});

Deno.test("secret values are never shown", () => {
  for (const password of [5, "", [], { a: 1 }]) {
    for (const issue of issuesOf({ ...ELEMENT, password })) {
      assert.doesNotMatch(issue.reason, /got/, JSON.stringify(issue));
    }
  }
});

Deno.test("a document that is not an object is refused whole", () => {
  const parsed = parseElement([1]);
  assert.ok(!parsed.valid);
  assert.deepEqual([parsed.field, parsed.reason], [
    "(document)",
    "must be an object, got an array",
  ]);
  const instance = instanceSchema.parse("x");
  assert.deepEqual(instance, {
    ok: false,
    issues: [{ field: "(document)", reason: 'must be an object, got the string "x"' }],
  });
});

Deno.test("instances, events, samples, agent state and metrics keep their messages", () => {
  const instance = { _id: "i", path: "p", host: "h", port: 5555 };
  assert.deepEqual(parseInstance({ ...instance, port: 70_000 }), {
    ok: false,
    issues: [{ field: "port", reason: "must be at most 65534, got 70000" }],
  });
  assert.deepEqual(parseInstance({ ...instance, symbol: "EUR USD" }), {
    ok: false,
    issues: [{
      field: "symbol",
      reason: 'must be a symbol name without spaces, got the string "EUR USD"',
    }],
  });
  const parsedInstance = parseInstance(instance);
  assert.ok(parsedInstance.ok);
  assert.deepEqual(parsedInstance.instance, {
    ...instance,
    status: "FREE",
    element_id: null,
    lease: null,
    last_ping: null,
    pid: null,
    error: null,
  });

  const event = { _id: "v", element_id: "e", at: 1, type: "lock" };
  assert.deepEqual(eventSchema.parse({ ...event, server_time: true }), {
    ok: false,
    issues: [{ field: "server_time", reason: "Invalid input, got true" }],
  });
  assert.deepEqual(eventSchema.parse(event), {
    ok: true,
    value: { ...event, server_time: null, rule: null, message: "", detail: {}, host: null },
  });
  assert.deepEqual(newEventSchema.parse({ element_id: "e", type: "" }), {
    ok: false,
    issues: [{ field: "type", reason: 'must be at least 1 characters, got the string ""' }],
  });
  assert.deepEqual(
    sampleSchema.parse({
      element_id: "e",
      at: 1,
      balance: 1,
      equity: 1,
      daily_pl: 0,
      positions: -1,
    }),
    {
      ok: false,
      issues: [{ field: "positions", reason: "must be at least 0, got -1" }],
    },
  );
  assert.deepEqual(agentStateSchema.parse({ _id: "a", updated_at: 1 }), {
    ok: false,
    issues: [{ field: "resume_token", reason: "is required" }],
  });
  const metrics = { balance: 1, equity: 1, daily_pl: 0, positions: 0, orders: 0, updated_at: 1 };
  const long = Array.from({ length: 501 }, () => ({ bad: true }));
  assert.deepEqual(
    metricsSchema.parse({ ...metrics, open_positions: { items: long, truncated: true } }),
    {
      ok: false,
      issues: [{
        field: "open_positions.items",
        reason: "must be at most 500 items, got an array",
      }],
    },
  );
  assert.deepEqual(
    metricsSchema.parse({ ...metrics, pending_orders: { items: [{}], truncated: false } }).ok,
    false,
  );
});

Deno.test("a manager's patch refuses unknown keys and DISABLED", () => {
  const refused = (patch: Record<string, unknown>) => {
    try {
      checkManagedPatch(patch as never);
    } catch (error) {
      assert.ok(error instanceof StoreInputError);
      return error.issues;
    }
    assert.fail(`expected ${JSON.stringify(patch)} to be refused`);
  };
  assert.deepEqual(refused({ status: "DISABLED", owner: 1, other: 2 }), [
    {
      field: "status",
      reason: 'must be one of "PENDING", "ACTIVE", "INACTIVE", "ERROR", got the string "DISABLED"',
    },
    { field: "(document)", reason: "has unknown keys owner, other" },
  ]);
  assert.deepEqual(checkManagedPatch({ trading: "LOCKED", lock_reason: null }), {
    trading: "LOCKED",
    lock_reason: null,
  });
});

Deno.test("the element schema names every field (for `elements set --unset`)", () => {
  assert.ok(elementSchema.keys.includes("max_daily_loss"));
  assert.equal(elementSchema.keys[0], "_id");
  assert.equal(new Set(elementSchema.keys).size, elementSchema.keys.length);
});
