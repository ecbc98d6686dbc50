import assert from "node:assert/strict";
import { checkCompile } from "../tools/compile_check.ts";

Deno.test("deno compile packages the module graph, includes and npm packages", async () => {
  const { success, output } = await checkCompile();
  assert.ok(success, `packaging failed:\n${output}`);
  assert.match(output, /Files:|Compile/);
});
