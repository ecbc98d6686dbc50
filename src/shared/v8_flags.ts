/**
 * The V8 flags of every riskguard process. Most of them are small and live for weeks (a risk
 * process per account, a plugin process per plugin, the simulator), so the young generation is
 * kept small: V8's default lets each of its two semi-spaces grow to 16 MB (in 64-bit builds),
 * which a process that allocates a little per snapshot fills and keeps resident; 1 MB
 * semi-spaces cost a few more (sub-millisecond) scavenges and about 10 MB less RSS per process
 * (measured on a risk process: 88.7 -> 78.6 MB under `deno run`). `--optimize-for-size` makes V8
 * collect the old generation sooner instead of letting garbage pile up: admin serving 50 children
 * over the store channel stayed at about 109 MB instead of climbing to 148 MB within 30 s (its
 * live heap is about 20 MB), and the rules engine's speed did not change measurably. No heap limit
 * is set: a cap would turn a slow leak into a crash of a process that enforces limits.
 *
 * Where they apply:
 * - the compiled executable: `deno compile --v8-flags=...` bakes them in for every mode (the
 *   tasks in `deno.json`; a compiled binary ignores `DENO_V8_FLAGS` and passes `--v8-flags`
 *   arguments on to the program, verified in Deno 2.9.6's standalone runtime), so they must suit
 *   admin and the commands too, which this one does;
 * - under `deno run`: every child riskguard starts of itself ({@link selfCommand}) gets
 *   `--v8-flags=...`; a process started by hand can pass the same, or set `DENO_V8_FLAGS`.
 *
 * @module
 */

/** The flags, as V8 names them. */
export const V8_FLAGS: readonly string[] = ["--max-semi-space-size=1", "--optimize-for-size"];

/** The `deno run` / `deno compile` argument that sets {@link V8_FLAGS}. */
export function v8FlagsArgument(): string {
  return `--v8-flags=${V8_FLAGS.join(",")}`;
}
