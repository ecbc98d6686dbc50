import assert from "node:assert/strict";
import { RotatingFile } from "./rotating_file.ts";

async function withDir(run: (dir: string) => Promise<void> | void): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "riskguard-rotating-" });
  try {
    await run(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function read(path: string): string | undefined {
  try {
    return Deno.readTextFileSync(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}

Deno.test("rotating file: rotates before a line would pass the size, keeps maxFiles, newest .1", async () => {
  await withDir((dir) => {
    const path = `${dir}/app.log`;
    const file = new RotatingFile(path, { maxBytes: 20, maxFiles: 2 });
    for (let index = 0; index < 6; index++) file.write(`line ${index} 0123456\n`); // 15 bytes
    file.close();
    // One 15-byte line per file: a second would pass 20 bytes. Lines 0-2 were dropped.
    assert.equal(read(path), "line 5 0123456\n");
    assert.equal(read(`${path}.1`), "line 4 0123456\n");
    assert.equal(read(`${path}.2`), "line 3 0123456\n");
    assert.equal(read(`${path}.3`), undefined, "no more than maxFiles rotated files");
  });
});

Deno.test("rotating file: a line is never split, and one longer than maxBytes gets a file of its own", async () => {
  await withDir((dir) => {
    const path = `${dir}/app.log`;
    const file = new RotatingFile(path, { maxBytes: 10, maxFiles: 3 });
    file.write("ab\n");
    file.write(`${"x".repeat(25)}\n`);
    file.write("cd\n");
    file.close();
    assert.equal(read(`${path}.2`), "ab\n");
    assert.equal(read(`${path}.1`), `${"x".repeat(25)}\n`);
    assert.equal(read(path), "cd\n");
  });
});

Deno.test("rotating file: appends to an existing file and counts its size", async () => {
  await withDir((dir) => {
    const path = `${dir}/app.log`;
    Deno.writeTextFileSync(path, "0123456789\n"); // 11 bytes from an earlier run
    const file = new RotatingFile(path, { maxBytes: 16, maxFiles: 1 });
    file.write("abcd\n"); // 16 bytes: still fits
    file.write("e\n"); // would be 18: rotates
    file.close();
    assert.equal(read(`${path}.1`), "0123456789\nabcd\n");
    assert.equal(read(path), "e\n");
  });
});

Deno.test({
  name: "rotating file: the file and its rotations are private (0600), an older file too",
  ignore: Deno.build.os === "windows",
  fn: async () => {
    await withDir((dir) => {
      const path = `${dir}/app.log`;
      Deno.writeTextFileSync(path, "old\n", { mode: 0o644 });
      Deno.chmodSync(path, 0o644);
      const file = new RotatingFile(path, { maxBytes: 8, maxFiles: 2 });
      file.write("line 1\n");
      file.write("line 2\n");
      file.close();
      for (const name of [path, `${path}.1`, `${path}.2`]) {
        assert.equal(Deno.statSync(name).mode! & 0o777, 0o600, name);
      }
    });
  },
});

Deno.test("rotating file: a file that cannot be moved is appended to, the next try a maxBytes later", async () => {
  await withDir((dir) => {
    const path = `${dir}/app.log`;
    // A non-empty folder where the rotated file must go: the rename fails, whoever runs it.
    Deno.mkdirSync(`${path}.1`);
    Deno.writeTextFileSync(`${path}.1/keep`, "");
    const file = new RotatingFile(path, { maxBytes: 10, maxFiles: 1 });
    file.write("1234567\n");
    file.write("abcdefg\n"); // 16 > 10: the rotation fails, the line is appended
    assert.equal(read(path), "1234567\nabcdefg\n");
    Deno.removeSync(`${path}.1`, { recursive: true });
    file.write("x\n"); // 18: no new try before 16 + 10 bytes, though it would work now
    file.write("y\n"); // 20 > 18: tries again, and the rotation works
    file.close();
    assert.equal(read(`${path}.1`), "1234567\nabcdefg\nx\n");
    assert.equal(read(path), "y\n");
  });
});

Deno.test("rotating file: writing after close throws", async () => {
  await withDir((dir) => {
    const file = new RotatingFile(`${dir}/app.log`, { maxBytes: 10, maxFiles: 1 });
    file.close();
    assert.throws(() => file.write("x\n"), /is closed/);
  });
});

/** Runs `command`; false when it cannot run or fails (then the test that needs it is skipped). */
function tryRun(command: string, args: string[]): boolean {
  try {
    return new Deno.Command(command, { args, stdout: "null", stderr: "null" }).outputSync().success;
  } catch {
    return false;
  }
}

Deno.test("rotating file: a live file that cannot be moved costs no rotated file, however often it is tried", async () => {
  await withDir((dir) => {
    const path = `${dir}/app.log`;
    Deno.writeTextFileSync(`${path}.1`, "r1\n");
    Deno.writeTextFileSync(`${path}.2`, "r2\n");
    Deno.writeTextFileSync(path, "");
    // Append-only (Linux, root, ext4 and the like): it can be appended to but not renamed, as a
    // file another program holds open on Windows.
    if (!tryRun("chattr", ["+a", path])) {
      console.log("SKIPPED: chattr +a is not available here (needs root on ext4 or the like)");
      return;
    }
    try {
      const file = new RotatingFile(path, { maxBytes: 10, maxFiles: 2 });
      for (let index = 0; index < 6; index++) file.write(`line ${index}\n`); // 7 bytes each
      file.close();
    } finally {
      tryRun("chattr", ["-a", path]);
    }
    assert.equal(read(`${path}.1`), "r1\n");
    assert.equal(read(`${path}.2`), "r2\n");
    assert.equal(read(path), [0, 1, 2, 3, 4, 5].map((index) => `line ${index}\n`).join(""));
    assert.equal(read(`${path}.rotating`), undefined);
  });
});

Deno.test("rotating file: a folder squatting a rotated name undoes the rotation; no line is lost", async () => {
  await withDir((dir) => {
    const path = `${dir}/app.log`;
    Deno.writeTextFileSync(`${path}.1`, "r1\n");
    Deno.writeTextFileSync(`${path}.2`, "r2\n");
    // `.2` cannot move to `.3`: a non-empty folder is there.
    Deno.mkdirSync(`${path}.3`);
    Deno.writeTextFileSync(`${path}.3/keep`, "");
    const file = new RotatingFile(path, { maxBytes: 10, maxFiles: 3 });
    file.write("1234567\n");
    file.write("abcdefg\n"); // would pass 10: the rotation fails half-way and is undone
    file.write("x\n"); // no new try before 16 + 10 bytes
    file.close();
    assert.equal(read(path), "1234567\nabcdefg\nx\n");
    assert.equal(read(`${path}.1`), "r1\n");
    assert.equal(read(`${path}.2`), "r2\n");
    assert.equal(read(`${path}.rotating`), undefined);
  });
});

Deno.test("rotating file: a rotation cut short is finished first (its file is older than the live one)", async () => {
  await withDir((dir) => {
    const path = `${dir}/app.log`;
    Deno.writeTextFileSync(`${path}.rotating`, "interrupted\n");
    const file = new RotatingFile(path, { maxBytes: 10, maxFiles: 3 });
    file.write("1234567\n");
    file.write("abcdefg\n"); // rotates: the interrupted file becomes .1, the live one stays
    file.write("x\n"); // rotates the live file
    file.close();
    assert.equal(read(`${path}.2`), "interrupted\n");
    assert.equal(read(`${path}.1`), "1234567\nabcdefg\n");
    assert.equal(read(path), "x\n");
    assert.equal(read(`${path}.rotating`), undefined);
  });
});

Deno.test({
  name: "rotating file: a device is written to and never rotated",
  ignore: Deno.build.os === "windows",
  fn: async () => {
    await withDir((dir) => {
      const path = `${dir}/null`;
      // A character device like /dev/null (1, 3), in a folder of our own (needs root).
      if (!tryRun("mknod", [path, "c", "1", "3"])) {
        console.log("SKIPPED: mknod is not allowed here (needs root)");
        return;
      }
      const file = new RotatingFile(path, { maxBytes: 10, maxFiles: 2 });
      for (let index = 0; index < 5; index++) file.write("1234567\n");
      file.close();
      assert.ok(Deno.statSync(path).isCharDevice, "the device is still there");
      assert.equal(read(`${path}.1`), undefined, "nothing rotated");
    });
  },
});
