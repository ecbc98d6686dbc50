/**
 * The commit this program was built from. `dev` in a source checkout; `tools/release.ts` writes
 * the real commit here just before `deno compile`, so the released binaries say what they are.
 */
export const BUILD_COMMIT = "dev";
