import assert from "node:assert/strict";
import { pluginFolder } from "./_plugin_process.ts";

Deno.test("pluginFolder: the folder of the plugin file; a file system root is refused", () => {
  assert.equal(pluginFolder("file:///srv/rules/my_rule.ts"), "/srv/rules");
  assert.throws(
    () => pluginFolder("file:///my_rule.ts"),
    /a plugin must be in a folder of its own, not at the root \//,
  );
});
