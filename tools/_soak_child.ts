/**
 * A soak's risk process (`tools/soak.ts`): riskguard's command line as `main.ts` runs it, plus a
 * sampler that appends `Deno.memoryUsage()` to the file named by {@link MEMORY_FILE_ENV} every
 * {@link SAMPLE_MS}, so that the soak can tell what grows: V8's heap (`heapUsed`), memory V8
 * knows is held outside it (`external`: buffers, native wrappers), or only the process's RSS
 * (the allocator, native memory V8 never hears of).
 *
 * Each line: `{"t": ms since start, "rss", "heapTotal", "heapUsed", "external"}` in bytes, and
 * on Linux `rssAnon` and `rssFile` from `/proc/self/status`: RSS is private memory (anonymous:
 * V8's heap, the allocator, SQLite) plus pages of files mapped in, which for a Deno process is
 * mostly its own 100+ MB executable, paged in as code paths run for the first time (shared with
 * every other process of the same executable, and given back by the kernel when memory is short).
 * Sampling costs one small synchronous append every few seconds; the timer does not keep the
 * process alive.
 *
 * A probe (`tools/soak.ts --live-heap`) starts the process with V8's `--expose-gc`: then every
 * {@link LIVE_EVERY}th sample is taken right after a full collection and marked `"live": true`,
 * so its `heapUsed` is what is really kept (a leak), not garbage V8 has not collected yet.
 * Collections forced that often change how the heap grows, so a soak that reports memory does
 * not do it.
 *
 * @module
 */
import { processContext } from "../src/cli/context.ts";
import { runCli } from "../src/cli/mod.ts";

/** The environment variable naming the samples file. */
export const MEMORY_FILE_ENV = "RISKGUARD_SOAK_MEMORY_FILE";

/** Time between samples, ms. */
export const SAMPLE_MS = 5_000;

/** With `--expose-gc`: every this many samples, one after a full collection (once a minute). */
const LIVE_EVERY = 12;

function startSampler(path: string): void {
  const start = performance.now();
  const gc = (globalThis as { gc?: () => void }).gc;
  let count = 0;
  const sample = () => {
    const live = gc !== undefined && count++ % LIVE_EVERY === 0;
    if (live) gc();
    const usage = Deno.memoryUsage();
    const line = JSON.stringify({
      t: Math.round(performance.now() - start),
      ...usage,
      ...residentParts(),
      ...(live ? { live: true } : {}),
    });
    try {
      Deno.writeTextFileSync(path, `${line}\n`, { append: true });
    } catch {
      // The soak removed its folder: nobody reads the samples any more.
    }
  };
  sample();
  Deno.unrefTimer(setInterval(sample, SAMPLE_MS));
}

/** RssAnon and RssFile of this process in bytes, where `/proc` tells them. */
function residentParts(): { rssAnon?: number; rssFile?: number } {
  try {
    const status = Deno.readTextFileSync("/proc/self/status");
    const kb = (name: string) => {
      const match = new RegExp(`${name}:\\s+(\\d+) kB`).exec(status);
      return match === null ? undefined : Number(match[1]) * 1024;
    };
    const anon = kb("RssAnon");
    const file = kb("RssFile");
    return anon === undefined || file === undefined ? {} : { rssAnon: anon, rssFile: file };
  } catch {
    return {};
  }
}

if (import.meta.main) {
  const path = Deno.env.get(MEMORY_FILE_ENV);
  if (path !== undefined && path !== "") startSampler(path);
  Deno.exit(await runCli(Deno.args, processContext()));
}
