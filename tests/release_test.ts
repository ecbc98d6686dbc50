import assert from "node:assert/strict";
import { checksums, checkTag, renderCommitModule, sha256Hex } from "../tools/release.ts";

Deno.test("release: the tag must name the version in deno.json", () => {
  checkTag("v0.1.0", "0.1.0");
  assert.throws(() => checkTag("v0.1.1", "0.1.0"), /Tag v0.1.1 does not match .*expected v0.1.0/);
  assert.throws(() => checkTag("0.1.0", "0.1.0"), /does not match/);
});

Deno.test("release: the commit module is valid TypeScript holding the commit", async () => {
  const source = renderCommitModule("1a2b3c4d5e6f");
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/commit.ts`, source);
    const module = await import(`file://${dir}/commit.ts`);
    assert.equal(module.BUILD_COMMIT, "1a2b3c4d5e6f");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  assert.throws(() => renderCommitModule('x"; Deno.exit(1); "'), /Not a commit id/);
});

Deno.test("release: SHA256SUMS matches sha256sum's format and values", async () => {
  assert.equal(
    await sha256Hex(new TextEncoder().encode("abc")),
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
  );
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/b.bin`, "abc");
    await Deno.writeTextFile(`${dir}/a.bin`, "");
    const text = await checksums(dir, ["b.bin", "a.bin"]);
    assert.equal(
      text,
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855  a.bin\n" +
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad  b.bin\n",
    );
    // The real tool agrees, where it exists.
    const sha256sum = await new Deno.Command("sha256sum", {
      args: ["--check", "-"],
      cwd: dir,
      stdin: "piped",
      stdout: "null",
      stderr: "null",
    }).spawn();
    const writer = sha256sum.stdin.getWriter();
    await writer.write(new TextEncoder().encode(text));
    await writer.close();
    assert.equal((await sha256sum.status).code, 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
