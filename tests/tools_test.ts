import assert from "node:assert/strict";
import { summarizeJunit, summaryLine } from "../tools/junit_summary.ts";

const REPORT = `<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="deno test" tests="6" failures="2" errors="0" time="0.007">
    <testsuite name="./x_test.ts" tests="6" disabled="1" errors="0" failures="2">
        <testcase name="a" classname="./x_test.ts" time="0.000" line="1" col="6">
        </testcase>
        <testcase name="b" classname="./x_test.ts" time="0.000" line="2" col="6">
            <skipped/>
        </testcase>
        <testcase name="c" classname="./x_test.ts" time="0.002" line="3" col="6">
            <failure message="1 test step failed">1 test step failed.</failure>
        </testcase>
        <testcase name="c &gt; s1" classname="./x_test.ts" time="0.000" line="3" col="39">
        </testcase>
        <testcase name="c &gt; s2" classname="./x_test.ts" time="0.000" line="3" col="69">
            <failure message="Uncaught Error: x">Error: x</failure>
        </testcase>
        <testcase name="encode -&gt; decode &gt; 3 chunks" classname="./y_test.ts" time="0.0"/>
        <testcase name="d &gt; first" classname="./z_test.ts" time="0.0"/>
        <testcase name="d" classname="./z_test.ts" time="0.0"/>
    </testsuite>
</testsuites>`;

Deno.test("junit summary: tests counted once, steps not, ignored tests as skipped", () => {
  const summary = summarizeJunit(REPORT);
  // a, "encode -> decode > 3 chunks" (no test of that prefix) and d pass; c fails; b is ignored.
  assert.deepEqual(summary, { passed: 3, failed: 1, skipped: 1 });
  assert.equal(summaryLine(summary), "3 passed, 1 failed, 1 skipped");
  assert.equal(summaryLine({ passed: 3, failed: 0, skipped: 0 }), "3 passed, 0 failed");
});
