/**
 * The heartbeat of an admin host in `agent_state`: version, pid, last seen, number of children,
 * free/total instances. `riskguard status` shows it; a second admin started with the same
 * `--host` refuses to start (exit 2 naming the first) once it has seen the first one beat. A clean
 * shutdown marks the heartbeat stopped, so a restart right after is allowed.
 *
 * An admin that died without that mark (kill -9, crash, power loss) leaves a heartbeat that looks
 * fresh for a while. Its pid says nothing (after a reboot another process may have it), so a
 * starting admin that finds a fresh heartbeat of another run watches it instead: a holder that
 * beats again is alive (exit 2); one whose `last_seen` does not move for three heartbeat intervals
 * is gone, and the new run takes the host over. On the same machine (one clock) a heartbeat
 * already older than three intervals is taken over at once.
 *
 * @module
 */
import type { Logger } from "../shared/logging.ts";
import { abortableSleep } from "../shared/async.ts";
import { type Clock, systemClock } from "../shared/clock.ts";
import { ConfigError } from "../shared/errors.ts";
import { VERSION } from "../shared/version.ts";
import type { AgentHeartbeat, Store } from "../store/mod.ts";

/** What changes between beats. */
export interface BeatFigures {
  /** Children supervised. */
  children: number;
  /** FREE instances of the host. */
  instancesFree: number;
  /** All instances of the host. */
  instancesTotal: number;
}

/** Heartbeat intervals without a beat after which a holder is taken for dead. */
export const SILENT_BEATS = 3;

/** Writes the heartbeat of one admin run. */
export class Heartbeat {
  readonly #store: Store;
  readonly #host: string;
  readonly #staleMs: number;
  readonly #runId = crypto.randomUUID();
  readonly #startedAt: number;

  /** A heartbeat for `host`; another run's beat younger than `staleMs` blocks this one. */
  constructor(store: Store, host: string, staleMs: number, now: number) {
    this.#store = store;
    this.#host = host;
    this.#staleMs = staleMs;
    this.#startedAt = now;
  }

  /**
   * The first beat of a run: takes the host over from a run that is gone (see the module
   * comment), waiting up to {@link SILENT_BEATS} intervals to tell. Returns false when `signal`
   * aborted meanwhile.
   *
   * @throws {ConfigError} (exit code 2) when another admin of this host beats meanwhile.
   */
  async start(
    figures: () => Promise<BeatFigures>,
    options: { intervalMs: number; signal: AbortSignal; log: Logger; clock?: Clock },
  ): Promise<boolean> {
    const clock = options.clock ?? systemClock;
    const silentMs = SILENT_BEATS * options.intervalMs;
    let first: { lastSeen: number; at: number } | undefined;
    while (!options.signal.aborted) {
      const now = clock.now();
      const result = await this.#store.beatAgent(this.#beat(now, await figures(), false), {
        staleAfterMs: this.#staleMs,
      });
      if (result.ok) return true;
      const holder = result.holder;
      const sameClock = holder.machine === machineName();
      if (first !== undefined && holder.last_seen !== first.lastSeen) throw this.#refusal(holder);
      first ??= { lastSeen: holder.last_seen, at: now };
      const silentFor = sameClock ? now - holder.last_seen : now - first.at;
      if (silentFor >= silentMs) {
        options.log.warn(
          "the admin that ran for host {host} (pid {pid} on {machine}) has not beaten for " +
            "{seconds} s: taking the host over",
          { ...this.#who(holder), seconds: Math.round(silentFor / 1000) },
        );
        const taken = await this.#store.beatAgent(this.#beat(now, await figures(), false), {
          staleAfterMs: this.#staleMs,
          replaceRunId: holder.run_id,
        });
        if (taken.ok) return true;
        throw this.#refusal(taken.holder);
      }
      if (first.at === now) {
        options.log.info(
          "another admin's heartbeat for host {host} (pid {pid} on {machine}) is fresh; " +
            "watching it for up to {seconds} s to tell whether it still runs",
          { ...this.#who(holder), seconds: Math.round(silentMs / 1000) },
        );
      }
      await abortableSleep(Math.max(50, Math.floor(options.intervalMs / 2)), options.signal);
    }
    return false;
  }

  /**
   * Writes a beat.
   *
   * @throws {ConfigError} (exit code 2) when another admin of this host took the host over.
   */
  async beat(now: number, figures: BeatFigures, stopped = false): Promise<void> {
    const result = await this.#store.beatAgent(this.#beat(now, figures, stopped), {
      staleAfterMs: this.#staleMs,
    });
    if (!result.ok) throw this.#refusal(result.holder);
  }

  #beat(now: number, figures: BeatFigures, stopped: boolean): AgentHeartbeat {
    return {
      host: this.#host,
      run_id: this.#runId,
      pid: Deno.pid,
      machine: machineName(),
      version: VERSION,
      started_at: this.#startedAt,
      last_seen: now,
      children: figures.children,
      instances_free: figures.instancesFree,
      instances_total: figures.instancesTotal,
      stopped_at: stopped ? now : null,
    };
  }

  #who(holder: AgentHeartbeat): Record<string, unknown> {
    return { host: this.#host, pid: holder.pid, machine: holder.machine };
  }

  #refusal(first: AgentHeartbeat): ConfigError {
    return new ConfigError(
      `Another admin already runs for host ${this.#host}: pid ${first.pid} on machine ` +
        `${first.machine}, version ${first.version}, last heartbeat ` +
        `${Math.max(0, Math.round((Date.now() - first.last_seen) / 1000))} s ago. Stop it ` +
        `first, or start this one with another --host (a heartbeat older than ` +
        `${Math.round(this.#staleMs / 1000)} s, or silent for ${SILENT_BEATS} heartbeat ` +
        `intervals, no longer blocks).`,
    );
  }
}

function machineName(): string {
  try {
    return Deno.hostname();
  } catch {
    return "unknown";
  }
}
