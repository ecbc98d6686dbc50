/**
 * The bridge protocol between the agent (risk process) and the Expert Advisor in the MT5
 * terminal: one zod schema per message, both ways. `docs/protocol.md` is the prose reference.
 *
 * Every message is one ZMTP frame of UTF-8 JSON with a `type` field. Agent -> EA commands are
 * flat objects (no nesting) so that they are easy to parse in MQL5.
 *
 * Units and time bases:
 * - money fields are in the account currency, as MT5 reports them;
 * - volumes are in lots;
 * - `server_time` is the trade server's wall clock in milliseconds, encoded like MT5 `datetime`
 *   (as if the server's local time were UTC): use it for "server" day resets;
 * - `utc_time` is the real instant (milliseconds since the Unix epoch, from `TimeGMT()`): use it
 *   for IANA time zones and for staleness.
 *
 * @module
 */
import { z } from "zod";

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

const money = z.number().finite();
const price = z.number().finite().nonnegative();
const volume = z.number().finite().nonnegative();
const ticket = z.number().int().nonnegative();
const epochMs = z.number().int().nonnegative();

/** Account state in a snapshot. */
export const accountSchema = z.object({
  login: z.number().int().positive(),
  currency: z.string().min(1),
  balance: money,
  equity: money,
  margin: money,
  free_margin: money,
  /**
   * `ACCOUNT_PROFIT`: floating profit of open positions, swap included; their commission is
   * already in the balance.
   */
  profit: money,
  credit: money,
  leverage: z.number().int().positive(),
  /** `hedging` allows several positions per symbol; `netting` keeps one. */
  margin_mode: z.enum(["hedging", "netting"]),
  /** Margin level in percent (ACCOUNT_MARGIN_LEVEL); absent or 0 when no margin is used. */
  margin_level: z.number().finite().nonnegative().optional(),
  /** ACCOUNT_TRADE_MODE: demo, contest or real account. */
  trade_mode: z.enum(["demo", "contest", "real"]).optional(),
  /** Account holder name (ACCOUNT_NAME), for display only. */
  name: z.string().optional(),
});

/** An open position. */
export const positionSchema = z.object({
  ticket,
  symbol: z.string().min(1),
  side: z.enum(["buy", "sell"]),
  volume,
  open_price: price,
  /** Current price at which the position would close (bid for buys, ask for sells). */
  price,
  /** Stop loss price, `0` when none (MT5 convention). */
  sl: price,
  /** Take profit price, `0` when none. */
  tp: price,
  /** Floating profit in account currency, without swap and commission. */
  profit: money,
  /** Accumulated swap (POSITION_SWAP). */
  swap: money,
  /**
   * Commission charged so far for this position, negative when charged. MT5 deprecated
   * POSITION_COMMISSION (always 0): the EA sums DEAL_COMMISSION of the position's deals.
   */
  commission: money,
  /** Open time in server time (POSITION_TIME_MSC, ms, server clock encoded as UTC). */
  open_time: epochMs,
  magic: z.number().int(),
  comment: z.string(),
  /** POSITION_IDENTIFIER (equals the ticket except after a netting reversal). */
  identifier: ticket.optional(),
});

/** A pending order. */
export const orderSchema = z.object({
  ticket,
  symbol: z.string().min(1),
  type: z.enum([
    "buy_limit",
    "sell_limit",
    "buy_stop",
    "sell_stop",
    "buy_stop_limit",
    "sell_stop_limit",
  ]),
  volume,
  price,
  sl: price,
  tp: price,
  /** Placement time in server time (ORDER_TIME_SETUP_MSC). */
  setup_time: epochMs,
  magic: z.number().int(),
  comment: z.string(),
  /** Limit price of a stop-limit order (ORDER_PRICE_STOPLIMIT), 0 otherwise. */
  stop_limit: price.optional(),
  /** Expiration in server time (ORDER_TIME_EXPIRATION, ms), 0 for good-till-cancelled. */
  expiration: epochMs.optional(),
});

/** Per-symbol contract data needed to turn price distances into money. */
export const symbolInfoSchema = z.object({
  /** Value in account currency of one tick move for one lot (SYMBOL_TRADE_TICK_VALUE). */
  tick_value: z.number().finite().positive(),
  /** Price change of one tick (SYMBOL_TRADE_TICK_SIZE). */
  tick_size: z.number().finite().positive(),
  volume_step: z.number().finite().positive(),
  volume_min: z.number().finite().positive(),
  /** Whether the symbol can be traded right now (session open, trade mode full). */
  trade_allowed: z.boolean(),
  /** SYMBOL_TRADE_TICK_VALUE_LOSS: tick value for losing positions (use it for risk at SL). */
  tick_value_loss: z.number().finite().positive().optional(),
  /** SYMBOL_TRADE_TICK_VALUE_PROFIT: tick value for winning positions. */
  tick_value_profit: z.number().finite().positive().optional(),
  /** SYMBOL_TRADE_CONTRACT_SIZE: units of the base asset in one lot. */
  contract_size: z.number().finite().positive().optional(),
  /** SYMBOL_DIGITS: decimal places of the price. */
  digits: z.number().int().nonnegative().optional(),
  /** SYMBOL_VOLUME_MAX. */
  volume_max: z.number().finite().positive().optional(),
  /** Last bid (SYMBOL_BID). */
  bid: price.optional(),
  /** Last ask (SYMBOL_ASK). */
  ask: price.optional(),
});

/** Profit realized today (since the server day began, 00:00 server time) by deals. */
export const realizedTodaySchema = z.object({
  profit: money,
  swap: money,
  commission: money,
  /** `profit + swap + commission` (and fees): what today's closed deals added to the balance. */
  total: money,
  /** Sum of DEAL_FEE of today's deals (already included in `total`). */
  fee: money.optional(),
  /** Number of trade deals counted (balance/credit operations excluded). */
  deals: z.number().int().nonnegative().optional(),
  /** Server time (ms) at which the counted day began: 00:00 of the server's date. */
  day_start: epochMs.optional(),
  /**
   * Balance operations of today (DEAL_TYPE_BALANCE/CREDIT/...: deposits, withdrawals), kept
   * apart from `total` so that a deposit is not mistaken for profit.
   */
  balance_ops: money.optional(),
});

/** EA -> agent: first message after (re)connecting. */
export const helloSchema = z.object({
  type: z.literal("hello"),
  protocol: z.number().int().positive(),
  ea_version: z.string(),
  terminal_build: z.number().int().nonnegative(),
  login: z.number().int().positive(),
  server: z.string().min(1),
  /** Whether the EA's persisted lock mode is on (terminal global variable). */
  locked: z.boolean(),
  server_time: epochMs,
  utc_time: epochMs,
  /** Interval (ms) of the EA's heartbeat when nothing changes; staleness is judged from it. */
  heartbeat_ms: z.number().int().positive().optional(),
  /** The EA's timer period (ms): how often it looks for changes. */
  timer_ms: z.number().int().positive().optional(),
  /** Whether the terminal is connected to the trade server (TERMINAL_CONNECTED). */
  connected: z.boolean().optional(),
});

/** EA -> agent: the state of the account, sent when something changed. */
export const snapshotSchema = z.object({
  type: z.literal("snapshot"),
  /** Increases by one per snapshot; starts at 1 after every hello. */
  seq: z.number().int().positive(),
  server_time: epochMs,
  utc_time: epochMs,
  account: accountSchema,
  positions: z.array(positionSchema),
  orders: z.array(orderSchema),
  /**
   * Contract data of every symbol that has a position or an order. A symbol is left out while
   * MT5 has no valid tick value or tick size for it (0 right after a terminal start): treat a
   * missing entry as "unknown", never as zero.
   */
  symbols: z.record(z.string(), symbolInfoSchema),
  realized_today: realizedTodaySchema,
  /** Terminal and account allow trading (TERMINAL_TRADE_ALLOWED and ACCOUNT_TRADE_ALLOWED). */
  trade_allowed: z.boolean(),
  /** The EA's lock mode is on. */
  locked: z.boolean(),
  /** UTC epoch ms at which the EA's lock ends by itself, 0 for "until unlocked". */
  locked_until: epochMs.optional(),
  /** Whether the terminal is connected to the trade server (TERMINAL_CONNECTED). */
  connected: z.boolean().optional(),
});

/** Per-ticket outcome inside an ack. */
export const ticketResultSchema = z.object({
  ticket,
  ok: z.boolean(),
  retcode: z.number().int(),
  message: z.string().optional(),
  /** Lots closed (close) or of the order deleted (cancel). */
  volume: volume.optional(),
  /** Execution price of the close deal. */
  price: price.optional(),
  /** Trade requests sent for this ticket (1 + retries; a filling-mode switch is not one). */
  attempts: z.number().int().nonnegative().optional(),
  /** Filling mode of the last closing deal request (`ORDER_TYPE_FILLING`). */
  filling: z.enum(["fok", "ioc", "return"]).optional(),
});

/** EA -> agent: the answer to a command. */
export const ackSchema = z.object({
  type: z.literal("ack"),
  /** The `id` of the command answered. */
  id: z.string().min(1),
  ok: z.boolean(),
  /** MT5 trade server return code (10009 = done), or 0 for commands that trade nothing. */
  retcode: z.number().int(),
  message: z.string().optional(),
  results: z.array(ticketResultSchema).optional(),
  /** True when this answers a command id the EA had already executed (a retry): not re-run. */
  duplicate: z.boolean().optional(),
  /** The EA's lock mode after the command. */
  locked: z.boolean().optional(),
});

/** EA -> agent: sent when nothing changed for a while, so silence means trouble. */
export const heartbeatSchema = z.object({
  type: z.literal("heartbeat"),
  server_time: epochMs,
  utc_time: epochMs,
  /** `seq` of the last snapshot sent (0 before the first): a gap means snapshots were lost. */
  seq: z.number().int().nonnegative().optional(),
  /** The EA's lock mode is on. */
  locked: z.boolean().optional(),
  /** Whether the terminal is connected to the trade server. */
  connected: z.boolean().optional(),
});

/** Any EA -> agent message. */
export const eaMessageSchema = z.discriminatedUnion("type", [
  helloSchema,
  snapshotSchema,
  ackSchema,
  heartbeatSchema,
]);

const commandBase = {
  id: z.string().min(1).max(MAX_COMMAND_ID_LENGTH),
};

/** Agent -> EA: refuse new trades and close any position opened while locked. */
export const lockCommandSchema = z.object({
  type: z.literal("lock"),
  ...commandBase,
  reason: z.string().max(MAX_REASON_LENGTH),
  /** UTC epoch ms at which the lock ends by itself, or 0 for "until unlocked". */
  until: epochMs,
});

/** Agent -> EA: leave lock mode. */
export const unlockCommandSchema = z.object({ type: z.literal("unlock"), ...commandBase });

/** Agent -> EA: delete every pending order. */
export const cancelOrdersCommandSchema = z.object({
  type: z.literal("cancel_orders"),
  ...commandBase,
});

/** Agent -> EA: close one position (fully, or `volume` lots of it). */
export const closePositionCommandSchema = z.object({
  type: z.literal("close_position"),
  ...commandBase,
  ticket,
  /** Lots to close; 0 closes the whole position. */
  volume,
  reason: z.string().max(MAX_REASON_LENGTH),
});

/** Agent -> EA: cancel pending orders, then close every position. */
export const closeAllCommandSchema = z.object({
  type: z.literal("close_all"),
  ...commandBase,
  reason: z.string().max(MAX_REASON_LENGTH),
});

/** Agent -> EA: liveness check; the EA acks it at once. */
export const pingCommandSchema = z.object({
  type: z.literal("ping"),
  ...commandBase,
  /**
   * Ask the EA to send `hello` again after the ack (a new session: `seq` restarts at 1). The
   * agent sets it when it receives snapshots without having seen a `hello` (it was restarted
   * while the EA kept running).
   */
  hello: z.boolean().optional(),
});

/** Any agent -> EA command. */
export const commandSchema = z.discriminatedUnion("type", [
  lockCommandSchema,
  unlockCommandSchema,
  cancelOrdersCommandSchema,
  closePositionCommandSchema,
  closeAllCommandSchema,
  pingCommandSchema,
]);

/** Account state in a snapshot. */
export type Account = z.infer<typeof accountSchema>;
/** An open position. */
export type Position = z.infer<typeof positionSchema>;
/** A pending order. */
export type Order = z.infer<typeof orderSchema>;
/** Per-symbol contract data. */
export type SymbolInfo = z.infer<typeof symbolInfoSchema>;
/** Today's realized P/L. */
export type RealizedToday = z.infer<typeof realizedTodaySchema>;
/** EA -> agent `hello`. */
export type Hello = z.infer<typeof helloSchema>;
/** EA -> agent `snapshot`. */
export type Snapshot = z.infer<typeof snapshotSchema>;
/** Per-ticket outcome inside an ack. */
export type TicketResult = z.infer<typeof ticketResultSchema>;
/** EA -> agent `ack`. */
export type Ack = z.infer<typeof ackSchema>;
/** EA -> agent `heartbeat`. */
export type Heartbeat = z.infer<typeof heartbeatSchema>;
/** Any EA -> agent message. */
export type EaMessage = z.infer<typeof eaMessageSchema>;
/** Any agent -> EA command. */
export type Command = z.infer<typeof commandSchema>;
/** The type names of agent -> EA commands. */
export type CommandType = Command["type"];

/** The outcome of decoding one frame. */
export type DecodeResult<T> =
  | { ok: true; value: T }
  | { ok: false; reason: "not_utf8" | "not_json" | "invalid"; error: string };

const utf8 = new TextDecoder("utf-8", { fatal: true });
const encoder = new TextEncoder();

/** Decodes one frame from the EA; never throws. */
export function decodeEaMessage(frame: Uint8Array): DecodeResult<EaMessage> {
  return decodeWith(eaMessageSchema, frame);
}

/** Decodes one frame from the agent (used by the simulator and tests); never throws. */
export function decodeCommand(frame: Uint8Array): DecodeResult<Command> {
  return decodeWith(commandSchema, frame);
}

/** Encodes any protocol message as one frame of UTF-8 JSON. */
export function encodeMessage(message: Command | EaMessage): Uint8Array {
  return encoder.encode(JSON.stringify(message));
}

function decodeWith<T>(schema: z.ZodType<T>, frame: Uint8Array): DecodeResult<T> {
  let text: string;
  try {
    text = utf8.decode(frame);
  } catch {
    return { ok: false, reason: "not_utf8", error: "frame is not valid UTF-8" };
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    return { ok: false, reason: "not_json", error: (error as Error).message };
  }
  const result = schema.safeParse(json);
  if (result.success) return { ok: true, value: result.data };
  const issue = result.error.issues[0]!;
  return {
    ok: false,
    reason: "invalid",
    error: `${issue.path.join(".") || "(message)"}: ${issue.message}`,
  };
}
