/**
 * The demo's world: a temporary folder with an embedded SQLite store, its log file and admin's
 * control folder; then, one at a time, a simulated terminal (instance) and its account (element).
 *
 * Admin claims the lowest-port FREE instance for an account, so the demo adds each account
 * only when the previous one has been claimed: with one FREE terminal at a time, every account
 * gets the terminal of its own scenario, exactly as accounts are added to a running admin.
 *
 * @module
 */
import { join } from "node:path";
import { abortableSleep } from "../shared/async.ts";
import { freePortPair } from "../shared/net.ts";
import type { Store } from "../store/mod.ts";
import { type DemoAccountPlan, simInstancePath } from "./accounts.ts";

/** Where the demo keeps its files; the folder stays after the demo for a look at them. */
export interface DemoPaths {
  /** The temporary folder. */
  dir: string;
  /** The SQLite store file. */
  db: string;
  /** The store as `--store` takes it. */
  storeUri: string;
  /** Admin's log file (JSON lines; the risk processes' lines are relayed into it). */
  logFile: string;
  /** Admin's control folder (child records, stop requests). */
  controlDir: string;
}

/** Creates the demo's temporary folder and names its files. */
export async function createDemoFolder(): Promise<DemoPaths> {
  const dir = await Deno.makeTempDir({ prefix: "riskguard-demo-" });
  const db = join(dir, "demo.db");
  return {
    dir,
    db,
    storeUri: `sqlite:${db}`,
    logFile: join(dir, "riskguard.log"),
    controlDir: join(dir, "control"),
  };
}

/** An account the demo added. */
export interface DemoAccount {
  /** Its plan (scenario, login, seed, settings). */
  plan: DemoAccountPlan;
  /** The element id. */
  id: string;
  /** The instance made for it. */
  instanceId: string;
  /** That instance's path, `sim:<scenario>?seed=N&speed=X`. */
  instancePath: string;
}

/**
 * Registers the plan's simulated terminal on `host` and inserts its account.
 *
 * @throws {Error} when the store refuses the account (a bug in the plan: it names the field).
 */
export async function addDemoAccount(
  store: Store,
  plan: DemoAccountPlan,
  options: { host: string; speed: number },
): Promise<DemoAccount> {
  const path = simInstancePath(plan, options.speed);
  // Ports free right now, so the demo runs beside anything that holds the default ones.
  const instance = await store.addInstance({ path, host: options.host, port: freePortPair() });
  const inserted = await store.insertElement(plan.element);
  if (!inserted.ok) {
    throw new Error(`demo account ${plan.login} refused: ${inserted.field} ${inserted.reason}`);
  }
  return { plan, id: inserted.element.id, instanceId: instance._id, instancePath: path };
}

/**
 * Waits until admin has claimed the account's own instance.
 *
 * @throws {Error} when `timeoutMs` passes first, or the account got another instance.
 */
export async function waitClaimed(
  store: Store,
  account: DemoAccount,
  options: { signal: AbortSignal; timeoutMs?: number; pollMs?: number },
): Promise<void> {
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  while (!options.signal.aborted) {
    const parsed = await store.getElement(account.id);
    const instanceId = parsed?.valid ? parsed.element.instance_id : null;
    if (instanceId === account.instanceId) return;
    if (instanceId !== null) {
      throw new Error(
        `demo account ${account.plan.login} was given instance ${instanceId}, not its own ` +
          `${account.instanceId} (${account.instancePath})`,
      );
    }
    if (Date.now() > deadline) {
      throw new Error(
        `admin did not claim a terminal for demo account ${account.plan.login} within ` +
          `${Math.round((options.timeoutMs ?? 30_000) / 1000)} s`,
      );
    }
    await abortableSleep(options.pollMs ?? 100, options.signal);
  }
}
