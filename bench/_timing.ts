/**
 * In-process timing of a synchronous step, shared by the benchmarks that time one (`protocol.ts`,
 * `rules.ts`): the same warm-up, clock and percentiles for every such figure.
 *
 * @module
 */

/** The value at share `p` (0..1) of `sorted` (ascending): the nearest rank below. */
export function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
}

/** p50 and p99 in ms of `run(i)` over `runs` calls, after `warmup` calls not counted. */
export function timeEach(
  warmup: number,
  runs: number,
  run: (i: number) => unknown,
): { p50: number; p99: number } {
  for (let i = 0; i < warmup; i++) run(i);
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    run(i);
    samples.push(performance.now() - t0);
  }
  samples.sort((a, b) => a - b);
  return { p50: percentile(samples, 0.5), p99: percentile(samples, 0.99) };
}
