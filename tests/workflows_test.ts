/**
 * The GitHub workflows are linted with actionlint (installed into `.deps/bin/` by
 * `tools/setup_test_deps.ts`), so a broken workflow fails the suite here, before it ever runs.
 */
import assert from "node:assert/strict";

const root = new URL("..", import.meta.url).pathname;
const ACTIONLINT = `${root}.deps/bin/actionlint`;
const inCi = ["true", "1"].includes(Deno.env.get("CI") ?? "");
const installed = await Deno.stat(ACTIONLINT).then(() => true, () => false);
if (!installed) {
  const why = `actionlint is not installed at ${ACTIONLINT} (run tools/setup_test_deps.ts)`;
  if (inCi) throw new Error(why);
  console.log(`skipping the workflow lint: ${why}`);
}

async function actionlint(files: string[]): Promise<{ code: number; output: string }> {
  const result = await new Deno.Command(ACTIONLINT, {
    args: ["-no-color", ...files],
    cwd: root,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return {
    code: result.code,
    output: decoder.decode(result.stdout) + decoder.decode(result.stderr),
  };
}

Deno.test({
  name: "workflows: ci.yml and release.yml pass actionlint",
  ignore: !installed,
  async fn() {
    const files: string[] = [];
    for await (const entry of Deno.readDir(`${root}.github/workflows`)) {
      if (entry.isFile && /\.ya?ml$/.test(entry.name)) {
        files.push(`.github/workflows/${entry.name}`);
      }
    }
    assert.deepEqual(files.sort(), [".github/workflows/ci.yml", ".github/workflows/release.yml"]);
    const { code, output } = await actionlint(files);
    assert.equal(code, 0, output);
  },
});

Deno.test({
  name: "workflows: actionlint fails a broken workflow (the lint can fail)",
  ignore: !installed,
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      const broken = `${dir}/broken.yml`;
      await Deno.writeTextFile(
        broken,
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-24.04\n    steps:\n" +
          "      - run: echo ${{ github.event.nope.nope }}\n      - uses: actions/checkout\n",
      );
      const { code, output } = await actionlint([broken]);
      assert.notEqual(code, 0);
      assert.match(output, /checkout/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("workflows: the release builds with the pinned Deno and runs the smoke suite", async () => {
  const release = await Deno.readTextFile(`${root}.github/workflows/release.yml`);
  assert.match(release, /cat \.deno-version/);
  assert.match(release, /tools\/release\.ts --tag/);
  assert.match(release, /runs-on: windows-/);
  assert.match(release, /tools\/smoke\.ts --exe dist\/riskguard\.exe/);
  assert.match(release, /sha256sum --check SHA256SUMS/);
  const ci = await Deno.readTextFile(`${root}.github/workflows/ci.yml`);
  assert.match(ci, /bash \.ci\/run/);
});
