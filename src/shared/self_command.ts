/**
 * "Start this program again": the one place that knows how riskguard runs itself as a child
 * (admin -> risk processes, risk -> simulator, plugin host -> plugin process).
 *
 * - In the compiled executable (`Deno.build.standalone`) the program is `Deno.execPath()` itself.
 * - Under `deno run` it is `deno run <flags> <script>` with the repository's `main.ts` (or another
 *   script, e.g. the plugin process) and the permissions the caller names, plus what makes the
 *   child load as the compiled executable does: the V8 flags it has built in (`v8_flags.ts`),
 *   and `--unstable-lazy-dynamic-imports`, without which `deno run` loads every module an
 *   `import()` could reach, taken or not (the compiled executable loads a module only when it
 *   runs; a risk child must not pay for the commands it never runs).
 *
 * @module
 */
import { fileURLToPath } from "node:url";
import { v8FlagsArgument } from "./v8_flags.ts";

/** The `deno run` flag that loads the target of an `import()` only when the import runs. */
export const LAZY_DYNAMIC_IMPORTS = "--unstable-lazy-dynamic-imports";

/** An executable and its arguments. */
export interface CommandLine {
  /** The executable. */
  path: string;
  /** Its arguments. */
  args: string[];
}

/** Options of {@link selfCommand}. */
export interface SelfCommandOptions {
  /** Under `deno run`: flags before the script (default `["-A"]`). Ignored when compiled. */
  denoFlags?: readonly string[];
  /**
   * Under `deno run`: the script to run instead of `main.ts` (a URL or path). The arguments are
   * passed to it unchanged. Ignored when compiled.
   */
  script?: URL | string;
  /** Pretend to be compiled or not (tests); default `Deno.build.standalone`. */
  standalone?: boolean;
}

/** The repository's `main.ts`, which `deno run` starts. */
export const MAIN_MODULE: URL = new URL("../../main.ts", import.meta.url);

/**
 * The command line that runs this program with `args` (e.g. `["--mode", "risk", ...]`).
 * In the compiled executable `args` go straight to the executable.
 */
export function selfCommand(
  args: readonly string[],
  options: SelfCommandOptions = {},
): CommandLine {
  const standalone = options.standalone ?? Deno.build.standalone;
  if (standalone) return { path: Deno.execPath(), args: [...args] };
  const script = options.script ?? MAIN_MODULE;
  const scriptPath = script instanceof URL && script.protocol === "file:"
    ? fileURLToPath(script)
    : String(script);
  return {
    path: Deno.execPath(),
    args: [
      "run",
      v8FlagsArgument(),
      LAZY_DYNAMIC_IMPORTS,
      ...(options.denoFlags ?? ["-A"]),
      scriptPath,
      ...args,
    ],
  };
}
