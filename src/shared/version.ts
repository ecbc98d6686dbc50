/**
 * What `riskguard --version` prints and the admin heartbeat records.
 *
 * @module
 */
import { BUILD_COMMIT } from "./_build_commit.ts";

/** The riskguard version. Keep in step with deno.json (a test checks it). */
export const VERSION = "0.1.0";

/** The commit the program was built from (`dev` when run from source). */
export const COMMIT: string = BUILD_COMMIT;

/** `0.1.0 (commit 1a2b3c4d5e6f)` or `0.1.0 (commit dev)`. */
export const VERSION_LINE = `${VERSION} (commit ${COMMIT})`;
