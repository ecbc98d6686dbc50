/**
 * Runs the real risk process (SQLite store, bridge over loopback ZMTP) against a
 * {@link ScriptedEa} the test drives, and collects its events and status lines.
 *
 * @module
 */
import {
  type RiskEvent,
  type RiskRunOptions,
  type RiskStatus,
  runRisk,
} from "../../src/risk/mod.ts";
import { freePortPair } from "../../src/shared/net.ts";
import { openStore, type Store } from "../../src/store/mod.ts";
import {
  ackAll,
  type AckPolicy,
  SCRIPTED_LOGIN,
  type ScriptedEa,
  scriptedTerminal,
} from "../support/scripted_ea.ts";

/** A store with one instance and one element for the scripted EA. */
export interface ScriptedAccount {
  store: Store;
  elementId: string;
  instanceId: string;
  /** Closes the store and removes its folder. */
  cleanup(): Promise<void>;
}

/** Creates the store, the instance and the element (`fields` besides server/login/password). */
export async function scriptedAccount(fields: Record<string, unknown>): Promise<ScriptedAccount> {
  const dir = await Deno.makeTempDir({ prefix: "riskguard-scripted-" });
  const store = await openStore(`sqlite:${dir}/risk.db`);
  const instance = await store.addInstance({
    path: "scripted",
    host: "test-host",
    port: freePortPair(),
  });
  const inserted = await store.insertElement({
    server: "Scripted",
    login: SCRIPTED_LOGIN,
    password: "scripted",
    ...fields,
  });
  if (!inserted.ok) throw new Error(`test element refused: ${inserted.field} ${inserted.reason}`);
  return {
    store,
    elementId: inserted.element.id,
    instanceId: instance._id,
    cleanup: async () => {
      await store.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/** A running risk process with its scripted EA. */
export interface ScriptedRun {
  /** The EA of the current terminal (set once the process launched it). */
  ea: () => ScriptedEa;
  events: RiskEvent[];
  statuses: RiskStatus[];
  /** Stops the process gracefully (as admin does) and resolves with its error, if any. */
  stop(): Promise<unknown>;
}

/** Starts a risk process on `account`; resolves once its EA said hello. */
export async function startScripted(
  account: ScriptedAccount,
  options: { ackPolicy?: AckPolicy; risk?: Partial<RiskRunOptions> } = {},
): Promise<ScriptedRun> {
  const events: RiskEvent[] = [];
  const statuses: RiskStatus[] = [];
  const controller = new AbortController();
  let current: ScriptedEa | undefined;
  let launched: () => void = () => {};
  const ready = new Promise<void>((resolve) => launched = resolve);
  const done = runRisk({
    store: account.store,
    elementId: account.elementId,
    host: "test-host",
    instanceId: account.instanceId,
    signal: controller.signal,
    launchTerminal: scriptedTerminal((ea) => {
      current = ea;
      launched();
    }, options.ackPolicy ?? ackAll),
    ...options.risk,
    timing: {
      pingIntervalMs: 500,
      feedRetryMs: 200,
      snapshotAlarmMs: 60_000,
      terminalRestartMs: 120_000,
      ...options.risk?.timing,
    },
    onEvent: (event) => events.push(event),
    onStatus: (status) => statuses.push(status),
  }).then(() => undefined, (error) => error);
  await Promise.race([ready, done]);
  if (current === undefined) throw new Error(`risk process did not start: ${await done}`);
  await current.hello();
  await waitFor(() => events.some((e) => e.message === "EA connected"), "the EA to connect");
  return {
    ea: () => current!,
    events,
    statuses,
    stop: async () => {
      controller.abort();
      return await done;
    },
  };
}

/** Locks the element as an earlier process would have, then unlocks it as a person does. */
export async function unlockedWhileStopped(account: ScriptedAccount): Promise<void> {
  const lease = await account.store.takeLease(account.elementId, account.instanceId, {
    host: "test-host",
    now: Date.now(),
    staleAfterMs: 1_000,
  });
  await account.store.updateElement(lease, { trading: "LOCKED", lock_reason: "dd" }, Date.now());
  await account.store.release(lease);
  const unlocked = await account.store.configureElement(account.elementId, {
    trading: "ALLOWED",
  });
  if (!unlocked.ok) throw new Error(`unlock refused: ${JSON.stringify(unlocked)}`);
}

/** Resolves once `condition` holds; throws naming `what` after `timeoutMs`. */
export async function waitFor(
  condition: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 5_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Resolves after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
