/**
 * The heartbeat of an admin host in `agent_state`: version, pid, last seen, number of children,
 * free/total instances. `riskguard status` shows it; a second admin started with the same
 * `--host` finds a fresh heartbeat of another run and refuses to start (exit 2 naming the
 * first). A clean shutdown marks the heartbeat stopped, so a restart right after is allowed.
 *
 * @module
 */
import { ConfigError } from "../shared/errors.ts";
import { VERSION } from "../shared/version.ts";
import type { AgentHeartbeat, Store } from "../store/mod.ts";
import { isProcessAlive } from "./control.ts";

/** What changes between beats. */
export interface BeatFigures {
  /** Children supervised. */
  children: number;
  /** FREE instances of the host. */
  instancesFree: number;
  /** All instances of the host. */
  instancesTotal: number;
}

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
   * Writes a beat.
   *
   * @throws {ConfigError} (exit code 2) when another admin of this host beat within the stale
   * threshold; its message names that admin.
   */
  async beat(now: number, figures: BeatFigures, stopped = false): Promise<void> {
    const beat: AgentHeartbeat = {
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
    let result = await this.#store.beatAgent(beat, { staleAfterMs: this.#staleMs });
    if (!result.ok && await this.#isDeadLocalRun(result.holder)) {
      // An admin of this machine that was killed (kill -9, crash): its heartbeat is not stale
      // yet, but its process is gone, so a restart must not wait for the stale threshold.
      result = await this.#store.beatAgent(beat, {
        staleAfterMs: this.#staleMs,
        replaceRunId: result.holder.run_id,
      });
    }
    if (!result.ok) {
      const first = result.holder;
      throw new ConfigError(
        `Another admin already runs for host ${this.#host}: pid ${first.pid} on machine ` +
          `${first.machine}, version ${first.version}, last heartbeat ` +
          `${Math.max(0, Math.round((now - first.last_seen) / 1000))} s ago. Stop it first, ` +
          `or start this one with another --host (a heartbeat older than ` +
          `${Math.round(this.#staleMs / 1000)} s no longer blocks).`,
      );
    }
  }

  async #isDeadLocalRun(holder: AgentHeartbeat): Promise<boolean> {
    if (holder.machine !== machineName() || holder.pid === Deno.pid) return false;
    return !await isProcessAlive(holder.pid);
  }
}

function machineName(): string {
  try {
    return Deno.hostname();
  } catch {
    return "unknown";
  }
}
