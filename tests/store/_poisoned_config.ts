/**
 * A Deno config whose import map names poison modules for npm packages: a process run with it
 * fails as soon as it loads one (used to prove a process never does). By default only the
 * MongoDB driver is poisoned; {@link poisonedConfig} with `"all"` poisons every npm package of
 * the project.
 *
 * @module
 */

const ROOT = new URL("../../", import.meta.url);

/** The names `src/store/mongo_store.ts` imports from the driver (values, not types). */
const DRIVER_NAMES = [
  "MongoBulkWriteError",
  "MongoClient",
  "MongoError",
  "MongoErrorLabel",
  "MongoNetworkError",
  "MongoNotConnectedError",
  "MongoOperationTimeoutError",
  "MongoServerClosedError",
  "MongoServerSelectionError",
  "MongoTopologyClosedError",
  "ObjectId",
];

/**
 * A temp dir with a config whose `mongodb` import (with `"all"`: every import of the project's
 * import map) is a module that cannot be loaded.
 */
export async function poisonedConfig(
  which: "mongodb" | "all" = "mongodb",
): Promise<{ dir: string; config: string }> {
  const dir = await Deno.makeTempDir({ prefix: "riskguard-no-mongo-" });
  const project = JSON.parse(await Deno.readTextFile(new URL("deno.json", ROOT))) as {
    imports: Record<string, string>;
  };
  const poison = `${dir}/mongodb_poison.ts`;
  await Deno.writeTextFile(
    poison,
    // It exports the names the MongoDB adapter imports, so that linking succeeds and the
    // module's evaluation (which only a real load reaches) throws.
    `throw new Error("POISON: the MongoDB driver was loaded");\n` +
      `export const ${DRIVER_NAMES.join(" = undefined, ")} = undefined;\n`,
  );
  const poisoned: Record<string, string> = { mongodb: new URL(`file://${poison}`).href };
  if (which === "all") {
    for (const name of Object.keys(project.imports)) {
      if (name === "mongodb") continue;
      // A prefix entry ("hono/") maps to an empty folder: nothing under it can be loaded.
      const file = `${dir}/${name.replaceAll("/", "_").replaceAll("@", "")}_poison`;
      if (name.endsWith("/")) {
        await Deno.mkdir(file);
        poisoned[name] = new URL(`file://${file}/`).href;
      } else {
        await Deno.writeTextFile(`${file}.ts`, `throw new Error("POISON: ${name} was loaded");\n`);
        poisoned[name] = new URL(`file://${file}.ts`).href;
      }
    }
  }
  const config = `${dir}/deno.json`;
  await Deno.writeTextFile(
    config,
    JSON.stringify({ nodeModulesDir: "none", imports: { ...project.imports, ...poisoned } }),
  );
  return { dir, config };
}
