/**
 * The simulator's truth log: what really happened on the simulated account, as JSON lines, for
 * the oracle (`tests/support/oracle.ts`) to hold the risk process's record against.
 *
 * Enabled by a file given on the simulator's command line (`riskguard sim --truth-log <file>`),
 * its launch options ({@link SimLaunchOptions.truthLog}) or a `sim:` pathway
 * (`sim:losing_day?truth=<file>`). Without it the simulator computes none of this.
 *
 * Every line has `type`, `wall` (real UTC epoch ms when it happened), `sim` (simulated ms since
 * the start; the simulated UTC time is `start_utc + sim`) and `pid` (the simulator's process, so
 * that a run still going while the next one starts is told apart from it):
 *
 * | type | fields |
 * |---|---|
 * | `start` | `start_utc`, `server_offset`, `login`, `server`, `scenario`, `seed`, `speed`, `balance`, `pid`, `ppid` (first line of every run) |
 * | `account` | `equity`, `balance`, `positions`, `orders` (whenever one of them changed) |
 * | `trade` | `action`, `ticket`, `symbol`, `volume`, `cause?`, `command_id?`; `ms` on `requote` and `market_closed`: real ms the refused request took |
 * | `command` | `id`, `command` (as received, before it runs) |
 * | `ack` | `id`, `ok`, `retcode` |
 * | `lock` | `locked`, `until` (lock mode switched on or off) |
 * | `market` | `open` (the market closed or opened again: a scenario's market-closed window) |
 * | `hello`, `snapshot` | sent to the agent; a snapshot has `seq`, `equity`, `balance`, `positions`, `orders`, `locked` |
 * | `link` | `up`: the EA's PUSH connection to the agent (which carries its acks) came up or went down |
 * | `fault` | `fault` (`cut`, `garbage`, `silent`), `ms` for a silence: a connection fault from the EA's trigger file began |
 * | `stop` | the simulator stopped cleanly (a killed one has no `stop`); `reason` when it stopped by itself (`token refused`, `no agent`: its risk process is gone) |
 *
 * A file is appended to: a restarted simulator adds a run that begins with its own `start`.
 * Lines are buffered for at most {@link FLUSH_MS} ms; commands, acks, locks and market changes are written at
 * once, so a killed process loses at most the account changes of its last moments.
 *
 * @module
 */
import { type Clock, systemClock } from "../../shared/clock.ts";
import type { Ack, Command, EaMessage } from "../protocol.ts";
import type { SimFault } from "./ea.ts";
import type { SimAccountState, SimObserver, TradeEvent } from "./simulator.ts";

/** Longest time (real ms) an account line waits in the buffer. */
export const FLUSH_MS = 100;

/** What the first line of a run says. */
export interface TruthStart {
  /** UTC epoch ms of simulated time 0. */
  start_utc: number;
  /** Trade server clock minus UTC, ms. */
  server_offset: number;
  login: number;
  server: string;
  scenario: string;
  seed: number | string;
  speed: number;
  /** Starting balance. */
  balance: number;
}

/** A truth log file being written. */
export class TruthLog implements SimObserver {
  readonly #file: Deno.FsFile;
  readonly #clock: Clock;
  readonly #encoder = new TextEncoder();
  #buffer: string[] = [];
  #timer: ReturnType<typeof setInterval>;
  #startUtc: number;
  #closed = false;

  /** Opens `path` for appending (created with owner-only access) and writes the `start` line. */
  constructor(path: string, start: TruthStart, clock: Clock = systemClock) {
    this.#clock = clock;
    this.#startUtc = start.start_utc;
    try {
      this.#file = Deno.openSync(path, { create: true, append: true, mode: 0o600 });
    } catch (error) {
      throw new Error(`Cannot open the truth log ${path}: ${(error as Error).message}`, {
        cause: error,
      });
    }
    // A run killed mid-line left a partial line: the next run starts on a line of its own.
    const size = this.#file.statSync().size;
    const separator = size > 0 && !endsWithNewline(path, size) ? "\n" : "";
    this.#line({ type: "start", sim: 0, ...start, pid: Deno.pid, ppid: Deno.ppid }, separator);
    this.#flush();
    this.#timer = setInterval(() => this.#flush(), FLUSH_MS);
    Deno.unrefTimer(this.#timer);
  }

  /** {@inheritDoc SimObserver.account} */
  account(state: SimAccountState): void {
    this.#line({
      type: "account",
      sim: state.at,
      equity: state.equity,
      balance: state.balance,
      positions: state.positions,
      orders: state.orders,
    });
  }

  /** {@inheritDoc SimObserver.trade} */
  trade(event: TradeEvent): void {
    const { at, commandId, ...rest } = event;
    this.#line({
      type: "trade",
      sim: at,
      ...rest,
      ...(commandId === undefined ? {} : { command_id: commandId }),
    });
  }

  /** {@inheritDoc SimObserver.command} */
  command(at: number, command: Command): void {
    this.#line({ type: "command", sim: at, id: command.id, command });
    this.#flush();
  }

  /** {@inheritDoc SimObserver.ack} */
  ack(at: number, ack: Ack): void {
    this.#line({ type: "ack", sim: at, id: ack.id, ok: ack.ok, retcode: ack.retcode });
    this.#flush();
  }

  /** {@inheritDoc SimObserver.lock} */
  lock(at: number, locked: boolean, until: number): void {
    this.#line({ type: "lock", sim: at, locked, until });
    this.#flush();
  }

  /** {@inheritDoc SimObserver.market} */
  market(at: number, open: boolean): void {
    this.#line({ type: "market", sim: at, open });
    this.#flush();
  }

  /** Records the hellos and snapshots the EA sends (pass as `SimEa`'s `onSend`). */
  sent(message: EaMessage): void {
    if (message.type === "hello") {
      this.#line({ type: "hello", sim: message.utc_time - this.#startUtc });
      this.#flush();
    } else if (message.type === "snapshot") {
      this.#line({
        type: "snapshot",
        sim: message.utc_time - this.#startUtc,
        seq: message.seq,
        equity: message.account.equity,
        balance: message.account.balance,
        positions: message.positions.length,
        orders: message.orders.length,
        locked: message.locked,
      });
    }
  }

  /** Records a connection fault of the EA as it begins. */
  fault(sim: number, fault: SimFault): void {
    const { type, ...rest } = fault;
    this.#line({ type: "fault", sim, fault: type, ...rest });
    this.#flush();
  }

  /** Records the EA's PUSH link to the agent coming up or going down. */
  link(sim: number, up: boolean): void {
    this.#line({ type: "link", sim, up });
    this.#flush();
  }

  /** Writes the `stop` line (with why, when the simulator stopped by itself) and closes the file. */
  close(sim: number, reason?: string): void {
    if (this.#closed) return;
    this.#line({ type: "stop", sim, ...(reason === undefined ? {} : { reason }) });
    this.#flush();
    this.#closed = true;
    clearInterval(this.#timer);
    this.#file.close();
  }

  #line(fields: Record<string, unknown>, prefix = ""): void {
    if (this.#closed) return;
    const { type, sim, ...rest } = fields;
    this.#buffer.push(
      prefix + JSON.stringify({ type, wall: this.#clock.now(), sim, pid: Deno.pid, ...rest }),
    );
  }

  #flush(): void {
    if (this.#buffer.length === 0 || this.#closed) return;
    const bytes = this.#encoder.encode(this.#buffer.join("\n") + "\n");
    this.#buffer = [];
    let written = 0;
    while (written < bytes.length) written += this.#file.writeSync(bytes.subarray(written));
  }
}

function endsWithNewline(path: string, size: number): boolean {
  const file = Deno.openSync(path, { read: true });
  try {
    file.seekSync(size - 1, Deno.SeekMode.Start);
    const last = new Uint8Array(1);
    file.readSync(last);
    return last[0] === 0x0a;
  } finally {
    file.close();
  }
}
