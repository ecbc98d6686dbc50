/**
 * Installs what the test suite needs besides Deno, idempotently:
 *
 * - the Node libzmq peer (`npm:zeromq`, run under Node) in `tests/interop/node/`;
 * - mongo-java-server (Maven Central) in `.deps/mongo/`, started by the MongoStore tests;
 * - actionlint (a Go module, built with the Go toolchain) in `.deps/bin/`, which lints the
 *   GitHub workflows in the test suite;
 * - Debian's `chromium` (apt, only when running as root) for the dashboard's browser test.
 *
 * Run by `deno task test` before the tests. Outside CI a missing tool (no npm, no Maven) is
 * reported and the tests that need it print why they skip; with `CI=true` it is an error.
 *
 * @module
 */

const root = new URL("..", import.meta.url).pathname;
/** The pinned actionlint release (a Go module from the Go module proxy). */
const ACTIONLINT_VERSION = "v1.7.12";
const inCi = ["true", "1"].includes(Deno.env.get("CI") ?? "");
let failed = false;

await step(
  "Node libzmq peer",
  `${root}tests/interop/node/node_modules/zeromq/package.json`,
  `${root}tests/interop/node/package.json`,
  ["npm", "ci", "--no-audit", "--no-fund", "--prefix", `${root}tests/interop/node`],
);
await step(
  "mongo-java-server",
  `${root}.deps/mongo/mongo-java-server-memory-backend-1.47.0.jar`,
  `${root}tests/support/mongo/pom.xml`,
  [
    "mvn",
    "-q",
    "-B",
    "-f",
    `${root}tests/support/mongo/pom.xml`,
    "dependency:copy-dependencies",
    `-DoutputDirectory=${root}.deps/mongo`,
  ],
);
await step(
  "actionlint",
  `${root}.deps/bin/actionlint`,
  `${root}.github/workflows/ci.yml`,
  ["go", "install", `github.com/rhysd/actionlint/cmd/actionlint@${ACTIONLINT_VERSION}`],
  { GOBIN: `${root}.deps/bin` },
);
await installChromium();
if (failed && inCi) Deno.exit(1);

/** Installs Debian's chromium with apt when no Chromium is found and we run as root. */
async function installChromium() {
  const known = [Deno.env.get("CHROMIUM_PATH"), "/usr/bin/chromium", "/usr/bin/chromium-browser"];
  for (const path of known) {
    if (path !== undefined && path !== "" && await exists(path)) return;
  }
  if (Deno.build.os !== "linux" || !(await exists("/usr/bin/apt-get"))) {
    console.error("setup: no Chromium and no apt-get: the dashboard browser test will skip");
    failed = true;
    return;
  }
  if (Deno.uid?.() !== 0) {
    console.error("setup: no Chromium; install it with `sudo apt-get install -y chromium`");
    failed = true;
    return;
  }
  console.error("setup: installing chromium (apt) ...");
  const apt = async (args: string[]) => {
    const output = await new Deno.Command("apt-get", {
      args,
      env: { DEBIAN_FRONTEND: "noninteractive" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!output.success) {
      failed = true;
      console.error(`setup: apt-get ${args[0]} failed (exit ${output.code}):`);
      console.error(new TextDecoder().decode(output.stderr).slice(-2000));
    }
    return output.success;
  };
  if (await apt(["update", "-qq"])) await apt(["install", "-y", "-qq", "chromium"]);
}

/** Runs `command` unless `marker` exists; skips when the `recipe` file is absent. */
async function step(
  name: string,
  marker: string,
  recipe: string,
  command: string[],
  env: Record<string, string> = {},
) {
  if (await exists(marker)) return;
  if (!(await exists(recipe))) return;
  console.error(`setup: installing ${name} ...`);
  try {
    const output = await new Deno.Command(command[0]!, {
      args: command.slice(1),
      env,
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!output.success) {
      failed = true;
      console.error(`setup: ${name} failed (exit ${output.code}):`);
      // Maven reports its errors on stdout, npm on stderr: show the end of both.
      const decoder = new TextDecoder();
      console.error(decoder.decode(output.stdout).slice(-2000));
      console.error(decoder.decode(output.stderr).slice(-2000));
    }
  } catch (error) {
    failed = true;
    console.error(`setup: ${name} not installed: ${(error as Error).message}`);
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}
