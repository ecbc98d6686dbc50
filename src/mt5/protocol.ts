/**
 * The bridge protocol between the agent (risk process) and the Expert Advisor in the MT5
 * terminal: the types of every message, both ways, and their hand-written validators.
 * `docs/protocol.md` is the prose reference; the validators accept exactly what it allows.
 *
 * Every message is one ZMTP frame of UTF-8 JSON with a `type` field. Agent -> EA commands are
 * flat objects (no nesting) so that they are easy to parse in MQL5.
 *
 * The validators are written by hand, not with a schema library: a risk child must stay small
 * (a schema library costs it several megabytes) and a snapshot is validated on every change of
 * the account, so they allocate nothing but the result on the way and build the refusal's text
 * only when they refuse. Unknown fields are left out of the result (forward compatibility).
 *
 * Units and time bases:
 * - money fields are in the account currency, as MT5 reports them;
 * - volumes are in lots;
 * - `server_time` is the trade server's wall clock in milliseconds, encoded like MT5 `datetime`
 *   (as if the server's local time were UTC): use it for "server" day resets;
 * - `utc_time` is the real instant (milliseconds since the Unix epoch, from `TimeGMT()`): use it
 *   for IANA time zones and for staleness.
 *
 * Numbers are JSON numbers, so finite; integers are safe integers (below 2^53), except the
 * magic numbers (MQL5 ulong), which are accepted as any finite number.
 *
 * @module
 */
import {
  describeValue,
  isCount,
  isInteger,
  isNonNegative,
  isNumber,
  isPositive,
  isPositiveInteger,
  isRecord,
} from "../shared/validation.ts";

/** Version of this protocol, carried by `hello`. A mismatch is refused. */
export const PROTOCOL_VERSION = 1;

/** PLAIN user name the EA presents; the password is the per-launch token. */
export const PLAIN_USERNAME = "riskguard";

/**
 * Largest frame either side accepts, in bytes. A snapshot of 200 positions and 200 orders is
 * about 120 KiB; anything over this is dropped (and counted) by the receiver.
 */
export const MAX_MESSAGE_SIZE = 1024 * 1024;

/** Longest command id, in characters (ids are ASCII). */
export const MAX_COMMAND_ID_LENGTH = 64;

/** Longest `reason` of a command, in UTF-16 code units (JavaScript string length). */
export const MAX_REASON_LENGTH = 200;

/**
 * A reason cut to {@link MAX_REASON_LENGTH}, ending in "…" when it was cut (never half of a
 * surrogate pair): a rule's long explanation must never keep a lock or a close from the EA.
 */
export function fitReason(reason: string): string {
  if (reason.length <= MAX_REASON_LENGTH) return reason;
  let cut = reason.slice(0, MAX_REASON_LENGTH - 1);
  const last = cut.charCodeAt(cut.length - 1);
  if (last >= 0xd800 && last <= 0xdbff) cut = cut.slice(0, -1);
  return `${cut}…`;
}

/** Account state in a snapshot. */
export interface Account {
  /** ACCOUNT_LOGIN, > 0. */
  login: number;
  /** ACCOUNT_CURRENCY, not empty. */
  currency: string;
  balance: number;
  equity: number;
  margin: number;
  free_margin: number;
  /**
   * `ACCOUNT_PROFIT`: floating profit of open positions, swap included; their commission is
   * already in the balance.
   */
  profit: number;
  credit: number;
  /** ACCOUNT_LEVERAGE, > 0. */
  leverage: number;
  /** `hedging` allows several positions per symbol; `netting` keeps one. */
  margin_mode: MarginMode;
  /** Margin level in percent (ACCOUNT_MARGIN_LEVEL); absent or 0 when no margin is used. */
  margin_level?: number | undefined;
  /** ACCOUNT_TRADE_MODE: demo, contest or real account. */
  trade_mode?: TradeMode | undefined;
  /** Account holder name (ACCOUNT_NAME), for display only. */
  name?: string | undefined;
}

/** An open position. */
export interface Position {
  /** POSITION_TICKET, >= 0. */
  ticket: number;
  /** Not empty. */
  symbol: string;
  side: PositionSide;
  /** Lots, >= 0. */
  volume: number;
  /** >= 0. */
  open_price: number;
  /** Current price at which the position would close (bid for buys, ask for sells). */
  price: number;
  /** Stop loss price, `0` when none (MT5 convention). */
  sl: number;
  /** Take profit price, `0` when none. */
  tp: number;
  /** Floating profit in account currency, without swap and commission. */
  profit: number;
  /** Accumulated swap (POSITION_SWAP). */
  swap: number;
  /**
   * Commission charged so far for this position, negative when charged. MT5 deprecated
   * POSITION_COMMISSION (always 0): the EA sums DEAL_COMMISSION of the position's deals.
   */
  commission: number;
  /** Open time in server time (POSITION_TIME_MSC, ms, server clock encoded as UTC). */
  open_time: number;
  /**
   * POSITION_MAGIC, 0 for manual trades: an MQL5 ulong the EA writes as a signed long, so any
   * finite number is accepted (negative past 2^63; rounded by JSON beyond 2^53 in size: match
   * magics with care there).
   */
  magic: number;
  comment: string;
  /** POSITION_IDENTIFIER (equals the ticket except after a netting reversal). */
  identifier?: number | undefined;
}

/** A pending order. */
export interface Order {
  /** ORDER_TICKET, >= 0. */
  ticket: number;
  /** Not empty. */
  symbol: string;
  type: OrderType;
  /** Lots, >= 0. */
  volume: number;
  /** >= 0. */
  price: number;
  sl: number;
  tp: number;
  /** Placement time in server time (ORDER_TIME_SETUP_MSC). */
  setup_time: number;
  /** ORDER_MAGIC: an MQL5 ulong, any finite number (rounded by JSON at or above 2^53). */
  magic: number;
  comment: string;
  /** Limit price of a stop-limit order (ORDER_PRICE_STOPLIMIT), 0 otherwise. */
  stop_limit?: number | undefined;
  /** Expiration in server time (ORDER_TIME_EXPIRATION, ms), 0 for good-till-cancelled. */
  expiration?: number | undefined;
}

/** Per-symbol contract data needed to turn price distances into money. */
export interface SymbolInfo {
  /** Value in account currency of one tick move for one lot (SYMBOL_TRADE_TICK_VALUE), > 0. */
  tick_value: number;
  /** Price change of one tick (SYMBOL_TRADE_TICK_SIZE), > 0. */
  tick_size: number;
  /** > 0. */
  volume_step: number;
  /** > 0. */
  volume_min: number;
  /** Whether the symbol can be traded right now (session open, trade mode full). */
  trade_allowed: boolean;
  /** SYMBOL_TRADE_TICK_VALUE_LOSS: tick value for losing positions (use it for risk at SL). */
  tick_value_loss?: number | undefined;
  /** SYMBOL_TRADE_TICK_VALUE_PROFIT: tick value for winning positions. */
  tick_value_profit?: number | undefined;
  /** SYMBOL_TRADE_CONTRACT_SIZE: units of the base asset in one lot. */
  contract_size?: number | undefined;
  /** SYMBOL_DIGITS: decimal places of the price. */
  digits?: number | undefined;
  /** SYMBOL_VOLUME_MAX. */
  volume_max?: number | undefined;
  /** Last bid (SYMBOL_BID). */
  bid?: number | undefined;
  /** Last ask (SYMBOL_ASK). */
  ask?: number | undefined;
}

/** Profit realized today (since the server day began, 00:00 server time) by deals. */
export interface RealizedToday {
  profit: number;
  swap: number;
  commission: number;
  /** `profit + swap + commission` (and fees): what today's closed deals added to the balance. */
  total: number;
  /** Sum of DEAL_FEE of today's deals (already included in `total`). */
  fee?: number | undefined;
  /** Number of trade deals counted (balance/credit operations excluded). */
  deals?: number | undefined;
  /** Server time (ms) at which the counted day began: 00:00 of the server's date. */
  day_start?: number | undefined;
  /**
   * Balance operations of today (DEAL_TYPE_BALANCE/CREDIT/...: deposits, withdrawals), kept
   * apart from `total` so that a deposit is not mistaken for profit.
   */
  balance_ops?: number | undefined;
}

/** EA -> agent: first message after (re)connecting. */
export interface Hello {
  type: "hello";
  /** The EA's protocol version, > 0. */
  protocol: number;
  ea_version: string;
  /** TERMINAL_BUILD, >= 0. */
  terminal_build: number;
  /** ACCOUNT_LOGIN, > 0. */
  login: number;
  /** ACCOUNT_SERVER, not empty. */
  server: string;
  /** Whether the EA's persisted lock mode is on (terminal global variable). */
  locked: boolean;
  server_time: number;
  utc_time: number;
  /** Interval (ms) of the EA's heartbeat when nothing changes; staleness is judged from it. */
  heartbeat_ms?: number | undefined;
  /** The EA's timer period (ms): how often it looks for changes. */
  timer_ms?: number | undefined;
  /** Whether the terminal is connected to the trade server (TERMINAL_CONNECTED). */
  connected?: boolean | undefined;
}

/** EA -> agent: the state of the account, sent when something changed. */
export interface Snapshot {
  type: "snapshot";
  /** Increases by one per snapshot; starts at 1 after every hello. */
  seq: number;
  server_time: number;
  utc_time: number;
  account: Account;
  positions: Position[];
  orders: Order[];
  /**
   * Contract data of every symbol that has a position or an order. A symbol is left out while
   * MT5 has no valid tick value or tick size for it (0 right after a terminal start): treat a
   * missing entry as "unknown", never as zero.
   */
  symbols: Record<string, SymbolInfo>;
  realized_today: RealizedToday;
  /** Terminal and account allow trading (TERMINAL_TRADE_ALLOWED and ACCOUNT_TRADE_ALLOWED). */
  trade_allowed: boolean;
  /** The EA's lock mode is on. */
  locked: boolean;
  /** UTC epoch ms at which the EA's lock ends by itself, 0 for "until unlocked". */
  locked_until?: number | undefined;
  /** Whether the terminal is connected to the trade server (TERMINAL_CONNECTED). */
  connected?: boolean | undefined;
}

/** Per-ticket outcome inside an ack. */
export interface TicketResult {
  ticket: number;
  ok: boolean;
  /** An integer. */
  retcode: number;
  message?: string | undefined;
  /** Lots closed (close) or of the order deleted (cancel). */
  volume?: number | undefined;
  /** Execution price of the close deal. */
  price?: number | undefined;
  /** Trade requests sent for this ticket (1 + retries; a filling-mode switch is not one). */
  attempts?: number | undefined;
  /** Filling mode of the last closing deal request (`ORDER_TYPE_FILLING`). */
  filling?: FillingMode | undefined;
}

/** EA -> agent: the answer to a command. */
export interface Ack {
  type: "ack";
  /** The `id` of the command answered (not empty). */
  id: string;
  ok: boolean;
  /** MT5 trade server return code (10009 = done), or 0 for commands that trade nothing. */
  retcode: number;
  message?: string | undefined;
  results?: TicketResult[] | undefined;
  /** True when this answers a command id the EA had already executed (a retry): not re-run. */
  duplicate?: boolean | undefined;
  /** The EA's lock mode after the command. */
  locked?: boolean | undefined;
}

/** EA -> agent: sent when nothing changed for a while, so silence means trouble. */
export interface Heartbeat {
  type: "heartbeat";
  server_time: number;
  utc_time: number;
  /** `seq` of the last snapshot sent (0 before the first): a gap means snapshots were lost. */
  seq?: number | undefined;
  /** The EA's lock mode is on. */
  locked?: boolean | undefined;
  /** Whether the terminal is connected to the trade server. */
  connected?: boolean | undefined;
}

/** Any EA -> agent message. */
export type EaMessage = Hello | Snapshot | Ack | Heartbeat;

/** Agent -> EA: refuse new trades and close any position opened while locked. */
export interface LockCommand {
  type: "lock";
  /** 1 to {@link MAX_COMMAND_ID_LENGTH} characters. */
  id: string;
  /** At most {@link MAX_REASON_LENGTH} characters. */
  reason: string;
  /** UTC epoch ms at which the lock ends by itself, or 0 for "until unlocked". */
  until: number;
}

/** Agent -> EA: leave lock mode. */
export interface UnlockCommand {
  type: "unlock";
  id: string;
}

/** Agent -> EA: delete every pending order. */
export interface CancelOrdersCommand {
  type: "cancel_orders";
  id: string;
}

/** Agent -> EA: close one position (fully, or `volume` lots of it). */
export interface ClosePositionCommand {
  type: "close_position";
  id: string;
  ticket: number;
  /** Lots to close; 0 closes the whole position. */
  volume: number;
  reason: string;
}

/** Agent -> EA: cancel pending orders, then close every position. */
export interface CloseAllCommand {
  type: "close_all";
  id: string;
  reason: string;
}

/** Agent -> EA: liveness check; the EA acks it at once. */
export interface PingCommand {
  type: "ping";
  id: string;
  /**
   * Ask the EA to send `hello` again after the ack (a new session: `seq` restarts at 1). The
   * agent sets it when it receives snapshots without having seen a `hello` (it was restarted
   * while the EA kept running).
   */
  hello?: boolean | undefined;
}

/** Any agent -> EA command. */
export type Command =
  | LockCommand
  | UnlockCommand
  | CancelOrdersCommand
  | ClosePositionCommand
  | CloseAllCommand
  | PingCommand;

/** The type names of agent -> EA commands. */
export type CommandType = Command["type"];

const MARGIN_MODES = ["hedging", "netting"] as const;
const TRADE_MODES = ["demo", "contest", "real"] as const;
const POSITION_SIDES = ["buy", "sell"] as const;
const ORDER_TYPES = [
  "buy_limit",
  "sell_limit",
  "buy_stop",
  "sell_stop",
  "buy_stop_limit",
  "sell_stop_limit",
] as const;
const FILLING_MODES = ["fok", "ioc", "return"] as const;
const EA_MESSAGE_TYPES = ["hello", "snapshot", "ack", "heartbeat"] as const;
const COMMAND_TYPES = [
  "lock",
  "unlock",
  "cancel_orders",
  "close_position",
  "close_all",
  "ping",
] as const;

/** `ACCOUNT_MARGIN_MODE` as the EA reports it. */
export type MarginMode = typeof MARGIN_MODES[number];
/** `ACCOUNT_TRADE_MODE` as the EA reports it. */
export type TradeMode = typeof TRADE_MODES[number];
/** `POSITION_TYPE` as the EA reports it. */
export type PositionSide = typeof POSITION_SIDES[number];
/** `ORDER_TYPE` of a pending order as the EA reports it. */
export type OrderType = typeof ORDER_TYPES[number];
/** `ORDER_TYPE_FILLING` of a closing deal as the EA reports it. */
export type FillingMode = typeof FILLING_MODES[number];

/** The outcome of decoding one frame (or reading one parsed JSON value). */
export type DecodeResult<T> =
  | { ok: true; value: T }
  | { ok: false; reason: "not_utf8" | "not_json" | "invalid"; error: string };

const utf8 = new TextDecoder("utf-8", { fatal: true });
const encoder = new TextEncoder();

/** Decodes one frame from the EA; never throws. */
export function decodeEaMessage(frame: Uint8Array): DecodeResult<EaMessage> {
  const json = parseFrame(frame);
  return json.ok ? readEaMessage(json.value) : json;
}

/** Decodes one frame from the agent (used by the simulator and tests); never throws. */
export function decodeCommand(frame: Uint8Array): DecodeResult<Command> {
  const json = parseFrame(frame);
  return json.ok ? readCommand(json.value) : json;
}

/**
 * Validates a parsed JSON value as an EA -> agent message. A refusal says where and what was
 * expected, e.g. `positions.3.sl: expected a number >= 0, got -1`. Never throws.
 */
export function readEaMessage(value: unknown): DecodeResult<EaMessage> {
  const message = eaMessageOf(value);
  return message === undefined
    ? { ok: false, reason: "invalid", error: refusal }
    : { ok: true, value: message };
}

/** Validates a value as an agent -> EA command (the bridge checks every command it sends). */
export function readCommand(value: unknown): DecodeResult<Command> {
  const command = commandOf(value);
  return command === undefined
    ? { ok: false, reason: "invalid", error: refusal }
    : { ok: true, value: command };
}

/** Encodes any protocol message as one frame of UTF-8 JSON. */
export function encodeMessage(message: Command | EaMessage): Uint8Array {
  return encoder.encode(JSON.stringify(message));
}

function parseFrame(frame: Uint8Array): DecodeResult<unknown> {
  let text: string;
  try {
    text = utf8.decode(frame);
  } catch {
    return { ok: false, reason: "not_utf8", error: "frame is not valid UTF-8" };
  }
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (error) {
    return { ok: false, reason: "not_json", error: (error as Error).message };
  }
}

// The readers below return the value read, or `undefined` after `refuse` has said why. They
// check the fields in the order of the message's table in docs/protocol.md, so the reason names
// the first wrong field. Paths are built in the `refuse` calls only: nothing is spent on them
// while the message is valid.

/** Why the last reader refused its input. Decoding is synchronous: read right after. */
let refusal = "";

function refuse(path: string, expected: string, value: unknown): undefined {
  refusal = `${path}: expected ${expected}, got ${describeValue(value)}`;
  return undefined;
}

const OBJECT = "an object";
const ARRAY = "an array";
const NUMBER = "a finite number";
const NON_NEGATIVE = "a number >= 0";
const POSITIVE = "a number > 0";
const INTEGER = "an integer";
const COUNT = "an integer >= 0";
const POSITIVE_INTEGER = "an integer > 0";
const STRING = "a string";
const NAME = "a non-empty string";
const BOOLEAN = "true or false";
const COMMAND_ID = `a string of 1 to ${MAX_COMMAND_ID_LENGTH} characters`;
const REASON = `a string of at most ${MAX_REASON_LENGTH} characters`;

function isString(value: unknown): value is string {
  return typeof value === "string";
}

function isName(value: unknown): value is string {
  return typeof value === "string" && value.length > 0;
}

function isBoolean(value: unknown): value is boolean {
  return typeof value === "boolean";
}

function isOneOf<T extends string>(values: readonly T[], value: unknown): value is T {
  return (values as readonly unknown[]).includes(value);
}

function oneOf(values: readonly string[]): string {
  return `one of ${values.map((value) => JSON.stringify(value)).join(", ")}`;
}

const MARGIN_MODE = oneOf(MARGIN_MODES);
const TRADE_MODE = oneOf(TRADE_MODES);
const POSITION_SIDE = oneOf(POSITION_SIDES);
const ORDER_TYPE = oneOf(ORDER_TYPES);
const FILLING_MODE = oneOf(FILLING_MODES);
const EA_MESSAGE_TYPE = oneOf(EA_MESSAGE_TYPES);
const COMMAND_TYPE = oneOf(COMMAND_TYPES);

function eaMessageOf(value: unknown): EaMessage | undefined {
  if (!isRecord(value)) return refuse("(message)", OBJECT, value);
  switch (value.type) {
    case "snapshot":
      return snapshotOf(value);
    case "heartbeat":
      return heartbeatOf(value);
    case "ack":
      return ackOf(value);
    case "hello":
      return helloOf(value);
    default:
      return refuse("type", EA_MESSAGE_TYPE, value.type);
  }
}

function helloOf(raw: Record<string, unknown>): Hello | undefined {
  const { protocol, ea_version, terminal_build, login, server, locked, server_time, utc_time } =
    raw;
  if (!isPositiveInteger(protocol)) return refuse("protocol", POSITIVE_INTEGER, protocol);
  if (!isString(ea_version)) return refuse("ea_version", STRING, ea_version);
  if (!isCount(terminal_build)) return refuse("terminal_build", COUNT, terminal_build);
  if (!isPositiveInteger(login)) return refuse("login", POSITIVE_INTEGER, login);
  if (!isName(server)) return refuse("server", NAME, server);
  if (!isBoolean(locked)) return refuse("locked", BOOLEAN, locked);
  if (!isCount(server_time)) return refuse("server_time", COUNT, server_time);
  if (!isCount(utc_time)) return refuse("utc_time", COUNT, utc_time);
  const hello: Hello = {
    type: "hello",
    protocol,
    ea_version,
    terminal_build,
    login,
    server,
    locked,
    server_time,
    utc_time,
  };
  const { heartbeat_ms, timer_ms, connected } = raw;
  if (heartbeat_ms !== undefined) {
    if (!isPositiveInteger(heartbeat_ms)) {
      return refuse("heartbeat_ms", POSITIVE_INTEGER, heartbeat_ms);
    }
    hello.heartbeat_ms = heartbeat_ms;
  }
  if (timer_ms !== undefined) {
    if (!isPositiveInteger(timer_ms)) return refuse("timer_ms", POSITIVE_INTEGER, timer_ms);
    hello.timer_ms = timer_ms;
  }
  if (connected !== undefined) {
    if (!isBoolean(connected)) return refuse("connected", BOOLEAN, connected);
    hello.connected = connected;
  }
  return hello;
}

function snapshotOf(raw: Record<string, unknown>): Snapshot | undefined {
  const { seq, server_time, utc_time } = raw;
  if (!isPositiveInteger(seq)) return refuse("seq", POSITIVE_INTEGER, seq);
  if (!isCount(server_time)) return refuse("server_time", COUNT, server_time);
  if (!isCount(utc_time)) return refuse("utc_time", COUNT, utc_time);
  const account = accountOf(raw.account);
  if (account === undefined) return undefined;
  const positions = positionsOf(raw.positions);
  if (positions === undefined) return undefined;
  const orders = ordersOf(raw.orders);
  if (orders === undefined) return undefined;
  const symbols = symbolsOf(raw.symbols);
  if (symbols === undefined) return undefined;
  const realized_today = realizedTodayOf(raw.realized_today);
  if (realized_today === undefined) return undefined;
  const { trade_allowed, locked, locked_until, connected } = raw;
  if (!isBoolean(trade_allowed)) return refuse("trade_allowed", BOOLEAN, trade_allowed);
  if (!isBoolean(locked)) return refuse("locked", BOOLEAN, locked);
  const snapshot: Snapshot = {
    type: "snapshot",
    seq,
    server_time,
    utc_time,
    account,
    positions,
    orders,
    symbols,
    realized_today,
    trade_allowed,
    locked,
  };
  if (locked_until !== undefined) {
    if (!isCount(locked_until)) return refuse("locked_until", COUNT, locked_until);
    snapshot.locked_until = locked_until;
  }
  if (connected !== undefined) {
    if (!isBoolean(connected)) return refuse("connected", BOOLEAN, connected);
    snapshot.connected = connected;
  }
  return snapshot;
}

function accountOf(raw: unknown): Account | undefined {
  if (!isRecord(raw)) return refuse("account", OBJECT, raw);
  const { login, currency, balance, equity, margin, free_margin, profit, credit, leverage } = raw;
  if (!isPositiveInteger(login)) return refuse("account.login", POSITIVE_INTEGER, login);
  if (!isName(currency)) return refuse("account.currency", NAME, currency);
  if (!isNumber(balance)) return refuse("account.balance", NUMBER, balance);
  if (!isNumber(equity)) return refuse("account.equity", NUMBER, equity);
  if (!isNumber(margin)) return refuse("account.margin", NUMBER, margin);
  if (!isNumber(free_margin)) return refuse("account.free_margin", NUMBER, free_margin);
  if (!isNumber(profit)) return refuse("account.profit", NUMBER, profit);
  if (!isNumber(credit)) return refuse("account.credit", NUMBER, credit);
  if (!isPositiveInteger(leverage)) return refuse("account.leverage", POSITIVE_INTEGER, leverage);
  const { margin_mode, margin_level, trade_mode, name } = raw;
  if (!isOneOf(MARGIN_MODES, margin_mode)) {
    return refuse("account.margin_mode", MARGIN_MODE, margin_mode);
  }
  const account: Account = {
    login,
    currency,
    balance,
    equity,
    margin,
    free_margin,
    profit,
    credit,
    leverage,
    margin_mode,
  };
  if (margin_level !== undefined) {
    if (!isNonNegative(margin_level)) {
      return refuse("account.margin_level", NON_NEGATIVE, margin_level);
    }
    account.margin_level = margin_level;
  }
  if (trade_mode !== undefined) {
    if (!isOneOf(TRADE_MODES, trade_mode)) {
      return refuse("account.trade_mode", TRADE_MODE, trade_mode);
    }
    account.trade_mode = trade_mode;
  }
  if (name !== undefined) {
    if (!isString(name)) return refuse("account.name", STRING, name);
    account.name = name;
  }
  return account;
}

function positionsOf(raw: unknown): Position[] | undefined {
  if (!Array.isArray(raw)) return refuse("positions", ARRAY, raw);
  const positions: Position[] = [];
  for (let i = 0; i < raw.length; i++) {
    const position = positionOf(raw[i], i);
    if (position === undefined) return undefined;
    positions.push(position);
  }
  return positions;
}

function positionOf(raw: unknown, i: number): Position | undefined {
  if (!isRecord(raw)) return refuse(`positions.${i}`, OBJECT, raw);
  const { ticket, symbol, side, volume, open_price, price, sl, tp, profit, swap } = raw;
  if (!isCount(ticket)) return refuse(`positions.${i}.ticket`, COUNT, ticket);
  if (!isName(symbol)) return refuse(`positions.${i}.symbol`, NAME, symbol);
  if (!isOneOf(POSITION_SIDES, side)) return refuse(`positions.${i}.side`, POSITION_SIDE, side);
  if (!isNonNegative(volume)) return refuse(`positions.${i}.volume`, NON_NEGATIVE, volume);
  if (!isNonNegative(open_price)) {
    return refuse(`positions.${i}.open_price`, NON_NEGATIVE, open_price);
  }
  if (!isNonNegative(price)) return refuse(`positions.${i}.price`, NON_NEGATIVE, price);
  if (!isNonNegative(sl)) return refuse(`positions.${i}.sl`, NON_NEGATIVE, sl);
  if (!isNonNegative(tp)) return refuse(`positions.${i}.tp`, NON_NEGATIVE, tp);
  if (!isNumber(profit)) return refuse(`positions.${i}.profit`, NUMBER, profit);
  if (!isNumber(swap)) return refuse(`positions.${i}.swap`, NUMBER, swap);
  const { commission, open_time, magic, comment, identifier } = raw;
  if (!isNumber(commission)) return refuse(`positions.${i}.commission`, NUMBER, commission);
  if (!isCount(open_time)) return refuse(`positions.${i}.open_time`, COUNT, open_time);
  // MQL5 magic numbers are ulong: one at or above 2^53 arrives rounded, never refused.
  if (!isNumber(magic)) return refuse(`positions.${i}.magic`, NUMBER, magic);
  if (!isString(comment)) return refuse(`positions.${i}.comment`, STRING, comment);
  const position: Position = {
    ticket,
    symbol,
    side,
    volume,
    open_price,
    price,
    sl,
    tp,
    profit,
    swap,
    commission,
    open_time,
    magic,
    comment,
  };
  if (identifier !== undefined) {
    if (!isCount(identifier)) return refuse(`positions.${i}.identifier`, COUNT, identifier);
    position.identifier = identifier;
  }
  return position;
}

function ordersOf(raw: unknown): Order[] | undefined {
  if (!Array.isArray(raw)) return refuse("orders", ARRAY, raw);
  const orders: Order[] = [];
  for (let i = 0; i < raw.length; i++) {
    const order = orderOf(raw[i], i);
    if (order === undefined) return undefined;
    orders.push(order);
  }
  return orders;
}

function orderOf(raw: unknown, i: number): Order | undefined {
  if (!isRecord(raw)) return refuse(`orders.${i}`, OBJECT, raw);
  const { ticket, symbol, type, volume, price, sl, tp, setup_time, magic, comment } = raw;
  if (!isCount(ticket)) return refuse(`orders.${i}.ticket`, COUNT, ticket);
  if (!isName(symbol)) return refuse(`orders.${i}.symbol`, NAME, symbol);
  if (!isOneOf(ORDER_TYPES, type)) return refuse(`orders.${i}.type`, ORDER_TYPE, type);
  if (!isNonNegative(volume)) return refuse(`orders.${i}.volume`, NON_NEGATIVE, volume);
  if (!isNonNegative(price)) return refuse(`orders.${i}.price`, NON_NEGATIVE, price);
  if (!isNonNegative(sl)) return refuse(`orders.${i}.sl`, NON_NEGATIVE, sl);
  if (!isNonNegative(tp)) return refuse(`orders.${i}.tp`, NON_NEGATIVE, tp);
  if (!isCount(setup_time)) return refuse(`orders.${i}.setup_time`, COUNT, setup_time);
  if (!isNumber(magic)) return refuse(`orders.${i}.magic`, NUMBER, magic);
  if (!isString(comment)) return refuse(`orders.${i}.comment`, STRING, comment);
  const order: Order = { ticket, symbol, type, volume, price, sl, tp, setup_time, magic, comment };
  const { stop_limit, expiration } = raw;
  if (stop_limit !== undefined) {
    if (!isNonNegative(stop_limit)) {
      return refuse(`orders.${i}.stop_limit`, NON_NEGATIVE, stop_limit);
    }
    order.stop_limit = stop_limit;
  }
  if (expiration !== undefined) {
    if (!isCount(expiration)) return refuse(`orders.${i}.expiration`, COUNT, expiration);
    order.expiration = expiration;
  }
  return order;
}

function symbolsOf(raw: unknown): Record<string, SymbolInfo> | undefined {
  if (!isRecord(raw)) return refuse("symbols", OBJECT, raw);
  const symbols: Record<string, SymbolInfo> = {};
  for (const name in raw) {
    // No MT5 symbol has this name, and assigning it would replace the result's prototype.
    if (name === "__proto__") continue;
    const info = symbolInfoOf(raw[name], name);
    if (info === undefined) return undefined;
    symbols[name] = info;
  }
  return symbols;
}

function symbolInfoOf(raw: unknown, name: string): SymbolInfo | undefined {
  if (!isRecord(raw)) return refuse(`symbols.${name}`, OBJECT, raw);
  const { tick_value, tick_size, volume_step, volume_min, trade_allowed } = raw;
  if (!isPositive(tick_value)) return refuse(`symbols.${name}.tick_value`, POSITIVE, tick_value);
  if (!isPositive(tick_size)) return refuse(`symbols.${name}.tick_size`, POSITIVE, tick_size);
  if (!isPositive(volume_step)) {
    return refuse(`symbols.${name}.volume_step`, POSITIVE, volume_step);
  }
  if (!isPositive(volume_min)) return refuse(`symbols.${name}.volume_min`, POSITIVE, volume_min);
  if (!isBoolean(trade_allowed)) {
    return refuse(`symbols.${name}.trade_allowed`, BOOLEAN, trade_allowed);
  }
  const info: SymbolInfo = { tick_value, tick_size, volume_step, volume_min, trade_allowed };
  const { tick_value_loss, tick_value_profit, contract_size, digits, volume_max, bid, ask } = raw;
  if (tick_value_loss !== undefined) {
    if (!isPositive(tick_value_loss)) {
      return refuse(`symbols.${name}.tick_value_loss`, POSITIVE, tick_value_loss);
    }
    info.tick_value_loss = tick_value_loss;
  }
  if (tick_value_profit !== undefined) {
    if (!isPositive(tick_value_profit)) {
      return refuse(`symbols.${name}.tick_value_profit`, POSITIVE, tick_value_profit);
    }
    info.tick_value_profit = tick_value_profit;
  }
  if (contract_size !== undefined) {
    if (!isPositive(contract_size)) {
      return refuse(`symbols.${name}.contract_size`, POSITIVE, contract_size);
    }
    info.contract_size = contract_size;
  }
  if (digits !== undefined) {
    if (!isCount(digits)) return refuse(`symbols.${name}.digits`, COUNT, digits);
    info.digits = digits;
  }
  if (volume_max !== undefined) {
    if (!isPositive(volume_max)) return refuse(`symbols.${name}.volume_max`, POSITIVE, volume_max);
    info.volume_max = volume_max;
  }
  if (bid !== undefined) {
    if (!isNonNegative(bid)) return refuse(`symbols.${name}.bid`, NON_NEGATIVE, bid);
    info.bid = bid;
  }
  if (ask !== undefined) {
    if (!isNonNegative(ask)) return refuse(`symbols.${name}.ask`, NON_NEGATIVE, ask);
    info.ask = ask;
  }
  return info;
}

function realizedTodayOf(raw: unknown): RealizedToday | undefined {
  if (!isRecord(raw)) return refuse("realized_today", OBJECT, raw);
  const { profit, swap, commission, total, fee, deals, day_start, balance_ops } = raw;
  if (!isNumber(profit)) return refuse("realized_today.profit", NUMBER, profit);
  if (!isNumber(swap)) return refuse("realized_today.swap", NUMBER, swap);
  if (!isNumber(commission)) return refuse("realized_today.commission", NUMBER, commission);
  if (!isNumber(total)) return refuse("realized_today.total", NUMBER, total);
  const realized: RealizedToday = { profit, swap, commission, total };
  if (fee !== undefined) {
    if (!isNumber(fee)) return refuse("realized_today.fee", NUMBER, fee);
    realized.fee = fee;
  }
  if (deals !== undefined) {
    if (!isCount(deals)) return refuse("realized_today.deals", COUNT, deals);
    realized.deals = deals;
  }
  if (day_start !== undefined) {
    if (!isCount(day_start)) return refuse("realized_today.day_start", COUNT, day_start);
    realized.day_start = day_start;
  }
  if (balance_ops !== undefined) {
    if (!isNumber(balance_ops)) return refuse("realized_today.balance_ops", NUMBER, balance_ops);
    realized.balance_ops = balance_ops;
  }
  return realized;
}

function ackOf(raw: Record<string, unknown>): Ack | undefined {
  const { id, ok, retcode, message, results, duplicate, locked } = raw;
  if (!isName(id)) return refuse("id", NAME, id);
  if (!isBoolean(ok)) return refuse("ok", BOOLEAN, ok);
  if (!isInteger(retcode)) return refuse("retcode", INTEGER, retcode);
  const ack: Ack = { type: "ack", id, ok, retcode };
  if (message !== undefined) {
    if (!isString(message)) return refuse("message", STRING, message);
    ack.message = message;
  }
  if (results !== undefined) {
    if (!Array.isArray(results)) return refuse("results", ARRAY, results);
    const read: TicketResult[] = [];
    for (let i = 0; i < results.length; i++) {
      const result = ticketResultOf(results[i], i);
      if (result === undefined) return undefined;
      read.push(result);
    }
    ack.results = read;
  }
  if (duplicate !== undefined) {
    if (!isBoolean(duplicate)) return refuse("duplicate", BOOLEAN, duplicate);
    ack.duplicate = duplicate;
  }
  if (locked !== undefined) {
    if (!isBoolean(locked)) return refuse("locked", BOOLEAN, locked);
    ack.locked = locked;
  }
  return ack;
}

function ticketResultOf(raw: unknown, i: number): TicketResult | undefined {
  if (!isRecord(raw)) return refuse(`results.${i}`, OBJECT, raw);
  const { ticket, ok, retcode, message, volume, price, attempts, filling } = raw;
  if (!isCount(ticket)) return refuse(`results.${i}.ticket`, COUNT, ticket);
  if (!isBoolean(ok)) return refuse(`results.${i}.ok`, BOOLEAN, ok);
  if (!isInteger(retcode)) return refuse(`results.${i}.retcode`, INTEGER, retcode);
  const result: TicketResult = { ticket, ok, retcode };
  if (message !== undefined) {
    if (!isString(message)) return refuse(`results.${i}.message`, STRING, message);
    result.message = message;
  }
  if (volume !== undefined) {
    if (!isNonNegative(volume)) return refuse(`results.${i}.volume`, NON_NEGATIVE, volume);
    result.volume = volume;
  }
  if (price !== undefined) {
    if (!isNonNegative(price)) return refuse(`results.${i}.price`, NON_NEGATIVE, price);
    result.price = price;
  }
  if (attempts !== undefined) {
    if (!isCount(attempts)) return refuse(`results.${i}.attempts`, COUNT, attempts);
    result.attempts = attempts;
  }
  if (filling !== undefined) {
    if (!isOneOf(FILLING_MODES, filling)) {
      return refuse(`results.${i}.filling`, FILLING_MODE, filling);
    }
    result.filling = filling;
  }
  return result;
}

function heartbeatOf(raw: Record<string, unknown>): Heartbeat | undefined {
  const { server_time, utc_time, seq, locked, connected } = raw;
  if (!isCount(server_time)) return refuse("server_time", COUNT, server_time);
  if (!isCount(utc_time)) return refuse("utc_time", COUNT, utc_time);
  const heartbeat: Heartbeat = { type: "heartbeat", server_time, utc_time };
  if (seq !== undefined) {
    if (!isCount(seq)) return refuse("seq", COUNT, seq);
    heartbeat.seq = seq;
  }
  if (locked !== undefined) {
    if (!isBoolean(locked)) return refuse("locked", BOOLEAN, locked);
    heartbeat.locked = locked;
  }
  if (connected !== undefined) {
    if (!isBoolean(connected)) return refuse("connected", BOOLEAN, connected);
    heartbeat.connected = connected;
  }
  return heartbeat;
}

function commandOf(value: unknown): Command | undefined {
  if (!isRecord(value)) return refuse("(message)", OBJECT, value);
  const { type, id } = value;
  if (!isOneOf(COMMAND_TYPES, type)) return refuse("type", COMMAND_TYPE, type);
  if (!isCommandId(id)) return refuse("id", COMMAND_ID, id);
  switch (type) {
    case "lock": {
      const { reason, until } = value;
      if (!isReason(reason)) return refuse("reason", REASON, reason);
      if (!isCount(until)) return refuse("until", COUNT, until);
      return { type, id, reason, until };
    }
    case "unlock":
    case "cancel_orders":
      return { type, id };
    case "close_position": {
      const { ticket, volume, reason } = value;
      if (!isPositiveInteger(ticket)) return refuse("ticket", POSITIVE_INTEGER, ticket);
      if (!isNonNegative(volume)) return refuse("volume", NON_NEGATIVE, volume);
      if (!isReason(reason)) return refuse("reason", REASON, reason);
      return { type, id, ticket, volume, reason };
    }
    case "close_all": {
      const { reason } = value;
      if (!isReason(reason)) return refuse("reason", REASON, reason);
      return { type, id, reason };
    }
    case "ping": {
      const { hello } = value;
      if (hello === undefined) return { type, id };
      if (!isBoolean(hello)) return refuse("hello", BOOLEAN, hello);
      return { type, id, hello };
    }
  }
}

function isCommandId(value: unknown): value is string {
  return typeof value === "string" && value.length > 0 && value.length <= MAX_COMMAND_ID_LENGTH;
}

function isReason(value: unknown): value is string {
  return typeof value === "string" && value.length <= MAX_REASON_LENGTH;
}
