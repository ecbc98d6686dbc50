/**
 * Builds the release binaries: `dist/riskguard.exe` (Windows x86_64) and `dist/riskguard`
 * (Linux x86_64) with the pinned Deno, the commit embedded (`riskguard --version` prints it), and
 * `dist/SHA256SUMS` (the format `sha256sum --check` reads). Needs internet: `deno compile`
 * downloads the runtime (`denort`) of each target.
 *
 * Usage: `deno run -A tools/release.ts [--tag v0.1.0]` — with `--tag` (the release workflow
 * passes the pushed tag) it refuses to build when the tag is not `v` + the version in deno.json.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { COMPILE_INCLUDES } from "./compile_includes.ts";

const root = new URL("..", import.meta.url);
const COMMIT_FILE = new URL("src/shared/_build_commit.ts", root);

/** The targets a release ships, with their output names. */
export const RELEASE_TARGETS: readonly { target: string; output: string }[] = [
  { target: "x86_64-pc-windows-msvc", output: "riskguard.exe" },
  { target: "x86_64-unknown-linux-gnu", output: "riskguard" },
];

/** Throws unless `tag` names `version` (`v0.1.0` for `0.1.0`). */
export function checkTag(tag: string, version: string): void {
  if (tag !== `v${version}`) {
    throw new Error(`Tag ${tag} does not match the version in deno.json (expected v${version})`);
  }
}

/** The source of `_build_commit.ts` for `commit` (a hex id). */
export function renderCommitModule(commit: string): string {
  if (!/^[0-9a-f]{7,40}$/.test(commit)) throw new Error(`Not a commit id: ${commit}`);
  return `/**
 * The commit this program was built from. \`dev\` in a source checkout; \`tools/release.ts\` writes
 * the real commit here just before \`deno compile\`, so the released binaries say what they are.
 */
export const BUILD_COMMIT = "${commit}";
`;
}

/** Lowercase hex SHA-256 of `bytes`. */
export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** `SHA256SUMS` text for files in one folder: `<hex>  <name>` per line, sorted by name. */
export async function checksums(folder: string, names: readonly string[]): Promise<string> {
  const lines: string[] = [];
  for (const name of [...names].sort()) {
    lines.push(`${await sha256Hex(await Deno.readFile(`${folder}/${name}`))}  ${name}`);
  }
  return lines.join("\n") + "\n";
}

async function run(program: string, args: string[]): Promise<string> {
  const output = await new Deno.Command(program, {
    args,
    cwd: root,
    stdout: "piped",
    stderr: "inherit",
  }).output();
  if (!output.success) throw new Error(`${program} ${args.join(" ")} failed`);
  return new TextDecoder().decode(output.stdout).trim();
}

async function main(): Promise<void> {
  const { values } = parseArgs({ args: Deno.args, options: { tag: { type: "string" } } });
  const config = JSON.parse(await Deno.readTextFile(new URL("deno.json", root)));
  if (values.tag !== undefined) checkTag(values.tag, config.version);
  const commit = (await run("git", ["rev-parse", "HEAD"])).slice(0, 12);
  const original = await Deno.readTextFile(COMMIT_FILE);
  await Deno.mkdir(new URL("dist", root), { recursive: true });
  try {
    await Deno.writeTextFile(COMMIT_FILE, renderCommitModule(commit));
    for (const { target, output } of RELEASE_TARGETS) {
      console.log(`release: building ${output} (${target}, commit ${commit})`);
      await run(Deno.execPath(), [
        "compile",
        "-A",
        "--target",
        target,
        ...COMPILE_INCLUDES.flatMap((path) => ["--include", path]),
        "--output",
        `dist/${output}`,
        "main.ts",
      ]);
    }
  } finally {
    await Deno.writeTextFile(COMMIT_FILE, original);
  }
  const sums = await checksums(
    new URL("dist", root).pathname,
    RELEASE_TARGETS.map((t) => t.output),
  );
  await Deno.writeTextFile(new URL("dist/SHA256SUMS", root), sums);
  console.log(sums.trim());
}

if (import.meta.main) await main();
