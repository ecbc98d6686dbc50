/**
 * One end-to-end world for the e2e suite and the admin drills: a store of one adapter (SQLite file or a database on the
 * MongoDB test server), a real `riskguard --mode admin` process for one host, and simulator
 * accounts whose instances carry `sim:` pathways with truth logs, so admin's risk children run
 * the simulator as the oracle needs it.
 *
 * @module
 */
import type { Element } from "../../src/store/mod.ts";
import type { ScenarioName } from "../../src/mt5/sim/scenarios.ts";
import type { Adapter, Fixture } from "../store/_harness.ts";
import {
  type AdminProcess,
  childPid,
  element,
  startAdmin,
  stopAdmin,
  tempDir,
} from "../admin/_harness.ts";
import {
  addDrillAccount,
  type DrillAccount,
  type DrillAccountOptions,
  verdictOf,
  waitFor,
} from "./risk_process.ts";
import type { AccountVerdict, OracleSettings } from "./oracle.ts";

/** A world: store, admin and accounts. */
export interface World {
  name: string;
  fixture: Fixture;
  host: string;
  controlDir: string;
  /** Truth logs and other files. */
  dir: string;
  admin: AdminProcess;
  /** Adds an account (element + `sim:` instance on this host) that admin then guards. */
  add(options: WorldAccountOptions): Promise<DrillAccount>;
  /** The element as stored. */
  element(account: DrillAccount): Promise<Element>;
  /** The oracle's verdict on an account. */
  verdict(account: DrillAccount): Promise<{ verdict: AccountVerdict; summary: string }>;
  /** The pid of the account's risk child (from admin's control folder). */
  childPid(account: DrillAccount): Promise<number>;
  /** Starts admin again (after it was stopped or killed). */
  restartAdmin(): void;
  /** Stops admin (SIGINT, exit 0 asserted): its children stop cleanly. */
  stopAdmin(): Promise<void>;
  /** Stops admin if it runs, removes the database and the files. */
  dispose(): Promise<void>;
}

/** Options of {@link World.add}. */
export interface WorldAccountOptions {
  scenario: ScenarioName;
  element: OracleSettings & Record<string, unknown>;
  login: number;
  seed?: number;
  speed?: number;
  /** More simulator options of the pathway (e.g. `process: "child"`). */
  sim?: DrillAccountOptions["sim"];
}

/** Starts a world on a fresh database of `adapter`. */
export async function openWorld(adapter: Adapter, name: string): Promise<World> {
  const fixture = await adapter.fresh();
  const controlDir = await tempDir();
  const dir = await Deno.makeTempDir({ prefix: `riskguard-e2e-${name}-` });
  const host = `e2e-${name}-${adapter.name}`;
  let adding: Promise<unknown> = Promise.resolve();
  let running = true;
  const world: World = {
    name,
    fixture,
    host,
    controlDir,
    dir,
    admin: startAdmin({ fixture, host, controlDir }),
    // Admin pairs an element with any FREE instance of its host: accounts are added one at a
    // time, each claimed before the next, so an element runs on the instance (scenario, truth
    // log) made for it.
    add: (options) => {
      const added = adding.then(async () => {
        const account = await addDrillAccount(fixture.store, {
          scenario: options.scenario,
          element: options.element,
          dir,
          login: options.login,
          host,
          seed: options.seed ?? 7,
          speed: options.speed ?? 4,
          ...(options.sim === undefined ? {} : { sim: options.sim }),
        });
        const claimed = await waitFor(
          `the instance of ${account.elementId} claimed`,
          async () => (await element(fixture.store, account.elementId)).instance_id ?? undefined,
          30_000,
          () => world.admin.lines.slice(-20).join("\n"),
        );
        if (claimed !== account.instanceId) {
          throw new Error(`${account.elementId} runs on ${claimed}, not ${account.instanceId}`);
        }
        return account;
      });
      adding = added.catch(() => {});
      return added;
    },
    element: (account) => element(fixture.store, account.elementId),
    verdict: (account) => verdictOf(fixture.store, account),
    childPid: (account) =>
      waitFor(
        `the risk child of ${account.elementId}`,
        () => childPid(controlDir, account.elementId),
      ),
    restartAdmin() {
      world.admin = startAdmin({ fixture, host, controlDir });
      running = true;
    },
    async stopAdmin() {
      running = false;
      await stopAdmin(world.admin);
    },
    async dispose() {
      try {
        if (running) await world.stopAdmin();
      } finally {
        await fixture.dispose();
        await Deno.remove(controlDir, { recursive: true }).catch(() => {});
        await Deno.remove(dir, { recursive: true }).catch(() => {});
      }
    },
  };
  return world;
}

/** Waits until `check` holds for the element, polling the store. */
export function waitElement(
  world: World,
  account: DrillAccount,
  what: string,
  check: (element: Element) => boolean,
  timeoutMs = 40_000,
): Promise<Element> {
  return waitFor(
    `${what} (${account.elementId} on ${
      world.fixture.spec.startsWith("sqlite") ? "SQLite" : "MongoDB"
    })`,
    async () => {
      const e = await world.element(account);
      return check(e) ? e : undefined;
    },
    timeoutMs,
    () => world.admin.lines.slice(-40).join("\n"),
  );
}
