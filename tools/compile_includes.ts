/**
 * Files that `deno compile` must embed although the module graph does not reach them
 * statically (for example Worker entry points). Used by the compile tasks' check; keep the
 * `compile` tasks in deno.json in step with this list.
 */
export const COMPILE_INCLUDES: readonly string[] = [
  // The plugin sandbox Worker (`src/rules/_plugin_process.ts` starts it by URL).
  "src/rules/_plugin_worker.ts",
];
