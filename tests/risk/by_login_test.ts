/**
 * `--mode risk --element_id <login>` run by hand: the account is found by its login; an unknown
 * or ambiguous login is refused with exit code 2 and a message that says what to do.
 */
import assert from "node:assert/strict";
import { openStore } from "../../src/store/mod.ts";
import { freePortPair, SIM_LOGIN } from "../support/risk_harness.ts";

const MAIN = new URL("../../main.ts", import.meta.url).pathname;

function riskguard(args: string[], store: string): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, "--store", store, "--host", "by-hand", ...args],
    env: { RISKGUARD_CONTROL_DIR: "", NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

Deno.test("--mode risk by login: guards the account; unknown and ambiguous logins exit 2", async () => {
  const dir = await Deno.makeTempDir();
  const spec = `sqlite:${dir}/by_login.db`;
  const store = await openStore(spec);
  try {
    const instance = await store.addInstance({
      path: "sim:calm",
      host: "by-hand",
      port: freePortPair(),
    });
    const one = await store.insertElement({ server: "Sim-A", login: SIM_LOGIN, password: "p" });
    assert.ok(one.ok);

    // Found by its login: the process takes the element's lease and pings.
    const child = riskguard(
      ["--mode", "risk", "--element_id", String(SIM_LOGIN), "--instance", instance._id],
      spec,
    );
    try {
      const deadline = Date.now() + 30_000;
      let host: string | null = null;
      while (Date.now() < deadline && host === null) {
        const parsed = await store.getElement(one.element.id);
        host = parsed?.valid ? parsed.element.host : null;
        if (host === null) await new Promise((resolve) => setTimeout(resolve, 200));
      }
      assert.equal(host, "by-hand", "the element named by its login is guarded");
    } finally {
      child.kill("SIGINT");
      await child.status;
      await child.stdout.cancel();
      await child.stderr.cancel();
    }

    const unknown = await riskguard(["--mode", "risk", "--element_id", "424242"], spec).output();
    assert.equal(unknown.code, 2);
    assert.match(new TextDecoder().decode(unknown.stderr), /No element with id or login 424242/);

    const two = await store.insertElement({ server: "Sim-B", login: SIM_LOGIN, password: "p" });
    assert.ok(two.ok);
    const ambiguous = await riskguard(["--mode", "risk", "--element_id", String(SIM_LOGIN)], spec)
      .output();
    assert.equal(ambiguous.code, 2);
    const text = new TextDecoder().decode(ambiguous.stderr);
    assert.match(text, new RegExp(`Login ${SIM_LOGIN} names 2 elements`));
    assert.match(text, /name it by its id/);
    assert.ok(text.includes(one.element.id) && text.includes(two.element.id), text);
  } finally {
    await store.close();
    await Deno.remove(dir, { recursive: true });
  }
});
