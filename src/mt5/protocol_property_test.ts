/**
 * Properties of the bridge protocol's validators, against a description of the messages written
 * here from docs/protocol.md (sections 4 and 5), not from the validators: every valid message
 * decodes to itself (unknown fields dropped), and a message with one field broken (wrong type,
 * out of range, missing) is refused with a reason that names that field.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  decodeCommand,
  decodeEaMessage,
  encodeMessage,
  MAX_COMMAND_ID_LENGTH,
  MAX_REASON_LENGTH,
} from "./protocol.ts";

/** What docs/protocol.md allows for one field. */
type Kind =
  | { of: "int"; min?: 0 | 1 }
  | { of: "number"; above?: "zero_or_more" | "more_than_zero" }
  | { of: "string"; minLength?: number; maxLength?: number }
  | { of: "boolean" }
  | { of: "enum"; values: readonly string[] }
  | { of: "object"; fields: Fields }
  | { of: "array"; item: Kind }
  | { of: "record"; item: Kind };

/** Fields of an object: required unless marked optional. */
type Fields = Record<string, Kind & { optional?: true }>;

const money: Kind = { of: "number" };
const price: Kind = { of: "number", above: "zero_or_more" };
const lots = price;
const ms: Kind = { of: "int", min: 0 };
const ticket = ms;
/** MQL5 magic numbers are ulong: any finite number, even past 2^53 (docs/protocol.md). */
const magic: Kind = { of: "number" };
const positiveInt: Kind = { of: "int", min: 1 };
const positiveNumber: Kind = { of: "number", above: "more_than_zero" };
const bool: Kind = { of: "boolean" };
const text: Kind = { of: "string" };
const name: Kind = { of: "string", minLength: 1 };
const optional = <K extends Kind>(kind: K): K & { optional: true } => ({ ...kind, optional: true });
const literal = (value: string): Kind => ({ of: "enum", values: [value] });

const account: Kind = {
  of: "object",
  fields: {
    login: positiveInt,
    currency: name,
    balance: money,
    equity: money,
    margin: money,
    free_margin: money,
    profit: money,
    credit: money,
    leverage: positiveInt,
    margin_mode: { of: "enum", values: ["hedging", "netting"] },
    margin_level: optional(price),
    trade_mode: optional({ of: "enum", values: ["demo", "contest", "real"] }),
    name: optional(text),
  },
};

const position: Kind = {
  of: "object",
  fields: {
    ticket,
    symbol: name,
    side: { of: "enum", values: ["buy", "sell"] },
    volume: lots,
    open_price: price,
    price,
    sl: price,
    tp: price,
    profit: money,
    swap: money,
    commission: money,
    open_time: ms,
    magic,
    comment: text,
    identifier: optional(ticket),
  },
};

const order: Kind = {
  of: "object",
  fields: {
    ticket,
    symbol: name,
    type: {
      of: "enum",
      values: [
        "buy_limit",
        "sell_limit",
        "buy_stop",
        "sell_stop",
        "buy_stop_limit",
        "sell_stop_limit",
      ],
    },
    volume: lots,
    price,
    sl: price,
    tp: price,
    setup_time: ms,
    magic,
    comment: text,
    stop_limit: optional(price),
    expiration: optional(ms),
  },
};

const symbolInfo: Kind = {
  of: "object",
  fields: {
    tick_value: positiveNumber,
    tick_size: positiveNumber,
    volume_step: positiveNumber,
    volume_min: positiveNumber,
    trade_allowed: bool,
    tick_value_loss: optional(positiveNumber),
    tick_value_profit: optional(positiveNumber),
    contract_size: optional(positiveNumber),
    digits: optional({ of: "int", min: 0 }),
    volume_max: optional(positiveNumber),
    bid: optional(price),
    ask: optional(price),
  },
};

const realizedToday: Kind = {
  of: "object",
  fields: {
    profit: money,
    swap: money,
    commission: money,
    total: money,
    fee: optional(money),
    deals: optional({ of: "int", min: 0 }),
    day_start: optional(ms),
    balance_ops: optional(money),
  },
};

const ticketResult: Kind = {
  of: "object",
  fields: {
    ticket,
    ok: bool,
    retcode: { of: "int" },
    message: optional(text),
    volume: optional(lots),
    price: optional(price),
    attempts: optional({ of: "int", min: 0 }),
    filling: optional({ of: "enum", values: ["fok", "ioc", "return"] }),
  },
};

const EA_MESSAGES: Record<string, Kind> = {
  hello: {
    of: "object",
    fields: {
      type: literal("hello"),
      protocol: positiveInt,
      ea_version: text,
      terminal_build: { of: "int", min: 0 },
      login: positiveInt,
      server: name,
      locked: bool,
      server_time: ms,
      utc_time: ms,
      heartbeat_ms: optional(positiveInt),
      timer_ms: optional(positiveInt),
      connected: optional(bool),
    },
  },
  snapshot: {
    of: "object",
    fields: {
      type: literal("snapshot"),
      seq: positiveInt,
      server_time: ms,
      utc_time: ms,
      account,
      positions: { of: "array", item: position },
      orders: { of: "array", item: order },
      symbols: { of: "record", item: symbolInfo },
      realized_today: realizedToday,
      trade_allowed: bool,
      locked: bool,
      locked_until: optional(ms),
      connected: optional(bool),
    },
  },
  ack: {
    of: "object",
    fields: {
      type: literal("ack"),
      id: name,
      ok: bool,
      retcode: { of: "int" },
      message: optional(text),
      results: optional({ of: "array", item: ticketResult }),
      duplicate: optional(bool),
      locked: optional(bool),
    },
  },
  heartbeat: {
    of: "object",
    fields: {
      type: literal("heartbeat"),
      server_time: ms,
      utc_time: ms,
      seq: optional({ of: "int", min: 0 }),
      locked: optional(bool),
      connected: optional(bool),
    },
  },
};

const commandId: Kind = { of: "string", minLength: 1, maxLength: MAX_COMMAND_ID_LENGTH };
const reason: Kind = { of: "string", maxLength: MAX_REASON_LENGTH };

const COMMANDS: Record<string, Kind> = {
  lock: {
    of: "object",
    fields: { type: literal("lock"), id: commandId, reason, until: ms },
  },
  unlock: { of: "object", fields: { type: literal("unlock"), id: commandId } },
  cancel_orders: { of: "object", fields: { type: literal("cancel_orders"), id: commandId } },
  close_position: {
    of: "object",
    fields: {
      type: literal("close_position"),
      id: commandId,
      ticket: positiveInt,
      volume: lots,
      reason,
    },
  },
  close_all: { of: "object", fields: { type: literal("close_all"), id: commandId, reason } },
  ping: { of: "object", fields: { type: literal("ping"), id: commandId, hello: optional(bool) } },
};

/** JSON has no -0: it comes back as 0, which `deepEqual` tells apart. */
const noNegativeZero = (value: number) => (Object.is(value, -0) ? 0 : value);

function arbitrary(kind: Kind): fc.Arbitrary<unknown> {
  switch (kind.of) {
    case "int":
      return fc.integer({
        min: kind.min ?? Number.MIN_SAFE_INTEGER,
        max: Number.MAX_SAFE_INTEGER,
      }).map(noNegativeZero);
    case "number":
      return fc.double({
        noNaN: true,
        noDefaultInfinity: true,
        min: kind.above === "more_than_zero"
          ? Number.MIN_VALUE
          : kind.above === "zero_or_more"
          ? 0
          : -Number.MAX_VALUE,
      }).map(noNegativeZero);
    case "string":
      return fc.string({
        unit: "binary",
        minLength: kind.minLength ?? 0,
        maxLength: kind.maxLength ?? 12,
      }).filter((s) => s.length >= (kind.minLength ?? 0) && s.length <= (kind.maxLength ?? 24));
    case "boolean":
      return fc.boolean();
    case "enum":
      return fc.constantFrom(...kind.values);
    case "object": {
      const model: Record<string, fc.Arbitrary<unknown>> = {};
      const required: string[] = [];
      for (const [key, field] of Object.entries(kind.fields)) {
        model[key] = arbitrary(field);
        if (!field.optional) required.push(key);
      }
      return fc.record(model, { requiredKeys: required, noNullPrototype: true });
    }
    case "array":
      return fc.array(arbitrary(kind.item), { maxLength: 3 });
    case "record":
      return fc.dictionary(
        fc.string({ minLength: 1, maxLength: 8 }).filter((key) => key !== "__proto__"),
        arbitrary(kind.item),
        { maxKeys: 3, noNullPrototype: true },
      );
  }
}

/** The same message with an unknown field added to every object of it (not to a record). */
function withUnknownFields(kind: Kind, value: unknown): unknown {
  switch (kind.of) {
    case "object": {
      const copy: Record<string, unknown> = { future_field: { nested: [1, "two"] } };
      for (const [key, item] of Object.entries(value as Record<string, unknown>)) {
        const field = kind.fields[key];
        copy[key] = field === undefined ? item : withUnknownFields(field, item);
      }
      return copy;
    }
    case "array":
      return (value as unknown[]).map((item) => withUnknownFields(kind.item, item));
    case "record": {
      const copy: Record<string, unknown> = {};
      for (const [key, item] of Object.entries(value as Record<string, unknown>)) {
        copy[key] = withUnknownFields(kind.item, item);
      }
      return copy;
    }
    default:
      return value;
  }
}

/** One field of a message, by path, with what docs/protocol.md allows for it. */
interface Slot {
  path: (string | number)[];
  kind: Kind;
  optional: boolean;
}

/** Every field present in `value` (or required by `kind`), nested ones included. */
function slotsOf(kind: Kind, value: unknown, path: (string | number)[] = []): Slot[] {
  const slots: Slot[] = [];
  if (kind.of === "object") {
    const record = value as Record<string, unknown>;
    for (const [key, field] of Object.entries(kind.fields)) {
      if (!(key in record) && field.optional) continue;
      slots.push({ path: [...path, key], kind: field, optional: field.optional === true });
      slots.push(...slotsOf(field, record[key], [...path, key]));
    }
  } else if (kind.of === "array") {
    (value as unknown[]).forEach((item, index) => {
      slots.push({ path: [...path, index], kind: kind.item, optional: true });
      slots.push(...slotsOf(kind.item, item, [...path, index]));
    });
  } else if (kind.of === "record") {
    for (const [key, item] of Object.entries(value as Record<string, unknown>)) {
      slots.push({ path: [...path, key], kind: kind.item, optional: true });
      slots.push(...slotsOf(kind.item, item, [...path, key]));
    }
  }
  return slots;
}

/** Values that break a field of this kind: of the wrong type, out of its range. */
function breakersOf(kind: Kind): unknown[] {
  switch (kind.of) {
    case "int":
      return ["1", true, null, 1.5, 2 ** 53, ...(kind.min === undefined ? [] : [kind.min - 1])];
    case "number":
      return [
        "1",
        false,
        null,
        ...(kind.above === "zero_or_more" ? [-0.5] : []),
        ...(kind.above === "more_than_zero" ? [0, -1] : []),
      ];
    case "string":
      return [
        7,
        null,
        ["a"],
        ...(kind.minLength ? [""] : []),
        ...(kind.maxLength === undefined ? [] : ["x".repeat(kind.maxLength + 1)]),
      ];
    case "boolean":
      return ["true", 1, null];
    case "enum":
      return [`${kind.values[0]}_nope`, 3, null];
    case "object":
    case "record":
      return [[], "{}", null];
    case "array":
      return [{}, "[]", null];
  }
}

/** A message with one field replaced by `broken`, or removed when `broken` is `REMOVE`. */
function withBrokenField(message: unknown, path: (string | number)[], broken: unknown): unknown {
  const copy = structuredClone(message) as Record<string | number, unknown>;
  let parent = copy;
  for (const step of path.slice(0, -1)) parent = parent[step] as Record<string | number, unknown>;
  const last = path.at(-1)!;
  if (broken === REMOVE) delete parent[last];
  else parent[last] = broken;
  return copy;
}

const REMOVE = Symbol("remove");

/** Every way to break one field of a message: the field's path and the message broken. */
function* brokenCopies(kind: Kind, message: unknown) {
  for (const slot of slotsOf(kind, message)) {
    const breakers = breakersOf(slot.kind);
    for (const broken of slot.optional ? breakers : [...breakers, REMOVE]) {
      yield { path: slot.path.join("."), message: withBrokenField(message, slot.path, broken) };
    }
  }
}

/** A valid message of one of the given kinds, with its kind. */
function messages(kinds: Record<string, Kind>) {
  return fc.constantFrom(...Object.values(kinds)).chain((kind) =>
    arbitrary(kind).map((message) => ({ kind, message }))
  );
}

const encoder = new TextEncoder();
const frameOf = (value: unknown) => encoder.encode(JSON.stringify(value));

Deno.test("protocol property: every valid EA message decodes to itself", () => {
  fc.assert(
    fc.property(fc.constantFrom(...Object.values(EA_MESSAGES)).chain(arbitrary), (message) => {
      assert.deepEqual(decodeEaMessage(frameOf(message)), { ok: true, value: message });
    }),
    { numRuns: 500 },
  );
});

Deno.test("protocol property: unknown fields at any depth are dropped, the rest kept", () => {
  fc.assert(
    fc.property(messages(EA_MESSAGES), ({ kind, message }) => {
      const decoded = decodeEaMessage(frameOf(withUnknownFields(kind, message)));
      assert.deepEqual(decoded, { ok: true, value: message });
    }),
    { numRuns: 300 },
  );
});

Deno.test("protocol property: every valid command decodes to itself", () => {
  fc.assert(
    fc.property(fc.constantFrom(...Object.values(COMMANDS)).chain(arbitrary), (command) => {
      assert.deepEqual(decodeCommand(frameOf(command)), { ok: true, value: command });
      assert.deepEqual(decodeCommand(encodeMessage(command as never)), {
        ok: true,
        value: command,
      });
    }),
    { numRuns: 300 },
  );
});

Deno.test("protocol property: an EA message with any one field broken is refused naming it", () => {
  fc.assert(
    fc.property(messages(EA_MESSAGES), ({ kind, message }) => {
      for (const broken of brokenCopies(kind, message)) {
        const decoded = decodeEaMessage(frameOf(broken.message));
        assert.equal(decoded.ok, false, `accepted with ${broken.path} broken`);
        assert.equal(!decoded.ok && decoded.reason, "invalid");
        assert.ok(
          !decoded.ok && decoded.error.startsWith(`${broken.path}: expected `),
          `${broken.path} broken, refused with: ${!decoded.ok && decoded.error}`,
        );
      }
    }),
    { numRuns: 200 },
  );
});

Deno.test("protocol property: a command with any one field broken is refused naming it", () => {
  fc.assert(
    fc.property(messages(COMMANDS), ({ kind, message }) => {
      for (const broken of brokenCopies(kind, message)) {
        const decoded = decodeCommand(frameOf(broken.message));
        assert.ok(
          !decoded.ok && decoded.error.startsWith(`${broken.path}: expected `),
          `${broken.path} broken, decoded as: ${JSON.stringify(decoded)}`,
        );
      }
    }),
    { numRuns: 200 },
  );
});
