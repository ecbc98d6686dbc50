/**
 * Reads Deno's JUnit report and prints the CI summary line `N passed, N failed` (with
 * `, N skipped` when some were): one count per test, not per test step (a failing step already
 * fails its test), ignored tests as skipped, never as passed.
 *
 * Usage: `deno run --allow-read tools/junit_summary.ts .test-report.xml`; exits 1 when the
 * report cannot be read.
 *
 * @module
 */

/** Counts of one report. */
export interface JunitSummary {
  passed: number;
  failed: number;
  skipped: number;
}

/** Counts the tests of a Deno JUnit report (steps are not counted on their own). */
export function summarizeJunit(xml: string): JunitSummary {
  const summary: JunitSummary = { passed: 0, failed: 0, skipped: 0 };
  const testcase = /<testcase\b[^>]*\bname="([^"]*)"[^>]*?(?:\/>|>([\s\S]*?)<\/testcase>)/g;
  const cases = [...xml.matchAll(testcase)].map((match) => ({
    name: match[1]!,
    body: match[2] ?? "",
  }));
  const names = new Set(cases.map((item) => item.name));
  for (const { name, body } of cases) {
    // Deno names a step "<test> > <step>" (escaped); the test may be listed before or after it.
    const parts = name.split(" &gt; ");
    const isStep = parts.some((_, i) => i > 0 && names.has(parts.slice(0, i).join(" &gt; ")));
    if (isStep) continue;
    if (/<(failure|error)\b/.test(body)) summary.failed++;
    else if (/<skipped\b/.test(body)) summary.skipped++;
    else summary.passed++;
  }
  return summary;
}

/** The summary line CI reads. */
export function summaryLine({ passed, failed, skipped }: JunitSummary): string {
  return `${passed} passed, ${failed} failed${skipped > 0 ? `, ${skipped} skipped` : ""}`;
}

if (import.meta.main) {
  const path = Deno.args[0] ?? ".test-report.xml";
  try {
    console.log(summaryLine(summarizeJunit(await Deno.readTextFile(path))));
  } catch (error) {
    console.error(`junit_summary: cannot read ${path}: ${(error as Error).message}`);
    Deno.exit(1);
  }
}
