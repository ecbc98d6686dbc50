/**
 * `riskguard demo`: admin guarding simulated accounts, live, through the production path.
 *
 * 1. A temporary folder with a SQLite store, admin's log file and control folder.
 * 2. `riskguard --mode admin` started as a child process on that store.
 * 3. One account at a time: a `sim:<scenario>?seed=N&speed=X` terminal and its element; admin
 *    claims the terminal and starts the account's risk process.
 * 4. Every second the store is read (elements and events, as `status` and the dashboard read
 *    them) and shown: a full-screen view on a terminal, plain lines otherwise.
 * 5. On Ctrl+C or after `--duration`: admin is stopped (and with it every risk process), then
 *    a summary per account, where the store and the logs are, and the command that runs the
 *    same admin against MongoDB.
 *
 * @module
 */
import { openStore, type Store } from "../store/mod.ts";
import { abortableSleep } from "../shared/async.ts";
import {
  type DashboardServer,
  DEFAULT_DASHBOARD_LISTEN,
  serveDashboard,
} from "../dashboard/mod.ts";
import { planAccounts } from "./accounts.ts";
import { type AdminRun, startAdmin } from "./admin_process.ts";
import type { DemoOptions } from "./options.ts";
import { eventText, TABLE_EVERY_S, tableText } from "./plain.ts";
import { terminalSize, TtyScreen } from "./screen.ts";
import {
  addDemoAccount,
  createDemoFolder,
  type DemoAccount,
  type DemoPaths,
  waitClaimed,
} from "./setup.ts";
import { EventFeed, type EventLine, type FleetState, readAccounts } from "./state.ts";
import { summarizeAccount, summaryText } from "./summary.ts";
import { renderFrame } from "./view.ts";

/** What {@link runDemo} needs from its caller. */
export interface DemoIo {
  /** Writes to standard output. */
  stdout(text: string): void;
  /** Aborts on Ctrl+C (the demo then ends with its summary). */
  stopSignal: AbortSignal;
  /** True when stdout is a terminal: the live view; otherwise plain lines. */
  tty: boolean;
  /** Colours on the terminal (off with `NO_COLOR`). */
  color: boolean;
}

/** Runs the demo until Ctrl+C or the duration; resolves after the summary is printed. */
export async function runDemo(
  io: DemoIo,
  options: DemoOptions,
  host: string,
): Promise<void> {
  const paths = await createDemoFolder();
  const store = await openStore(paths.storeUri);
  const startedAt = Date.now();
  const stops = [io.stopSignal];
  if (options.durationS !== undefined) stops.push(AbortSignal.timeout(options.durationS * 1_000));
  const stop = AbortSignal.any(stops);
  const screen = io.tty ? new TtyScreen(io.stdout) : undefined;
  let admin: AdminRun | undefined;
  // Set once the demo stops admin itself: its exit is then expected.
  let stopping = false;
  // A second Ctrl+C ends this process at once (Deno.exit): the terminal is still restored, and
  // admin, in a session of its own, is still asked to stop (it then stops its risk processes).
  const restore = () => {
    screen?.close();
    if (admin !== undefined && !stopping) admin.interrupt();
  };
  globalThis.addEventListener("unload", restore);
  // Filled as admin claims each account; the feed follows the same array.
  const accounts: DemoAccount[] = [];
  const feed = new EventFeed(store, accounts);
  let failure: Error | undefined;
  let phase: FleetState["phase"] = "starting";
  // The web dashboard on the same store, for the browser next to the terminal.
  const dashboardStop = new AbortController();
  let dashboard: DashboardServer | undefined;
  const state = async (): Promise<FleetState> => ({
    now: Date.now(),
    startedAt,
    durationS: options.durationS,
    host,
    phase,
    accounts: await readAccounts(store, accounts, feed),
    recent: feed.recent,
    storePath: paths.db,
    logPath: paths.logFile,
    ...(dashboard === undefined ? {} : { dashboardUrl: dashboard.url }),
  });
  const show = createShow(io, screen);
  // Ends the run early when admin exits on its own (it should not).
  const halt = new AbortController();
  const running = AbortSignal.any([stop, halt.signal]);
  try {
    dashboard = await startDashboard(store, dashboardStop.signal);
    if (screen === undefined) {
      io.stdout(introText(options, host, paths, dashboard?.url).join("\n") + "\n");
    }
    screen?.open();
    const started = startAdmin(paths, host);
    admin = started;
    void started.exited.then((code) => {
      if (running.aborted || stopping) return;
      failure ??= adminFailure(code, started.tail());
      halt.abort();
    });
    for (const plan of planAccounts(options.accounts, options.seed)) {
      if (running.aborted) break;
      const account = await addDemoAccount(store, plan, { host, speed: options.speed });
      accounts.push(account);
      await waitClaimed(store, account, { signal: running });
      await show(await state(), await feed.poll());
    }
    phase = "running";
    while (!running.aborted) {
      const fresh = await feed.poll();
      await show(await state(), fresh);
      await abortableSleep(1_000, running);
    }
    phase = "stopping";
    if (screen !== undefined) screen.draw(renderFrame(await state(), frameOptions(io)));
    else io.stdout("stopping admin and its risk processes...\n");
  } catch (error) {
    failure ??= error as Error;
  } finally {
    stopping = true;
    await admin?.stop(accounts.map((account) => account.id));
    dashboardStop.abort();
    await dashboard?.finished;
    screen?.close();
    globalThis.removeEventListener("unload", restore);
  }
  try {
    // What happened after the last frame (the stop) is part of the story too.
    const fresh = await feed.poll();
    if (screen === undefined) { for (const event of fresh) io.stdout(`${eventText(event)}\n`); }
    io.stdout(`\n${(await summaryLines(store, accounts, options, host, paths)).join("\n")}\n`);
  } finally {
    await store.close();
  }
  if (failure !== undefined) throw failure;
}

function adminFailure(code: number, tail: string[]): Error {
  const last = tail.slice(-8).map((line) => `  ${line}`).join("\n");
  return new Error(`admin exited with code ${code} before the demo ended:\n${last}`);
}

function frameOptions(io: DemoIo): { width: number; height: number; color: boolean } {
  const size = terminalSize();
  // Never narrower than the title needs; 80 columns is the layout's width.
  return { width: Math.max(40, Math.min(80, size.columns)), height: size.rows, color: io.color };
}

/** Draws a frame on the terminal, or prints new events (and the table every 10 s). */
function createShow(
  io: DemoIo,
  screen: TtyScreen | undefined,
): (state: FleetState, fresh: readonly EventLine[]) => Promise<void> {
  let lastTable = 0;
  return (state, fresh) => {
    if (screen !== undefined) {
      screen.draw(renderFrame(state, frameOptions(io)));
      return Promise.resolve();
    }
    for (const event of fresh) io.stdout(`${eventText(event)}\n`);
    if (state.phase === "running" && state.now - lastTable >= TABLE_EVERY_S * 1_000) {
      lastTable = state.now;
      io.stdout(`${tableText(state).join("\n")}\n`);
    }
    return Promise.resolve();
  };
}

function introText(
  options: DemoOptions,
  host: string,
  paths: DemoPaths,
  dashboardUrl: string | undefined,
): string[] {
  const until = options.durationS === undefined ? "until Ctrl+C" : `for ${options.durationS} s`;
  return [
    `riskguard demo: admin (host ${host}) guards ${options.accounts} simulated accounts ${until}`,
    `seed ${options.seed}, speed ${options.speed}; store ${paths.db}`,
    ...(dashboardUrl === undefined ? [] : [`dashboard: open ${dashboardUrl} in a browser`]),
  ];
}

/**
 * Serves the dashboard on 127.0.0.1:8787, or on a free port when that one is taken; the demo goes
 * on without it (and says nothing) when it cannot listen at all.
 */
async function startDashboard(
  store: Store,
  signal: AbortSignal,
): Promise<DashboardServer | undefined> {
  for (const listen of [DEFAULT_DASHBOARD_LISTEN, "127.0.0.1:0"]) {
    try {
      return await serveDashboard({ store, listen, signal });
    } catch {
      // Taken: try the next address.
    }
  }
  return undefined;
}

async function summaryLines(
  store: Store,
  accounts: readonly DemoAccount[],
  options: DemoOptions,
  host: string,
  paths: DemoPaths,
): Promise<string[]> {
  const lines = [`Summary (seed ${options.seed}, speed ${options.speed})`];
  for (const account of accounts) {
    const parsed = await store.getElement(account.id);
    const events = await store.listEvents(account.id, { limit: 100_000 });
    lines.push(
      ...summaryText(summarizeAccount(account, parsed?.valid ? parsed.element : null, events)),
    );
  }
  lines.push(
    "",
    `Store: ${paths.db} (riskguard status --store ${paths.storeUri})`,
    `Logs:  ${paths.logFile}`,
    `The same admin against MongoDB: riskguard --mode admin --store mongodb://127.0.0.1:27017 ` +
      `--host ${host}`,
  );
  return lines;
}
