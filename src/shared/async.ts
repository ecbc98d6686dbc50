/**
 * Small async helpers shared by the long-running loops.
 *
 * @module
 */

/**
 * Resolves after `ms` milliseconds, or at once when `signal` aborts (never rejects). Never leaks
 * its timer or its abort listener.
 */
export function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
  });
}
