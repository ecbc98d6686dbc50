/**
 * `riskguard events [<element id or login>] [--since <time|duration>] [--type a,b] [--limit n]
 * [--follow] [--json]`: the audit trail (breaches, commands, locks, errors, lifecycle) of one
 * account or of all, newest last, so nobody needs to open the database to see why an account
 * was locked. `--follow` keeps printing new events until Ctrl+C.
 *
 * @module
 */
import type { Command } from "commander";
import { RiskGuardError } from "../shared/errors.ts";
import { abortableSleep } from "../shared/async.ts";
import { type EventRecord, withStore } from "../store/mod.ts";
import { resolveElement } from "./_element_ref.ts";
import { type CliContext, startCommand } from "./context.ts";

/** How often `--follow` asks the store for new events (ms). */
const FOLLOW_INTERVAL_MS = 1_000;

const UNITS: Readonly<Record<string, number>> = {
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

/**
 * Reads `--since`: a duration back from `now` (`30m`, `2h`, `7d`, `45s`) or a date/time
 * (`2026-11-24`, `2026-11-24T08:00:00Z`, ISO 8601; without a zone it is UTC).
 *
 * @throws {RiskGuardError} `INPUT_INVALID` naming the value seen.
 */
export function parseSince(text: string, now: number): number {
  const trimmed = text.trim();
  const duration = /^(\d+(?:\.\d+)?)\s*([smhd])$/.exec(trimmed);
  if (duration !== null) return now - Number(duration[1]) * UNITS[duration[2]!]!;
  const iso = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?$/.test(trimmed)
    ? `${trimmed}${trimmed.includes("T") ? "Z" : ""}`
    : trimmed;
  const at = /^\d{4}-\d{2}-\d{2}/.test(iso) ? Date.parse(iso) : Number.NaN;
  if (Number.isNaN(at)) {
    throw new RiskGuardError(
      "INPUT_INVALID",
      `Invalid --since ${JSON.stringify(text)}: a duration (30m, 2h, 7d) or a date/time ` +
        "(2026-11-24, 2026-11-24T08:00:00Z)",
    );
  }
  return at;
}

/** Reads `--type breach,lock`: a comma-separated list of event types. */
export function parseTypes(text: string): string[] {
  const types = text.split(",").map((type) => type.trim()).filter((type) => type !== "");
  if (types.length === 0 || types.some((type) => !/^[a-z_]+$/.test(type))) {
    throw new RiskGuardError(
      "INPUT_INVALID",
      `Invalid --type ${JSON.stringify(text)}: event types separated by commas, e.g. breach,lock`,
    );
  }
  return types;
}

/** One human-readable line: time (UTC), account, type, rule, message, server time. */
export function formatEvent(event: EventRecord): string {
  const at = new Date(event.at).toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");
  const rule = event.rule === null ? "" : ` [${event.rule}]`;
  const server = typeof event.server_time === "number"
    ? ` (server ${new Date(event.server_time).toISOString().slice(0, 19).replace("T", " ")})`
    : "";
  return `${at}  ${event.element_id}  ${event.type.padEnd(9)}${rule} ${event.message}${server}`;
}

interface EventsOptions {
  since?: string;
  type?: string;
  limit?: string;
  follow?: boolean;
  json?: boolean;
}

/** Adds the `events` command. */
export function registerEvents(program: Command, ctx: CliContext): void {
  program.command("events [account]")
    .description("show the audit trail (all accounts, or one by element id or MT5 login)")
    .option("--since <time|duration>", "only events from then on: 30m, 2h, 7d, or a date/time")
    .option("--type <types>", "only these event types, e.g. breach,lock,command,error")
    .option("--limit <n>", "at most this many (the newest), default 100")
    .option("--follow", "keep printing new events until Ctrl+C")
    .option("--json", "one JSON object per line")
    .action(async (account: string | undefined, options: EventsOptions, command: Command) => {
      const config = await startCommand(ctx, command);
      const since = options.since === undefined ? 0 : parseSince(options.since, Date.now());
      const types = options.type === undefined ? undefined : parseTypes(options.type);
      const limit = options.limit === undefined ? 100 : Number(options.limit);
      if (!Number.isInteger(limit) || limit < 1) {
        throw new RiskGuardError(
          "INPUT_INVALID",
          `Invalid --limit ${JSON.stringify(options.limit)}: a whole number >= 1`,
        );
      }
      const print = (event: EventRecord) =>
        ctx.stdout(`${options.json === true ? JSON.stringify(event) : formatEvent(event)}\n`);
      await withStore(config.store, { db: config.db }, async (store) => {
        const elementId = account === undefined ? null : (await resolveElement(store, account)).id;
        const query = (from: number, max: number) =>
          store.listEvents(elementId, {
            since: from,
            limit: max,
            ...(types === undefined ? {} : { types }),
          });
        const first = await query(since, limit);
        if (first.length === 0 && options.follow !== true && options.json !== true) {
          ctx.stderr("No events.\n");
        }
        first.forEach(print);
        if (options.follow !== true) return;
        // Events at the last time seen may still arrive: ask from that time, skip those shown.
        let from = first.at(-1)?.at ?? Math.max(since, Date.now());
        let seen = new Set(first.filter((event) => event.at === from).map((event) => event._id));
        while (!ctx.stopSignal.aborted) {
          await abortableSleep(FOLLOW_INTERVAL_MS, ctx.stopSignal);
          if (ctx.stopSignal.aborted) break;
          const fresh = (await query(from, 10_000)).filter((event) => !seen.has(event._id));
          if (fresh.length === 0) continue;
          fresh.forEach(print);
          const last = fresh.at(-1)!.at;
          if (last !== from) seen = new Set();
          from = last;
          for (const event of fresh) if (event.at === from) seen.add(event._id);
        }
      });
    });
}
