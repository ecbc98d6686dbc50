/**
 * `riskguard --mode admin`: one per VPS. Wires the watcher, the scheduler, the supervisor, the
 * reaper, the heartbeat and the periodic table around one store, and shuts them down in order:
 * children stop gracefully (their writes flushed, leases released; positions are never closed
 * and accounts never unlocked), then the heartbeat is marked stopped.
 *
 * @module
 */
import type { Logger } from "@logtape/logtape";
import { abortableSleep } from "../shared/async.ts";
import { type Clock, systemClock } from "../shared/clock.ts";
import { describeError, RiskGuardError } from "../shared/errors.ts";
import { logger } from "../shared/logging.ts";
import type { Spawner } from "../shared/process.ts";
import type { CommandLine } from "../shared/self_command.ts";
import type { Store } from "../store/mod.ts";
import { type ControlDir, isProcessAlive } from "./control.ts";
import { Heartbeat } from "./heartbeat.ts";
import { type AdminTiming, DEFAULT_ADMIN_TIMING } from "./options.ts";
import { reapOnce } from "./reaper.ts";
import { Scheduler } from "./scheduler.ts";
import { Supervisor } from "./supervisor.ts";
import { renderHostTable } from "./table.ts";
import { Watcher } from "./watcher.ts";

/** Options of {@link runAdmin}. */
export interface AdminOptions {
  /** The store. */
  store: Store;
  /** This VPS's name: admin manages only instances whose `host` is this. */
  host: string;
  /** Stops admin (and its children, gracefully) when aborted. */
  signal: AbortSignal;
  /** The children's whole environment: store, db, host, secret key, log and timing settings. */
  childEnv: Record<string, string>;
  /** The control folder shared with the children (stop requests, child records). */
  control: ControlDir;
  /** A lease without a ping for this long is stale, ms (`--stale-after`). */
  staleMs: number;
  /** Timings (defaults {@link DEFAULT_ADMIN_TIMING}). */
  timing?: Partial<AdminTiming>;
  /** Builds "this program" with arguments (tests and benchmarks). */
  command?: (args: readonly string[]) => CommandLine;
  /** Starts processes. */
  spawn?: Spawner;
  /** Time source. */
  clock?: Clock;
}

/**
 * Runs admin until `signal` aborts, then stops every child and resolves.
 *
 * @throws {ConfigError} (exit 2) when another admin of this host has a fresh heartbeat.
 */
export async function runAdmin(options: AdminOptions): Promise<void> {
  const timing: AdminTiming = { ...DEFAULT_ADMIN_TIMING, ...options.timing };
  const clock = options.clock ?? systemClock;
  const log = logger("admin");
  const { store, host } = options;
  const heartbeat = new Heartbeat(store, host, options.staleMs, clock.now());
  await heartbeat.beat(clock.now(), { children: 0, ...(await instanceCounts(store, host)) });
  await options.control.ensure();
  log.info("admin started for host {host} on {store} (control folder {control})", {
    host,
    store: store.description,
    control: options.control.path,
  });

  const stop = new AbortController();
  const onAbort = () => stop.abort();
  options.signal.addEventListener("abort", onAbort, { once: true });
  if (options.signal.aborted) stop.abort();
  let fatal: unknown;

  const supervisor: Supervisor = new Supervisor({
    store,
    host,
    control: options.control,
    env: options.childEnv,
    timing,
    log: logger("admin", "child"),
    reclaim: (id) => scheduler.reclaim(id, stop.signal),
    onSlotEnd: (id) => {
      if (stop.signal.aborted) return;
      void store.getElement(id).then((parsed) => {
        if (parsed !== null && !stop.signal.aborted) scheduler.consider(parsed);
      }).catch(() => {});
      scheduler.poke();
    },
    ...(options.command === undefined ? {} : { command: options.command }),
    ...(options.spawn === undefined ? {} : { spawn: options.spawn }),
    clock,
  });
  const scheduler: Scheduler = new Scheduler({
    store,
    host,
    supervisor,
    log: logger("admin", "scheduler"),
    waitPollMs: timing.waitPollMs,
    clock,
  });
  const watcher = new Watcher({
    store,
    host,
    scheduler,
    supervisor,
    log: logger("admin", "watcher"),
    retryMs: timing.waitPollMs,
  });

  await adoptChildren(options, supervisor, log, clock).catch((error) =>
    log.warn("could not look for running children to adopt: {error}", {
      error: describeError(error),
    })
  );

  const beat = async () => {
    await heartbeat.beat(clock.now(), {
      children: supervisor.size,
      ...(await instanceCounts(store, host)),
    });
  };
  const table = async () => {
    const [elements, instances] = await Promise.all([
      store.listElements(),
      store.listInstances({ host }),
    ]);
    log.info("elements of host {host}:\n{table}", {
      host,
      table: renderHostTable(elements, instances, host, new Set(scheduler.waiting), clock.now()),
    });
  };
  const reap = () =>
    reapOnce({
      store,
      host,
      staleMs: options.staleMs,
      supervisor,
      scheduler,
      log: logger("admin", "reaper"),
      clock,
    });

  const loops = [
    watcher.run(stop.signal),
    scheduler.run(stop.signal),
    every(timing.sweepMs, stop.signal, log, "sweep", async () => {
      await scheduler.checkInstances();
      await watcher.sweep();
    }, false),
    every(timing.reapMs, stop.signal, log, "reaper", reap, true),
    every(timing.tableMs, stop.signal, log, "table", table, true),
    every(timing.heartbeatMs, stop.signal, log, "heartbeat", async () => {
      try {
        await beat();
      } catch (error) {
        if (error instanceof RiskGuardError && error.code === "CONFIG_INVALID") {
          // Another admin took this host over while this one could not beat: two must not run.
          fatal = error;
          stop.abort();
          return;
        }
        throw error;
      }
    }, false),
  ];

  await new Promise<void>((resolve) => {
    if (stop.signal.aborted) resolve();
    stop.signal.addEventListener("abort", () => resolve(), { once: true });
  });
  options.signal.removeEventListener("abort", onAbort);
  log.info("admin stopping: asking {count} risk process(es) to finish", {
    count: supervisor.size,
  });
  await supervisor.stopAll("admin shutting down");
  await Promise.all(loops);
  if (fatal === undefined) {
    await heartbeat.beat(clock.now(), {
      children: 0,
      ...(await instanceCounts(store, host)),
    }, true).catch((error) =>
      log.warn("could not mark the heartbeat stopped: {error}", { error: describeError(error) })
    );
  }
  log.info("admin stopped");
  if (fatal !== undefined) throw fatal;
}

/**
 * Adopts the children an earlier admin left running: elements held on this host with a fresh
 * ping whose child record names a live process. A held element without such a process is left
 * alone (a person may run it by hand); the reaper frees it once its ping is stale.
 */
async function adoptChildren(
  options: AdminOptions,
  supervisor: Supervisor,
  log: Logger,
  clock: Clock,
): Promise<void> {
  const now = clock.now();
  const [elements, instances] = await Promise.all([
    options.store.listElements({ host: options.host }),
    options.store.listInstances({ host: options.host }),
  ]);
  const paths = new Map(instances.map((instance) => [instance._id, instance.path]));
  for (const parsed of elements) {
    if (!parsed.valid) continue;
    const e = parsed.element;
    if (e.instance_id === null) continue;
    const fresh = e.last_ping !== null && now - e.last_ping < options.staleMs;
    const record = await options.control.readChild(e._id);
    if (fresh && record !== null && await isProcessAlive(record.pid)) {
      supervisor.adopt({
        elementId: e._id,
        login: e.login,
        lease: {
          element_id: e._id,
          instance_id: e.instance_id,
          lease: e.lease,
          path: paths.get(e.instance_id) ?? "",
        },
      }, record);
    } else if (fresh) {
      log.warn(
        "element {id} is held on this host by a process admin did not start; left alone " +
          "until its ping is stale",
        { id: e._id },
      );
    }
  }
}

async function instanceCounts(
  store: Store,
  host: string,
): Promise<{ instancesFree: number; instancesTotal: number }> {
  const instances = await store.listInstances({ host });
  return {
    instancesFree: instances.filter((instance) => instance.status === "FREE").length,
    instancesTotal: instances.length,
  };
}

/** Runs `body` every `ms` (first at once when `now`), logging failures, until `signal`. */
async function every(
  ms: number,
  signal: AbortSignal,
  log: Logger,
  name: string,
  body: () => Promise<unknown>,
  now: boolean,
): Promise<void> {
  let failing = false;
  if (!now) await abortableSleep(ms, signal);
  while (!signal.aborted) {
    try {
      await body();
      if (failing) log.info("{name} works again", { name });
      failing = false;
    } catch (error) {
      if (!failing) {
        log.warn("{name} paused (children keep guarding): {error}", {
          name,
          error: describeError(error),
        });
      }
      failing = true;
    }
    await abortableSleep(ms, signal);
  }
}
