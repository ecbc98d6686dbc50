/**
 * The simulated terminal + EA as a pure state machine: a market, an account with positions,
 * pending orders, deals, swaps and commissions, a scripted/random trader, and the EA's command
 * handling (lock, unlock, cancel_orders, close_position, close_all, ping) with MT5 return codes.
 *
 * It does no IO and reads no clock: time moves only through {@link SimTerminal.advanceTo}, and
 * command execution waits through an injected function, so it is fully deterministic for a seed.
 * `ea.ts` connects it to the agent over ZMTP.
 *
 * @module
 */
import {
  type Ack,
  type Command,
  type Hello,
  type Order,
  type Position,
  PROTOCOL_VERSION,
  type Snapshot,
  type SymbolInfo,
  type TicketResult,
} from "../protocol.ts";
import { Prng } from "./_prng.ts";
import { closeAllOrder, type CloseCandidate, fifoBlocks } from "./close_order.ts";
import {
  DEFAULT_EXECUTION,
  eaFillingModes,
  type FillingMode,
  serverAcceptsFilling,
  type SymbolExecution,
} from "./filling.ts";
import {
  Market,
  roundPrice,
  SIM_VOLUME,
  type SymbolSpec,
  symbolSpec,
  tickValue,
} from "./market.ts";
import {
  pipOf,
  type Scenario,
  scenario as scenarioByName,
  type ScenarioName,
} from "./scenarios.ts";
import { round2 } from "../../shared/money.ts";
import type { Clock } from "../../shared/clock.ts";

/** MT5 trade server return codes used by the simulator and the EA. */
export const Retcode = {
  /** No trade request was needed (lock, unlock, ping, nothing to do). */
  NONE: 0,
  REQUOTE: 10004,
  REJECT: 10006,
  DONE: 10009,
  /** Invalid request (e.g. `close_position` without a ticket). */
  INVALID: 10013,
  INVALID_VOLUME: 10014,
  MARKET_CLOSED: 10018,
  INVALID_FILL: 10030,
  POSITION_CLOSED: 10036,
  /** FIFO account: only the oldest position of a symbol may be closed. */
  FIFO_CLOSE: 10045,
} as const;

/** Options of {@link SimTerminal}. */
export interface SimTerminalOptions {
  /** A built-in scenario name or a full scenario definition. */
  scenario: ScenarioName | Scenario;
  /** Random seed (default 1): same seed, same ticks. */
  seed?: number | string;
  /** Account number (default 5000001). */
  login?: number;
  /** Trade server name (default `RiskGuard-Sim`). */
  server?: string;
  /** UTC instant (epoch ms) of simulated time 0 (default 2026-01-06T08:00:00Z). */
  startUtc?: number;
  /** Trade server clock minus UTC, in ms (default +2 h, as most brokers). */
  serverOffsetMs?: number;
  /** Account margin mode (default hedging). */
  marginMode?: "hedging" | "netting";
  /** Real ms one trade request takes (passed to the wait function; default 0). */
  execDelayMs?: number;
  /** Trade requests per ticket before giving up on requotes (default 3). */
  maxAttempts?: number;
  /** Start in lock mode (as if the terminal global variable were set). */
  locked?: boolean;
  /** Execution mode and filling flags per symbol (default: Market execution, FOK and IOC). */
  execution?: Readonly<Record<string, SymbolExecution>>;
  /** `ACCOUNT_FIFO_CLOSE`: positions of a symbol can only be closed oldest first. */
  fifoClose?: boolean;
  /** Receives the account's truth as it happens (the truth log); none by default. */
  observer?: SimObserver;
  /**
   * Measures (on its monotonic reading) the real time each refused trade request took, for the
   * observer ({@link TradeEvent.ms}). Without it, or without an observer, nothing is measured.
   */
  clock?: Clock;
}

/** The account's state after a change, as a {@link SimObserver} sees it. */
export interface SimAccountState {
  /** Simulated ms since the start. */
  at: number;
  equity: number;
  balance: number;
  /** Open positions. */
  positions: number;
  /** Pending orders. */
  orders: number;
}

/**
 * Receives what really happens on the simulated account (see `truth_log.ts`). Called
 * synchronously from the simulator; without an observer none of this is computed.
 */
export interface SimObserver {
  /** Equity, balance or the number of positions/orders changed. */
  account(state: SimAccountState): void;
  /** A trade action was executed (or refused by the server). */
  trade(event: TradeEvent): void;
  /** A command was received (before it runs); `at` is simulated ms. */
  command(at: number, command: Command): void;
  /** A command finished with this answer. */
  ack(at: number, ack: Ack): void;
  /** Lock mode was switched on or off (`until` 0 = until unlocked). */
  lock(at: number, locked: boolean, until: number): void;
  /** The market closed or opened again (a `marketClosed` window of the scenario began or ended). */
  market(at: number, open: boolean): void;
}

/** How a position or order left the book. */
export type CloseCause = "command" | "lock" | "sl" | "tp" | "trader";

/** One entry of the trade log, in execution order. */
export interface TradeEvent {
  /** Simulated ms since the start. */
  at: number;
  action:
    | "open"
    | "fill"
    | "close"
    | "cancel"
    | "place"
    | "requote"
    | "market_closed"
    | "invalid_fill"
    | "fifo_refused";
  ticket: number;
  symbol: string;
  volume: number;
  cause?: CloseCause;
  /** The command id that caused it, if any. */
  commandId?: string;
  /**
   * Real ms the request took, for a request the server refused (`requote`, `market_closed`):
   * time the broker, not the agent, spent (measured only with an observer and a clock).
   */
  ms?: number;
}

/** One command received and its answer. */
export interface CommandRecord {
  /** Simulated ms at which the command was received. */
  at: number;
  command: Command;
  ack: Ack;
}

/** What happened so far: for tests and for `riskguard sim` output. */
export interface SimHistory {
  /** Commands executed (duplicates are not executed again and not listed). */
  commands: CommandRecord[];
  /** Every trade action in order. */
  trades: TradeEvent[];
  /** Position tickets closed by commands or lock enforcement, in order. */
  closedTickets: number[];
  /** Pending order tickets deleted by commands or lock enforcement, in order. */
  cancelledOrders: number[];
  /** Positions opened (or pending orders filled/placed) while locked, by ticket. */
  openedWhileLocked: number[];
  /** Commands answered from the id cache (retries of an already executed id). */
  duplicates: number;
  /** Requotes met by trade requests. */
  requotes: number;
}

interface SimPosition {
  ticket: number;
  symbol: string;
  side: "buy" | "sell";
  volume: number;
  openPrice: number;
  sl: number;
  tp: number;
  openTime: number;
  commission: number;
  swap: number;
  magic: number;
  comment: string;
}

interface SimOrder {
  ticket: number;
  symbol: string;
  type: Order["type"];
  volume: number;
  price: number;
  setupTime: number;
  magic: number;
  comment: string;
}

interface Deal {
  time: number;
  profit: number;
  commission: number;
  swap: number;
}

const DEFAULT_START_UTC = Date.UTC(2026, 0, 6, 8, 0, 0);
const HOUR = 3_600_000;
const DAY = 86_400_000;
const ACK_CACHE_SIZE = 512;
/**
 * Trades the trader tries while the account is locked before it gives up until the lock ends:
 * a person whose trades keep being closed stops after a couple of tries, a bot would not.
 */
export const TRIES_WHILE_LOCKED = 2;

/** Waits `ms` real milliseconds; the pure default resolves at once. */
export type Wait = (ms: number) => Promise<void>;

const noWait: Wait = () => Promise.resolve();

/** The simulated terminal + EA, without sockets. */
export class SimTerminal {
  /** The scenario being played. */
  readonly scenario: Scenario;
  /** Account number. */
  readonly login: number;
  /** Trade server name. */
  readonly server: string;
  /** Margin mode. */
  readonly marginMode: "hedging" | "netting";
  #market: Market;
  #trader: Prng;
  #faults: Prng;
  #startUtc: number;
  #serverOffset: number;
  #execDelay: number;
  #maxAttempts: number;
  #execution: Readonly<Record<string, SymbolExecution>>;
  #fifoClose: boolean;
  #observer: SimObserver | undefined;
  #clock: Clock | undefined;
  /** Whether the observer was last told that the market is closed. */
  #toldClosed = false;
  /** The last account state told to the observer, as `equity|balance|positions|orders`. */
  #observed = "";
  #time = 0;
  #balance: number;
  #dayStartBalance: number;
  #nextTicket = 1000;
  #positions = new Map<number, SimPosition>();
  #orders = new Map<number, SimOrder>();
  #deals: Deal[] = [];
  #locked: boolean;
  #lockedUntil = 0;
  #lockedTickets = new Set<number>();
  /** The trader's own trades (positions and pending orders) tried during the current lock. */
  #triesWhileLocked = 0;
  #opensDone = 0;
  #pendingsDone = 0;
  /** Far pending orders the random trader placed (it deletes them at `pendingExpiryMs`). */
  readonly #traderOrders = new Set<number>();
  #nextDecision: number;
  #acks = new Map<string, Promise<Ack>>();
  #history: SimHistory = {
    commands: [],
    trades: [],
    closedTickets: [],
    cancelledOrders: [],
    openedWhileLocked: [],
    duplicates: 0,
    requotes: 0,
  };

  /** Creates the terminal at simulated time 0. */
  constructor(options: SimTerminalOptions) {
    this.scenario = typeof options.scenario === "string"
      ? scenarioByName(options.scenario)
      : options.scenario;
    const seed = options.seed ?? 1;
    const root = new Prng(seed);
    this.#market = new Market({
      seed,
      drift: this.scenario.drift,
      volatility: this.scenario.volatility,
      gaps: this.scenario.gaps,
    });
    this.#trader = root.fork("trader");
    this.#faults = root.fork("faults");
    this.login = options.login ?? 5_000_001;
    this.server = options.server ?? "RiskGuard-Sim";
    this.marginMode = options.marginMode ?? "hedging";
    this.#startUtc = options.startUtc ?? DEFAULT_START_UTC;
    this.#serverOffset = options.serverOffsetMs ?? 2 * HOUR;
    this.#execDelay = options.execDelayMs ?? 0;
    this.#maxAttempts = options.maxAttempts ?? 3;
    this.#execution = options.execution ?? {};
    this.#fifoClose = options.fifoClose ?? false;
    this.#observer = options.observer;
    this.#clock = options.observer === undefined ? undefined : options.clock;
    this.#balance = this.scenario.balance;
    this.#dayStartBalance = this.scenario.balance;
    this.#locked = options.locked ?? false;
    this.#nextDecision = this.scenario.trader?.everyMs ?? Infinity;
  }

  /** Simulated ms since the start. */
  get time(): number {
    return this.#time;
  }

  /** The market (quotes, tick count). */
  get market(): Market {
    return this.#market;
  }

  /** Whether lock mode is on. */
  get locked(): boolean {
    return this.#locked;
  }

  /** What happened so far (live object; copy it to keep a point in time). */
  get history(): Readonly<SimHistory> {
    return this.#history;
  }

  /** The current balance. */
  get balance(): number {
    return this.#balance;
  }

  /** The current equity: balance plus floating profit and swap. */
  get equity(): number {
    let floating = 0;
    for (const position of this.#positions.values()) {
      floating += this.#floatingProfit(position) + position.swap;
    }
    return round2(this.#balance + floating);
  }

  /** Open position tickets. */
  get positionTickets(): number[] {
    return [...this.#positions.keys()];
  }

  /** Pending order tickets. */
  get orderTickets(): number[] {
    return [...this.#orders.keys()];
  }

  /** UTC epoch ms of the current simulated time. */
  get utcTime(): number {
    return this.#startUtc + this.#time;
  }

  /** Trade server time (ms, server clock encoded as UTC) of the current simulated time. */
  get serverTime(): number {
    return this.utcTime + this.#serverOffset;
  }

  /** Whether the market is closed now (flaky scenario windows). */
  get marketClosed(): boolean {
    const windows = this.scenario.faults?.marketClosed ?? [];
    return windows.some((w) => this.#time >= w.from && this.#time < w.to);
  }

  /**
   * Moves simulated time forward to `time` (ms since the start; a fraction is dropped, so every
   * time the EA reports is whole milliseconds as the protocol requires, whatever the speed):
   * generates ticks, triggers stop losses, take profits and pending orders, accrues swap, and
   * lets the trader act.
   */
  advanceTo(time: number): void {
    time = Math.floor(time);
    const market = this.#market;
    while (market.time + market.tickMs <= time) {
      // One tick at a time, so that stops, fills and the trader see every intermediate price.
      const ticks = market.advanceTo(market.time + market.tickMs);
      this.#onClock(market.time);
      for (const tick of ticks) {
        this.#checkStops(tick.symbol, tick.at);
        this.#checkPending(tick.symbol, tick.at);
      }
      if (this.#observer !== undefined) this.#observe();
    }
    if (time > this.#time) this.#onClock(time);
    if (this.#observer !== undefined) this.#observe();
  }

  /** The `hello` this EA sends after connecting. */
  hello(timing: { heartbeatMs?: number; timerMs?: number } = {}): Hello {
    return {
      type: "hello",
      protocol: PROTOCOL_VERSION,
      ea_version: "sim-1.0.0",
      terminal_build: 4755,
      login: this.login,
      server: this.server,
      locked: this.#locked,
      server_time: this.serverTime,
      utc_time: this.utcTime,
      ...(timing.heartbeatMs === undefined ? {} : { heartbeat_ms: timing.heartbeatMs }),
      ...(timing.timerMs === undefined ? {} : { timer_ms: timing.timerMs }),
      connected: true,
    };
  }

  /** The current state as a `snapshot` with sequence number `seq`. */
  snapshot(seq: number): Snapshot {
    const positions: Position[] = [...this.#positions.values()].map((p) => this.#positionOut(p));
    const orders: Order[] = [...this.#orders.values()].map((o) => ({
      ticket: o.ticket,
      symbol: o.symbol,
      type: o.type,
      volume: o.volume,
      price: o.price,
      sl: 0,
      tp: 0,
      setup_time: o.setupTime + this.#startUtc + this.#serverOffset,
      magic: o.magic,
      comment: o.comment,
    }));
    const symbols: Record<string, SymbolInfo> = {};
    for (const name of new Set([...positions, ...orders].map((x) => x.symbol))) {
      const spec = symbolSpec(name)!;
      const quote = this.#market.quote(name);
      const value = round8(tickValue(spec, quote.bid));
      symbols[name] = {
        tick_value: value,
        tick_size: spec.tickSize,
        volume_step: SIM_VOLUME.step,
        volume_min: SIM_VOLUME.min,
        trade_allowed: !this.marketClosed,
        tick_value_loss: value,
        tick_value_profit: value,
        contract_size: spec.contractSize,
        digits: spec.digits,
        volume_max: SIM_VOLUME.max,
        bid: quote.bid,
        ask: quote.ask,
      };
    }
    const equity = this.equity;
    let margin = 0;
    for (const p of this.#positions.values()) {
      margin += p.volume * symbolSpec(p.symbol)!.marginPerLot * (100 / this.scenario.leverage);
    }
    margin = round2(margin);
    const dayStart = Math.floor(this.serverTime / DAY) * DAY;
    const today = this.#deals.filter((d) => this.#serverTimeOf(d.time) >= dayStart);
    const profit = round2(sum(today.map((d) => d.profit)));
    const swap = round2(sum(today.map((d) => d.swap)));
    const commission = round2(sum(today.map((d) => d.commission)));
    return {
      type: "snapshot",
      seq,
      server_time: this.serverTime,
      utc_time: this.utcTime,
      account: {
        login: this.login,
        currency: "USD",
        balance: round2(this.#balance),
        equity,
        margin,
        free_margin: round2(equity - margin),
        profit: round2(equity - this.#balance),
        credit: 0,
        leverage: this.scenario.leverage,
        margin_mode: this.marginMode,
        margin_level: margin > 0 ? round2((equity / margin) * 100) : 0,
        trade_mode: "demo",
        name: "Simulated Trader",
      },
      positions,
      orders,
      symbols,
      realized_today: {
        profit,
        swap,
        commission,
        total: round2(profit + swap + commission),
        fee: 0,
        deals: today.length,
        day_start: dayStart,
        balance_ops: 0,
      },
      trade_allowed: true,
      locked: this.#locked,
      locked_until: this.#lockedUntil,
      connected: true,
    };
  }

  /**
   * Executes a command as the EA does and returns its ack. A command id seen before is not
   * executed again: the first answer is returned with `duplicate: true` (after the first
   * execution finishes, if it is still running). `wait` is called with the configured delay
   * before each trade request.
   */
  execute(command: Command, wait: Wait = noWait): Promise<Ack> {
    const known = this.#acks.get(command.id);
    if (known !== undefined) {
      this.#history.duplicates++;
      return known.then((ack) => ({ ...ack, duplicate: true }));
    }
    const at = this.#time;
    this.#observer?.command(at, command);
    const running = this.#run(command, wait).then((ack) => {
      this.#history.commands.push({ at, command, ack });
      if (this.#observer !== undefined) {
        this.#observe();
        this.#observer.ack(this.#time, ack);
      }
      return ack;
    });
    this.#acks.set(command.id, running);
    if (this.#acks.size > ACK_CACHE_SIZE) {
      this.#acks.delete(this.#acks.keys().next().value!);
    }
    return running;
  }

  /**
   * The EA's answer to a `close_position` whose ticket is missing or 0: refused with 10013, never
   * `ok` (an unnamed closing deal could open a reverse position on a netting account).
   */
  refuseCloseWithoutTicket(id: string): Ack {
    const refusal: TicketResult = {
      ticket: 0,
      ok: false,
      retcode: Retcode.INVALID,
      message: "close_position needs a position ticket",
      attempts: 0,
    };
    return summarize(id, [refusal], this.#locked);
  }

  /**
   * What the EA does on every timer while locked: deletes pending orders and closes positions
   * opened (or filled) while locked. Returns the per-ticket results (empty when nothing to do).
   */
  async enforceLock(wait: Wait = noWait): Promise<TicketResult[]> {
    if (!this.#locked) return [];
    const results: TicketResult[] = [];
    for (const ticket of [...this.#orders.keys()].filter((t) => this.#lockedTickets.has(t))) {
      results.push(await this.#cancel(ticket, wait, "lock"));
    }
    for (const ticket of [...this.#positions.keys()].filter((t) => this.#lockedTickets.has(t))) {
      results.push(await this.#close(ticket, 0, wait, "lock"));
    }
    return results;
  }

  /** Opens a position at market as the trader would (also used by tests). */
  open(
    symbol: string,
    side: "buy" | "sell",
    volume: number,
    slDistance = 0,
    tpDistance = 0,
    comment = "",
  ): number {
    const spec = requireSpec(symbol);
    const quote = this.#market.quote(symbol);
    const price = side === "buy" ? quote.ask : quote.bid;
    const dir = side === "buy" ? 1 : -1;
    const sl = slDistance > 0 ? roundPrice(spec, price - dir * slDistance) : 0;
    const tp = tpDistance > 0 ? roundPrice(spec, price + dir * tpDistance) : 0;
    const commission = -round2(spec.commissionPerLot * volume);
    this.#balance += commission;
    this.#deals.push({ time: this.#time, profit: 0, commission, swap: 0 });
    if (this.marginMode === "netting") {
      const existing = [...this.#positions.values()].find((p) => p.symbol === symbol);
      if (existing !== undefined) return this.#net(existing, side, volume, price, commission);
    }
    const ticket = this.#nextTicket++;
    this.#positions.set(ticket, {
      ticket,
      symbol,
      side,
      volume,
      openPrice: price,
      sl,
      tp,
      openTime: this.#time,
      commission,
      swap: 0,
      magic: 0,
      comment,
    });
    this.#log("open", ticket, symbol, volume);
    if (this.#locked) {
      this.#lockedTickets.add(ticket);
      this.#history.openedWhileLocked.push(ticket);
    }
    return ticket;
  }

  /** Places a pending order `distance` away from the market (also used by tests). */
  place(symbol: string, type: SimOrder["type"], volume: number, distance: number): number {
    const spec = requireSpec(symbol);
    const quote = this.#market.quote(symbol);
    const below = type === "buy_limit" || type === "sell_stop";
    const price = roundPrice(spec, below ? quote.bid - distance : quote.ask + distance);
    const ticket = this.#nextTicket++;
    this.#orders.set(ticket, {
      ticket,
      symbol,
      type,
      volume,
      price,
      setupTime: this.#time,
      magic: 0,
      comment: "",
    });
    this.#log("place", ticket, symbol, volume);
    if (this.#locked) {
      this.#lockedTickets.add(ticket);
      this.#history.openedWhileLocked.push(ticket);
    }
    return ticket;
  }

  async #run(command: Command, wait: Wait): Promise<Ack> {
    switch (command.type) {
      case "ping":
        return ack(command.id, true, Retcode.NONE, { locked: this.#locked });
      case "lock":
        this.#locked = true;
        this.#lockedUntil = command.until;
        this.#observer?.lock(this.#time, true, command.until);
        for (const ticket of [...this.#positions.keys(), ...this.#orders.keys()]) {
          this.#lockedTickets.delete(ticket);
        }
        return ack(command.id, true, Retcode.NONE, { locked: true });
      case "unlock":
        this.#unlockTerminal();
        return ack(command.id, true, Retcode.NONE, { locked: false });
      case "cancel_orders": {
        const results: TicketResult[] = [];
        for (const ticket of [...this.#orders.keys()]) {
          results.push(await this.#cancel(ticket, wait, "command", command.id));
        }
        return summarize(command.id, results, this.#locked);
      }
      case "close_position": {
        if (!(command.ticket > 0)) return this.refuseCloseWithoutTicket(command.id);
        const result = await this.#close(
          command.ticket,
          command.volume,
          wait,
          "command",
          command.id,
        );
        return summarize(command.id, [result], this.#locked);
      }
      case "close_all": {
        const results: TicketResult[] = [];
        for (const ticket of [...this.#orders.keys()]) {
          results.push(await this.#cancel(ticket, wait, "command", command.id));
        }
        for (const ticket of closeAllOrder(this.#closeCandidates(), this.#fifoClose)) {
          results.push(await this.#close(ticket, 0, wait, "command", command.id));
        }
        return summarize(command.id, results, this.#locked);
      }
    }
  }

  async #cancel(
    ticket: number,
    wait: Wait,
    cause: CloseCause,
    commandId?: string,
  ): Promise<TicketResult> {
    const attempt = await this.#request(ticket, wait, commandId);
    const order = this.#orders.get(ticket);
    if (order === undefined) {
      return {
        ticket,
        ok: true,
        retcode: Retcode.DONE,
        message: "order already gone",
        attempts: attempt.attempts,
      };
    }
    if (attempt.retcode !== Retcode.DONE) return refused(ticket, attempt);
    this.#orders.delete(ticket);
    this.#lockedTickets.delete(ticket);
    this.#history.cancelledOrders.push(ticket);
    this.#log("cancel", ticket, order.symbol, order.volume, cause, commandId);
    return {
      ticket,
      ok: true,
      retcode: Retcode.DONE,
      volume: order.volume,
      attempts: attempt.attempts,
    };
  }

  async #close(
    ticket: number,
    volume: number,
    wait: Wait,
    cause: CloseCause,
    commandId?: string,
  ): Promise<TicketResult> {
    if (!this.#positions.has(ticket)) {
      return {
        ticket,
        ok: true,
        retcode: Retcode.POSITION_CLOSED,
        message: "position already closed",
        attempts: 0,
      };
    }
    const symbol = this.#positions.get(ticket)!.symbol;
    const fill = await this.#chooseFilling(ticket, symbol, wait, commandId);
    if (fill.retcode !== Retcode.DONE) return { ...refused(ticket, fill), filling: fill.filling };
    if (this.#fifoClose && fifoBlocks(this.#closeCandidates(), ticket)) {
      this.#log("fifo_refused", ticket, symbol, 0, undefined, commandId);
      return {
        ticket,
        ok: false,
        retcode: Retcode.FIFO_CLOSE,
        message: "FIFO account: close the oldest position of the symbol first",
        attempts: 1,
        filling: fill.filling,
      };
    }
    const attempt = await this.#request(ticket, wait, commandId);
    const position = this.#positions.get(ticket);
    if (position === undefined) {
      return {
        ticket,
        ok: true,
        retcode: Retcode.POSITION_CLOSED,
        message: "position already closed",
        attempts: attempt.attempts,
      };
    }
    if (attempt.retcode !== Retcode.DONE) {
      return { ...refused(ticket, attempt), filling: fill.filling };
    }
    const lots = volume <= 0 || volume >= position.volume
      ? position.volume
      : normalizeVolume(volume);
    if (lots < SIM_VOLUME.min) {
      return {
        ticket,
        ok: false,
        retcode: Retcode.INVALID_VOLUME,
        message: `invalid volume ${volume}`,
        attempts: attempt.attempts,
      };
    }
    const price = this.#closePrice(position);
    this.#realize(position, lots, price);
    this.#log("close", ticket, position.symbol, lots, cause, commandId);
    if (!this.#positions.has(ticket)) {
      this.#lockedTickets.delete(ticket);
      this.#history.closedTickets.push(ticket);
    }
    return {
      ticket,
      ok: true,
      retcode: Retcode.DONE,
      volume: lots,
      price,
      attempts: attempt.attempts,
      filling: fill.filling,
    };
  }

  /**
   * The EA's filling modes for the symbol, tried in order as the EA does; the server refuses a
   * mode it does not take with 10030, and the EA moves to the next one without counting an
   * attempt. Returns the mode that was taken, or 10030 after the last one.
   */
  async #chooseFilling(
    ticket: number,
    symbol: string,
    wait: Wait,
    commandId: string | undefined,
  ): Promise<{ retcode: number; message: string; attempts: number; filling: FillingMode }> {
    const execution = this.#execution[symbol] ?? DEFAULT_EXECUTION;
    const modes = eaFillingModes(execution);
    for (const filling of modes) {
      if (serverAcceptsFilling(execution, filling)) {
        return { retcode: Retcode.DONE, message: "", attempts: 0, filling };
      }
      await wait(this.#execDelay);
      this.#log("invalid_fill", ticket, symbol, 0, undefined, commandId);
    }
    return {
      retcode: Retcode.INVALID_FILL,
      message: "invalid filling mode",
      attempts: 1,
      filling: modes[modes.length - 1]!,
    };
  }

  #closeCandidates(): CloseCandidate[] {
    return [...this.#positions.values()].map((p) => ({
      ticket: p.ticket,
      symbol: p.symbol,
      openTime: p.openTime,
      profit: this.#floatingProfit(p) + p.swap,
    }));
  }

  /** Sends one trade request (with requote retries) and returns the final return code. */
  async #request(
    ticket: number,
    wait: Wait,
    commandId: string | undefined,
  ): Promise<{ retcode: number; message: string; attempts: number }> {
    let attempts = 0;
    while (true) {
      attempts++;
      const began = this.#clock?.monotonic();
      await wait(this.#execDelay);
      // The oracle does not charge the agent for time the broker spent refusing.
      const ms = began === undefined ? undefined : Math.round(this.#clock!.monotonic() - began);
      const symbol = this.#positions.get(ticket)?.symbol ?? this.#orders.get(ticket)?.symbol ?? "";
      if (this.marketClosed) {
        this.#log("market_closed", ticket, symbol, 0, undefined, commandId, ms);
        return { retcode: Retcode.MARKET_CLOSED, message: "market closed", attempts };
      }
      const requote = this.scenario.faults !== null &&
        this.#faults.chance(this.scenario.faults.requoteProbability);
      if (!requote) return { retcode: Retcode.DONE, message: "", attempts };
      this.#history.requotes++;
      this.#log("requote", ticket, symbol, 0, undefined, commandId, ms);
      if (attempts >= this.#maxAttempts) {
        return { retcode: Retcode.REQUOTE, message: "requote", attempts };
      }
    }
  }

  #onClock(time: number): void {
    const dt = time - this.#time;
    if (dt <= 0) return;
    this.#time = time;
    for (const p of this.#positions.values()) {
      p.swap += (symbolSpec(p.symbol)!.swapPerLotHour * p.volume * dt) / HOUR;
    }
    if (this.#locked && this.#lockedUntil > 0 && this.utcTime >= this.#lockedUntil) {
      this.#unlockTerminal();
    }
    if (this.#observer !== undefined && this.marketClosed !== this.#toldClosed) {
      this.#toldClosed = !this.#toldClosed;
      this.#observer.market(time, !this.#toldClosed);
    }
    this.#runTrader();
  }

  #runTrader(): void {
    const s = this.scenario;
    while (this.#opensDone < s.opens.length && s.opens[this.#opensDone]!.at <= this.#time) {
      const o = s.opens[this.#opensDone++]!;
      this.open(o.symbol, o.side, o.volume, o.slDistance, o.tpDistance, o.comment ?? "");
    }
    while (
      this.#pendingsDone < s.pendings.length && s.pendings[this.#pendingsDone]!.at <= this.#time
    ) {
      const o = s.pendings[this.#pendingsDone++]!;
      this.place(o.symbol, o.type, o.volume, o.distance);
    }
    const policy = s.trader;
    if (policy === null) return;
    while (this.#nextDecision <= this.#time) {
      this.#nextDecision += policy.everyMs;
      if (policy.holdMs > 0) {
        for (const p of [...this.#positions.values()]) {
          if (this.#time - p.openTime >= policy.holdMs) {
            this.#realize(p, p.volume, this.#closePrice(p));
            this.#log("close", p.ticket, p.symbol, p.volume, "trader");
          }
        }
      }
      const symbol = this.#trader.pick(policy.symbols);
      const volume = this.#trader.pick(policy.volumes);
      const open = this.#trader.chance(policy.openProbability);
      const coin = this.#trader.chance(0.5);
      const pending = this.#trader.chance(policy.pendingProbability);
      // Every draw above is made even when the trader has given up, so the same seed gives the
      // same trades after the lock ends.
      const givenUp = this.#locked && this.#triesWhileLocked >= TRIES_WHILE_LOCKED;
      if (open && !givenUp && this.#positions.size < policy.maxPositions) {
        const drift = s.drift[symbol] ?? 0;
        let side: "buy" | "sell" = coin ? "buy" : "sell";
        if (policy.direction !== "random" && drift !== 0) {
          const up = drift > 0;
          side = (policy.direction === "with_trend") === up ? "buy" : "sell";
        }
        const pip = pipOf(symbol);
        this.open(symbol, side, volume, policy.slPips * pip, policy.tpPips * pip);
        if (this.#locked) this.#triesWhileLocked++;
      }
      if (policy.pendingExpiryMs > 0) this.#expireTraderOrders(policy.pendingExpiryMs);
      if (pending && !givenUp) {
        const ticket = this.place(
          symbol,
          coin ? "buy_limit" : "sell_limit",
          volume,
          100 * pipOf(symbol),
        );
        this.#traderOrders.add(ticket);
        if (this.#locked) this.#triesWhileLocked++;
      }
    }
  }

  /**
   * The trader deletes its far pending orders once they are `expiryMs` old, locked or not (a
   * server-side expiry needs no trade permission). Filled or cancelled ones are forgotten.
   */
  #expireTraderOrders(expiryMs: number): void {
    for (const ticket of [...this.#traderOrders]) {
      const order = this.#orders.get(ticket);
      if (order !== undefined && this.#time - order.setupTime < expiryMs) continue;
      this.#traderOrders.delete(ticket);
      if (order === undefined) continue;
      this.#orders.delete(ticket);
      this.#lockedTickets.delete(ticket);
      this.#log("cancel", ticket, order.symbol, order.volume, "trader");
    }
  }

  /** Lock mode ends (an unlock command or the lock's end time): the trader may try again. */
  #unlockTerminal(): void {
    this.#locked = false;
    this.#lockedUntil = 0;
    this.#lockedTickets.clear();
    this.#triesWhileLocked = 0;
    this.#observer?.lock(this.#time, false, 0);
  }

  #checkStops(symbol: string, at: number): void {
    const quote = this.#market.quote(symbol);
    for (const p of [...this.#positions.values()]) {
      if (p.symbol !== symbol) continue;
      const price = p.side === "buy" ? quote.bid : quote.ask;
      const dir = p.side === "buy" ? 1 : -1;
      const hitSl = p.sl > 0 && dir * (price - p.sl) <= 0;
      const hitTp = p.tp > 0 && dir * (price - p.tp) >= 0;
      if (!hitSl && !hitTp) continue;
      this.#time = Math.max(this.#time, at);
      this.#realize(p, p.volume, price);
      this.#lockedTickets.delete(p.ticket);
      this.#log("close", p.ticket, p.symbol, p.volume, hitSl ? "sl" : "tp");
    }
  }

  #checkPending(symbol: string, at: number): void {
    const quote = this.#market.quote(symbol);
    for (const o of [...this.#orders.values()]) {
      if (o.symbol !== symbol) continue;
      const fill = (o.type === "buy_limit" && quote.ask <= o.price) ||
        (o.type === "sell_limit" && quote.bid >= o.price) ||
        (o.type === "buy_stop" && quote.ask >= o.price) ||
        (o.type === "sell_stop" && quote.bid <= o.price);
      if (!fill) continue;
      this.#time = Math.max(this.#time, at);
      this.#orders.delete(o.ticket);
      const wasLocked = this.#lockedTickets.delete(o.ticket);
      const side = o.type.startsWith("buy") ? "buy" : "sell";
      const ticket = this.open(o.symbol, side, o.volume);
      this.#log("fill", ticket, o.symbol, o.volume);
      if (wasLocked && !this.#locked) this.#lockedTickets.delete(ticket);
    }
  }

  #net(
    existing: SimPosition,
    side: "buy" | "sell",
    volume: number,
    price: number,
    commission: number,
  ): number {
    existing.commission += commission;
    if (existing.side === side) {
      const total = existing.volume + volume;
      existing.openPrice = roundPrice(
        requireSpec(existing.symbol),
        (existing.openPrice * existing.volume + price * volume) / total,
      );
      existing.volume = normalizeVolume(total);
    } else if (volume < existing.volume) {
      this.#realize(existing, volume, price);
    } else {
      const rest = normalizeVolume(volume - existing.volume);
      this.#realize(existing, existing.volume, price);
      if (rest >= SIM_VOLUME.min) {
        this.#positions.set(existing.ticket, {
          ...existing,
          side,
          volume: rest,
          openPrice: price,
          swap: 0,
          commission: 0,
          openTime: this.#time,
        });
      }
    }
    this.#log("open", existing.ticket, existing.symbol, volume);
    if (this.#locked && this.#positions.has(existing.ticket)) {
      this.#lockedTickets.add(existing.ticket);
      this.#history.openedWhileLocked.push(existing.ticket);
    }
    return existing.ticket;
  }

  #realize(position: SimPosition, lots: number, price: number): void {
    const spec = requireSpec(position.symbol);
    const share = lots / position.volume;
    const dir = position.side === "buy" ? 1 : -1;
    const profit = round2(
      ((price - position.openPrice) * dir * lots * tickValue(spec, price)) / spec.tickSize,
    );
    const swap = round2(position.swap * share);
    const commission = -round2(spec.commissionPerLot * lots);
    this.#balance += profit + swap + commission;
    this.#deals.push({ time: this.#time, profit, commission, swap });
    const rest = normalizeVolume(position.volume - lots);
    if (rest < SIM_VOLUME.min) {
      this.#positions.delete(position.ticket);
    } else {
      position.volume = rest;
      position.swap -= swap;
      position.commission = round2(position.commission * (1 - share));
    }
  }

  #closePrice(position: SimPosition): number {
    const quote = this.#market.quote(position.symbol);
    return position.side === "buy" ? quote.bid : quote.ask;
  }

  #floatingProfit(position: SimPosition): number {
    const spec = requireSpec(position.symbol);
    const price = this.#closePrice(position);
    const dir = position.side === "buy" ? 1 : -1;
    return round2(
      ((price - position.openPrice) * dir * position.volume * tickValue(spec, price)) /
        spec.tickSize,
    );
  }

  #positionOut(p: SimPosition): Position {
    return {
      ticket: p.ticket,
      symbol: p.symbol,
      side: p.side,
      volume: p.volume,
      open_price: p.openPrice,
      price: this.#closePrice(p),
      sl: p.sl,
      tp: p.tp,
      profit: this.#floatingProfit(p),
      swap: round2(p.swap),
      commission: round2(p.commission),
      open_time: this.#serverTimeOf(p.openTime),
      magic: p.magic,
      comment: p.comment,
      identifier: p.ticket,
    };
  }

  #serverTimeOf(simTime: number): number {
    return this.#startUtc + simTime + this.#serverOffset;
  }

  #log(
    action: TradeEvent["action"],
    ticket: number,
    symbol: string,
    volume: number,
    cause?: CloseCause,
    commandId?: string,
    ms?: number,
  ): void {
    const event: TradeEvent = { at: this.#time, action, ticket, symbol, volume };
    if (cause !== undefined) event.cause = cause;
    if (commandId !== undefined) event.commandId = commandId;
    if (ms !== undefined) event.ms = ms;
    this.#history.trades.push(event);
    if (this.#observer !== undefined) {
      this.#observer.trade(event);
      this.#observe();
    }
  }

  /** Tells the observer the account's state when it differs from the last one told. */
  #observe(): void {
    const equity = this.equity;
    const balance = round2(this.#balance);
    const positions = this.#positions.size;
    const orders = this.#orders.size;
    const key = `${equity}|${balance}|${positions}|${orders}`;
    if (key === this.#observed) return;
    this.#observed = key;
    this.#observer!.account({ at: this.#time, equity, balance, positions, orders });
  }
}

/** The result of a trade request the server refused (requote, market closed, ...). */
function refused(
  ticket: number,
  attempt: { retcode: number; message: string; attempts: number },
): TicketResult {
  return {
    ticket,
    ok: false,
    retcode: attempt.retcode,
    message: attempt.message,
    attempts: attempt.attempts,
  };
}

function ack(id: string, ok: boolean, retcode: number, extra: Partial<Ack> = {}): Ack {
  return { type: "ack", id, ok, retcode, ...extra };
}

function summarize(id: string, results: TicketResult[], locked: boolean): Ack {
  const failed = results.find((r) => !r.ok);
  const retcode = failed?.retcode ?? (results.length === 0 ? Retcode.NONE : Retcode.DONE);
  const extra: Partial<Ack> = { results, locked };
  if (failed !== undefined) {
    extra.message = `ticket ${failed.ticket}: ${failed.message ?? failed.retcode}`;
  }
  return ack(id, failed === undefined, retcode, extra);
}

function requireSpec(symbol: string): SymbolSpec {
  const spec = symbolSpec(symbol);
  if (spec === undefined) throw new RangeError(`Unknown simulated symbol: ${symbol}`);
  return spec;
}

function normalizeVolume(volume: number): number {
  return Math.round(volume / SIM_VOLUME.step) * SIM_VOLUME.step > 0
    ? Number((Math.round(volume / SIM_VOLUME.step) * SIM_VOLUME.step).toFixed(2))
    : 0;
}

function round8(value: number): number {
  return Number(value.toFixed(8));
}

function sum(values: number[]): number {
  return values.reduce((a, b) => a + b, 0);
}
