/**
 * A risk child started by admin loads no npm package (issue 16: a child's memory is the runtime,
 * our code and its own state). The child runs as admin starts it — the command line
 * `src/admin/supervisor.ts` writes, `selfCommand`'s deno flags, admin's environment with the
 * store channel — but with a config whose import map poisons every npm package of the project:
 * it guards its account (takes the lease, pings). The same command line with one flag more goes
 * through the full command line, which loads npm packages: the poison stops it, which shows the
 * check can fail.
 *
 * @module
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { spawnRiskChild } from "../../src/admin/supervisor.ts";
import { adminChildOptions } from "../../src/cli/risk_child.ts";
import { CONTROL_DIR_ENV } from "../../src/shared/control_dir.ts";
import { childEnv } from "../../src/shared/process.ts";
import { selfCommand } from "../../src/shared/self_command.ts";
import {
  CHANNEL_ADDRESS_ENV,
  CHANNEL_TOKEN_ENV,
  openStore,
  StoreChannelServer,
} from "../../src/store/mod.ts";
import { JOURNAL_DIR_ENV } from "../../src/risk/mod.ts";
import { poisonedConfig } from "../store/_poisoned_config.ts";
import { freePortPair, SIM_LOGIN } from "../support/risk_harness.ts";
import { childOutput } from "../support/child_output.ts";
import { waitGuarded } from "../admin/_harness.ts";

/**
 * A poisoned package evaluated, linked against (a poison module exports nothing), or reached
 * under a poisoned prefix (an empty folder).
 */
const NPM_LOADED = /POISON: \S+ was loaded|does not provide an export named|_poison\/\S+" ?\.?/;

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** The arguments admin's supervisor gives a child (captured from its spawn). */
function supervisorArgs(elementId: string, instanceId: string, path: string): string[] {
  let captured: string[] | undefined;
  spawnRiskChild(
    {
      env: {},
      command: (args) => ({ path: "riskguard", args: [...args] }),
      spawn: (command) => {
        captured = command.args;
        return {
          pid: 1,
          exited: new Promise(() => {}),
          kill: () => {},
          stdin: null,
          stdout: null,
          stderr: null,
        };
      },
    },
    elementId,
    { instance_id: instanceId, path, lease: 1 } as never,
    () => {},
  );
  assert.ok(captured !== undefined, "the supervisor spawned nothing");
  return captured;
}

Deno.test("admin's command line for a child takes the lean path, and only with a channel", () => {
  const args = supervisorArgs("e1", "i1", "sim:calm");
  const withChannel = { [CHANNEL_ADDRESS_ENV]: "127.0.0.1:1" };
  assert.deepEqual(adminChildOptions(args, withChannel), {
    elementId: "e1",
    pathway: "sim:calm",
    instance: "i1",
    dryRun: false,
    rules: [],
  });
  assert.equal(adminChildOptions(args, {}), undefined, "no channel: the full command line");
  assert.equal(adminChildOptions([...args, "--dry-run"], withChannel), undefined);
  assert.equal(adminChildOptions(["--mode", "risk", "--help"], withChannel), undefined);
  for (const blank of ["", " ", "\t"]) {
    const blankId = args.map((a, i) => args[i - 1] === "--element_id" ? blank : a);
    assert.equal(
      adminChildOptions(blankId, withChannel),
      undefined,
      `element id ${JSON.stringify(blank)}`,
    );
  }
  assert.equal(
    adminChildOptions(args.map((a) => a === "--pathway" ? "--rules" : a), withChannel),
    undefined,
  );
});

Deno.test("a child started by admin guards its account without loading any npm package", async () => {
  const dir = await Deno.makeTempDir({ prefix: "riskguard-lean-" });
  const poison = await poisonedConfig("all");
  const spec = `sqlite:${dir}/store.db`;
  const store = await openStore(spec);
  const token = crypto.randomUUID();
  const channel = StoreChannelServer.listen(store, { token });
  const children: Deno.ChildProcess[] = [];
  try {
    const instance = await store.addInstance({ path: "sim:calm", host: "h", port: freePortPair() });
    const inserted = await store.insertElement({ server: "S", login: SIM_LOGIN, password: "p" });
    assert.ok(inserted.ok);
    const id = inserted.element.id;
    await Deno.mkdir(`${dir}/control`, { mode: 0o700 });
    const env = childEnv({
      NO_COLOR: "1",
      RISKGUARD_STORE: spec,
      RISKGUARD_HOST: "h",
      RISKGUARD_PING_INTERVAL_S: "1",
      [CONTROL_DIR_ENV]: `${dir}/control`,
      [CHANNEL_ADDRESS_ENV]: channel.address,
      [CHANNEL_TOKEN_ENV]: token,
      [JOURNAL_DIR_ENV]: `${dir}/journal`,
    });
    const start = (extra: string[]) => {
      const args = [...supervisorArgs(id, instance._id, instance.path), ...extra];
      const command = selfCommand(args, {
        standalone: false,
        denoFlags: ["-A", "--no-lock", "--config", poison.config],
      });
      const child = new Deno.Command(command.path, {
        args: command.args,
        cwd: ROOT,
        clearEnv: true,
        env,
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      children.push(child);
      return { child, output: childOutput(child) };
    };

    // The full command line (one flag more) loads npm packages: the poison stops it.
    const full = start(["--dry-run"]);
    const fullStatus = await full.child.status;
    const fullOutput = await full.output;
    assert.ok(!fullStatus.success, "the full command line must load npm packages");
    assert.match(fullOutput, NPM_LOADED);

    // The child as admin starts it guards: it takes the lease and pings.
    const lean = start([]);
    const guarded = await waitGuarded(store, id, 30_000).then(() => true, () => false);
    try {
      lean.child.kill("SIGTERM");
    } catch {
      // it ended: its output says why
    }
    await lean.child.status;
    const text = await lean.output;
    assert.ok(guarded, `the child never guarded its element:\n${text}`);
    assert.doesNotMatch(text, NPM_LOADED);
  } finally {
    for (const child of children) {
      try {
        child.kill("SIGKILL");
      } catch {
        // ended
      }
      await child.status;
    }
    await channel.close();
    await store.close();
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(poison.dir, { recursive: true });
  }
});
