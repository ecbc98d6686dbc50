/**
 * `riskguard --mode admin`: one per VPS. Wires the watcher, the scheduler, the supervisor, the
 * reaper, the heartbeat and the periodic table around one store, and shuts them down in order:
 * children stop gracefully (their writes flushed, leases released; positions are never closed
 * and accounts never unlocked), then the heartbeat is marked stopped.
 *
 * @module
 */
import { abortableSleep } from "../shared/async.ts";
import { type Clock, systemClock } from "../shared/clock.ts";
import { describeError, RiskGuardError } from "../shared/errors.ts";
import { type Logger, logger } from "../shared/logging.ts";
import type { Spawner } from "../shared/process.ts";
import type { CommandLine } from "../shared/self_command.ts";
import { DEFAULT_SAMPLE_RETENTION_MS, type ElementChange, type Store } from "../store/mod.ts";
import { DEFAULT_MAX_RETRY_MS } from "../risk/write_queue.ts";
import { exponentialBackoff } from "../shared/backoff.ts";
import type { ControlDir } from "../shared/control_dir.ts";
import { type BeatFigures, Heartbeat } from "./heartbeat.ts";
import { type AdminTiming, DEFAULT_ADMIN_TIMING } from "./options.ts";
import { Reaper } from "./reaper.ts";
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
  /** How often the children ping, ms (`--ping-interval`; the reaper's settling time is two). */
  pingMs: number;
  /** Timings (defaults {@link DEFAULT_ADMIN_TIMING}). */
  timing?: Partial<AdminTiming>;
  /** Builds "this program" with arguments (tests and benchmarks). */
  command?: (args: readonly string[]) => CommandLine;
  /** Starts processes. */
  spawn?: Spawner;
  /** Equity samples older than this are pruned at every reaper round (default 30 days). */
  sampleRetentionMs?: number;
  /**
   * Told every change of admin's element feed (the store channel serving the children's feeds
   * from it, so that a VPS holds one change stream).
   */
  onElementChange?: (change: ElementChange) => void;
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
  await options.control.ensure();
  const heartbeat = new Heartbeat(store, host, options.staleMs, clock.now());
  const figures = async (children: number): Promise<BeatFigures> => ({
    children,
    ...(await instanceCounts(store, host)),
  });
  const started = await retryStore(
    log,
    options.signal,
    "start",
    () =>
      heartbeat.start(() => figures(0), {
        intervalMs: timing.heartbeatMs,
        signal: options.signal,
        log,
        clock,
      }),
  );
  if (started !== true) return;
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
    reclaim: (id, kept) => scheduler.reclaim(id, stop.signal, kept),
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
    ...(options.onElementChange === undefined ? {} : { onChange: options.onElementChange }),
  });
  const reaper = new Reaper(
    {
      store,
      host,
      staleMs: options.staleMs,
      supervisor,
      scheduler,
      log: logger("admin", "reaper"),
      clock,
    },
    2 * options.pingMs,
    2 * options.pingMs + DEFAULT_MAX_RETRY_MS,
  );
  const leftAlone = new Set<string>();
  const orphans = () => adoptOrphans(options, { supervisor, scheduler, log, clock, leftAlone });

  await orphans().catch((error) =>
    log.warn("could not look for running children to adopt: {error}", {
      error: describeError(error),
    })
  );

  const table = async () => {
    const [elements, instances] = await Promise.all([
      store.listElements(),
      store.listInstances({ host }),
    ]);
    log.info("elements of host {host}:\n{table}", {
      host,
      table: renderHostTable(elements, instances, host, new Set(scheduler.waiting), clock.now()),
    });
    // Where admin's own memory is, beside its children's count (issue 16: admin <= 100 MB).
    const memory = Deno.memoryUsage();
    const mb = (bytes: number) => (bytes / 1_048_576).toFixed(1);
    log.info(
      "admin memory: rss {rss} MB, heap {heapUsed} of {heapTotal} MB, external {external} MB " +
        "({children} children)",
      {
        rss: mb(memory.rss),
        heapUsed: mb(memory.heapUsed),
        heapTotal: mb(memory.heapTotal),
        external: mb(memory.external),
        children: supervisor.size,
      },
    );
  };

  const loops = [
    watcher.run(stop.signal),
    scheduler.run(stop.signal),
    every(timing.sweepMs, stop.signal, log, "sweep", async () => {
      await scheduler.checkInstances();
      await orphans();
      await watcher.sweep();
    }, false),
    every(timing.reapMs, stop.signal, log, "reaper", () => reaper.round(), true),
    every(timing.reapMs, stop.signal, log, "samples", async () => {
      // Retention of the dashboard's equity history: MongoDB's TTL index does it where the
      // server has one; this prune is the rule everywhere else (and for other retentions).
      const retention = options.sampleRetentionMs ?? DEFAULT_SAMPLE_RETENTION_MS;
      const pruned = await store.pruneSamples(clock.now() - retention);
      if (pruned > 0) log.debug("pruned {count} equity sample(s)", { count: pruned });
    }, true),
    every(timing.tableMs, stop.signal, log, "table", table, true),
    every(timing.heartbeatMs, stop.signal, log, "heartbeat", async () => {
      try {
        await heartbeat.beat(clock.now(), await figures(supervisor.size));
        reaper.storeWorks();
      } catch (error) {
        if (error instanceof RiskGuardError && error.code === "CONFIG_INVALID") {
          // Another admin took this host over while this one could not beat: two must not run.
          fatal = error;
          stop.abort();
          return;
        }
        reaper.storeFailed();
        throw error;
      }
    }, false),
  ];

  if (!stop.signal.aborted) {
    await new Promise((resolve) => stop.signal.addEventListener("abort", resolve, { once: true }));
  }
  options.signal.removeEventListener("abort", onAbort);
  log.info("admin stopping: asking {count} risk process(es) to finish", {
    count: supervisor.size,
  });
  await supervisor.stopAll("admin shutting down");
  await Promise.all(loops);
  // A claim that was in flight met a closed supervisor: its lease is released, nothing started.
  await supervisor.drain();
  if (fatal === undefined) {
    await heartbeat.beat(clock.now(), await figures(0), true).catch((error) =>
      log.warn("could not mark the heartbeat stopped: {error}", { error: describeError(error) })
    );
  }
  log.info("admin stopped");
  if (fatal !== undefined) throw fatal;
}

/**
 * Runs `body` until it does not fail with `STORE_UNAVAILABLE`, waiting 1 s doubling to 30 s
 * between tries and logging each failure; `undefined` when `signal` aborts first. A store that
 * is down when admin starts (a reboot before the network, an Atlas failover) delays admin
 * instead of ending it: nothing would start it again.
 */
export async function retryStore<T>(
  log: Logger,
  signal: AbortSignal,
  what: string,
  body: () => Promise<T>,
): Promise<T | undefined> {
  for (let attempt = 0; !signal.aborted; attempt++) {
    try {
      return await body();
    } catch (error) {
      if (!(error instanceof RiskGuardError && error.code === "STORE_UNAVAILABLE")) throw error;
      const delay = exponentialBackoff(attempt, { baseMs: 1_000, maxMs: 30_000 });
      log.warn("store unreachable at {what} ({error}); retrying in {seconds} s", {
        what,
        error: describeError(error),
        seconds: Math.round(delay / 1000),
      });
      await abortableSleep(delay, signal);
    }
  }
  return undefined;
}

/**
 * Finds the elements held on this host that no slot of this admin supervises (at start: the
 * children an earlier admin left; later: anything a missed event or a race left over) and
 * settles each by its control record:
 *
 * - the recorded child holds its life lock: it runs, it is ours: adopted;
 * - a record is left but nobody holds the lock: that child is provably gone, so its lease is
 *   released at once (fenced by the element's own lease) and the element is scheduled again,
 *   without waiting for the stale threshold;
 * - no record: a process admin did not start (someone ran `--mode risk` by hand) holds it; left
 *   alone, the reaper frees it once its ping is stale.
 */
async function adoptOrphans(
  options: AdminOptions,
  parts: {
    supervisor: Supervisor;
    scheduler: Scheduler;
    log: Logger;
    clock: Clock;
    /** Elements already logged as left alone (logged once, not at every sweep). */
    leftAlone: Set<string>;
  },
): Promise<void> {
  const { store, host, control } = options;
  const { supervisor, scheduler, log, clock, leftAlone } = parts;
  const [elements, instances] = await Promise.all([
    store.listElements({ host }),
    store.listInstances({ host }),
  ]);
  const paths = new Map(instances.map((instance) => [instance._id, instance.path]));
  for (const parsed of elements) {
    if (!parsed.valid) continue;
    const e = parsed.element;
    if (e.instance_id === null || e.host !== host) continue;
    if (supervisor.has(e._id) || scheduler.claiming(e._id)) continue;
    const probe = await control.probe(e._id);
    // Checked again after the await: a claim of this admin may have started it meanwhile.
    if (supervisor.has(e._id) || scheduler.claiming(e._id)) continue;
    const lease = { element_id: e._id, instance_id: e.instance_id, lease: e.lease };
    if (probe.state === "alive") {
      supervisor.adopt({
        elementId: e._id,
        login: e.login,
        lease: { ...lease, path: paths.get(e.instance_id) ?? "" },
      }, probe.record);
    } else if (probe.state === "dead" && probe.record.instance_id === e.instance_id) {
      log.warn(
        "the risk process of element {id} (pid {pid}) is gone; releasing its lease {lease} " +
          "now and scheduling it again",
        { id: e._id, pid: probe.record.pid, lease: e.lease },
      );
      try {
        await store.release(lease, { status: "INACTIVE", now: clock.now() });
        await store.appendEvent({
          element_id: e._id,
          type: "lifecycle",
          message: `admin released the lease of its risk process (pid ${probe.record.pid}), ` +
            `which is gone`,
          detail: { pid: probe.record.pid, lease: e.lease },
          host,
        });
      } catch (error) {
        // Taken over meanwhile (LEASE_LOST): nothing of ours to release.
        if (!(error instanceof RiskGuardError && error.code === "LEASE_LOST")) throw error;
      }
      await control.removeChild(e._id, probe.record.pid);
      const now = await store.getElement(e._id);
      if (now !== null) scheduler.consider(now);
    } else if (!leftAlone.has(e._id)) {
      leftAlone.add(e._id);
      log.warn(
        "element {id} is held on this host by a process admin did not start (no control " +
          "record of it); left alone until its ping is stale",
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
