/**
 * Inserts elements from another process for the cross-process feed test: arguments are the
 * store, the database name, how many elements and the first login. Prints the ids, one JSON
 * line.
 *
 * @module
 */
import { openStore } from "../../src/store/mod.ts";

const [spec, db, count, first] = Deno.args;
const store = await openStore(spec, { ...(db === undefined ? {} : { db }) });
try {
  const ids: string[] = [];
  for (let n = 0; n < Number(count); n++) {
    const result = await store.insertElement({
      server: "Other-Process",
      login: Number(first) + n,
      password: "p",
    });
    if (!result.ok) throw new Error(`${result.field} ${result.reason}`);
    ids.push(result.element.id);
  }
  console.log(JSON.stringify(ids));
} finally {
  await store.close();
}
