/**
 * A Deno config whose import map names a poison module for `mongodb`: a process run with it
 * fails as soon as it loads the MongoDB driver (used to prove a process never does).
 *
 * @module
 */

const ROOT = new URL("../../", import.meta.url);

/** The names `src/store/mongo_store.ts` imports from the driver (values, not types). */
const DRIVER_NAMES = [
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

/** A temp dir with a config whose `mongodb` import is a module that cannot be loaded. */
export async function poisonedConfig(): Promise<{ dir: string; config: string }> {
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
  const config = `${dir}/deno.json`;
  await Deno.writeTextFile(
    config,
    JSON.stringify({
      nodeModulesDir: "none",
      imports: { ...project.imports, mongodb: new URL(`file://${poison}`).href },
    }),
  );
  return { dir, config };
}
