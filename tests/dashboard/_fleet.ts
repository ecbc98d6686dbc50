/**
 * A small fleet in a fresh SQLite store for the dashboard tests: three accounts on two hosts,
 * one locked, with metrics, day and peak written through a real lease, plus equity samples.
 *
 * @module
 */
import type { LeaseRef, Store } from "../../src/store/mod.ts";
import { openStore } from "../../src/store/mod.ts";
import { dayWindow } from "../../src/risk/day_state.ts";

/** The password of every fixture account: no response or log may contain it. */
export const PASSWORD = "pw-Secret-4711-dashboard";
/** The action token of the tests. */
export const TOKEN = "test-token-0123456789abcdef";

/** The broker's offset from UTC in the fixture (UTC+2, as many brokers). */
export const SERVER_OFFSET = 2 * 3_600_000;

/** The day settings of the `locked` account: a New York close. */
export const NY_DAILY = {
  reset: "17:00",
  timezone: "America/New_York",
  baseline: "balance",
} as const;

/** The fixture fleet. */
export interface Fleet {
  /** The store (SQLite in a temp dir). */
  store: Store;
  /** Its `--store` value. */
  spec: string;
  /** Element ids: `calm` (ALLOWED, host vps-1), `locked` (LOCKED_DAY, vps-1), `idle` (unheld). */
  ids: { calm: string; locked: string; idle: string };
  /** The leases of the two held accounts. */
  leases: { calm: LeaseRef; locked: LeaseRef };
  /** The time the fixture was built at. */
  now: number;
  /** UTC epoch ms at which today of each held account began, as the risk process cuts days. */
  dayStarts: { calm: number; locked: number };
  /** Closes the store and removes the folder. */
  dispose(): Promise<void>;
}

/** Builds the fixture fleet at time `now`. */
export async function buildFleet(now = Date.now()): Promise<Fleet> {
  const dir = await Deno.makeTempDir({ prefix: "riskguard-dash-" });
  const spec = `sqlite:${dir}/fleet.db`;
  const store = await openStore(spec);
  const add = async (login: number, extra: Record<string, unknown> = {}) => {
    const result = await store.insertElement({
      server: "Demo-Server",
      login,
      password: PASSWORD,
      max_daily_loss: "5%",
      max_profit: 800,
      max_drawdown: { limit: "10%", mode: "trailing_equity" },
      ...extra,
    }, now);
    if (!result.ok) throw new Error(`fixture refused: ${result.field} ${result.reason}`);
    return result.element.id;
  };
  const calm = await add(1001, { name: "calm one" });
  const locked = await add(1002, { name: "losing day", daily: NY_DAILY });
  const idle = await add(1003, { max_daily_loss: 300 });
  await store.addInstance({ path: "sim:calm", host: "vps-1", port: 21_000 });
  await store.addInstance({ path: "sim:losing_day", host: "vps-1", port: 21_002 });
  await store.addInstance({ path: "sim:calm", host: "vps-2", port: 21_000 });
  const calmLease = await store.claimFreeInstance(calm, "vps-1", now);
  const lockedLease = await store.claimFreeInstance(locked, "vps-1", now);
  const calmDay = dayWindow(now, SERVER_OFFSET, {
    reset: "00:00",
    timezone: "server",
    baseline: "balance",
  });
  const lockedDay = dayWindow(now, SERVER_OFFSET, NY_DAILY);
  const day = (balance: number, date: string) => ({
    date,
    start_balance: balance,
    start_equity: balance,
    high_equity: balance,
    baseline: balance,
  });
  const peak = (balance: number) => ({
    initial_balance: balance,
    high_balance: balance,
    high_equity: balance,
    since: now - 86_400_000,
  });
  await store.updateElement(calmLease, {
    metrics: {
      balance: 10_000,
      equity: 10_120,
      daily_pl: 120,
      positions: 2,
      orders: 1,
      updated_at: now,
      open_positions: {
        items: [
          {
            ticket: 880_001,
            symbol: "EURUSD",
            side: "buy",
            volume: 0.5,
            open_price: 1.08345,
            sl: 1.0801,
            tp: 0,
            profit: 150.25,
          },
          {
            ticket: 880_002,
            symbol: "XAUUSD",
            side: "sell",
            volume: 0.1,
            open_price: 2_345.6,
            sl: 0,
            tp: 2_300,
            profit: -30.25,
          },
        ],
        truncated: false,
      },
      pending_orders: {
        items: [{
          ticket: 990_001,
          symbol: "GBPUSD",
          type: "buy_limit",
          volume: 0.2,
          price: 1.2511,
          sl: 1.2461,
          tp: 1.2611,
        }],
        truncated: false,
      },
      server_offset: SERVER_OFFSET,
    },
    day: day(10_000, calmDay.date),
    peak: peak(10_000),
  }, now);
  await store.ping(calmLease, now);
  await store.updateElement(lockedLease, {
    trading: "LOCKED_DAY",
    lock_reason: "daily loss 500.00 reached the limit of 500.00",
    locked_until: now + 3_600_000,
    metrics: {
      balance: 9_480,
      equity: 9_480,
      daily_pl: -520,
      positions: 0,
      orders: 0,
      updated_at: now,
      open_positions: { items: [], truncated: false },
      pending_orders: { items: [], truncated: false },
      server_offset: SERVER_OFFSET,
    },
    day: day(10_000, lockedDay.date),
    peak: peak(10_000),
  }, now);
  await store.ping(lockedLease, now);
  await store.appendEvent({
    element_id: locked,
    type: "lock",
    message: "locked for the day: daily loss",
    detail: { rule: "max_daily_loss" },
    at: now - 1_000,
  });
  // Yesterday's last sample: not on today's chart.
  await store.appendSample({
    element_id: calm,
    at: calmDay.starts_at - 60_000,
    balance: 9_000,
    equity: 9_000,
    daily_pl: 0,
    positions: 0,
  });
  for (let i = 10; i >= 0; i--) {
    await store.appendSample({
      element_id: calm,
      at: now - i * 60_000,
      balance: 10_000,
      equity: 10_000 + (10 - i) * 12,
      daily_pl: (10 - i) * 12,
      positions: 2,
    });
  }
  return {
    store,
    spec,
    ids: { calm, locked, idle },
    leases: { calm: calmLease, locked: lockedLease },
    now,
    dayStarts: { calm: calmDay.starts_at, locked: lockedDay.starts_at },
    async dispose() {
      await store.close();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

/** One server-sent event. */
export interface SseEvent {
  /** The event name. */
  event: string;
  /** Its data, parsed from JSON. */
  data: Record<string, unknown>;
}

/** Reads server-sent events from a response body. */
export class SseReader {
  #reader: ReadableStreamDefaultReader<string>;
  #buffer = "";
  /** Every raw chunk read (for secret checks). */
  raw = "";

  /** Wraps the body of an SSE response. */
  constructor(response: Response) {
    this.#reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  }

  /** The next event that satisfies `match`; fails after `timeoutMs`. */
  async next(
    match: (event: SseEvent) => boolean = () => true,
    timeoutMs = 5_000,
  ): Promise<SseEvent> {
    const deadline = Date.now() + timeoutMs;
    while (true) {
      const end = this.#buffer.indexOf("\n\n");
      if (end >= 0) {
        const block = this.#buffer.slice(0, end);
        this.#buffer = this.#buffer.slice(end + 2);
        let event = "message";
        let data = "";
        for (const line of block.split("\n")) {
          if (line.startsWith("event:")) event = line.slice(6).trim();
          else if (line.startsWith("data:")) data += line.slice(5).trimStart();
        }
        if (data === "") continue;
        const parsed = { event, data: JSON.parse(data) };
        if (match(parsed)) return parsed;
        continue;
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error("no matching server-sent event in time");
      let timer: ReturnType<typeof setTimeout> | undefined;
      const chunk = await Promise.race([
        this.#reader.read(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new Error("no matching server-sent event in time")),
            left,
          );
        }),
      ]).finally(() => clearTimeout(timer));
      if (chunk.done) throw new Error("stream ended");
      this.#buffer += chunk.value;
      this.raw += chunk.value;
    }
  }

  /** Stops reading (closes the connection). */
  async close(): Promise<void> {
    await this.#reader.cancel().catch(() => {});
  }
}
