import assert from "node:assert/strict";
import { readPeakState, type StateIssue } from "./day_peak.ts";

const peak = { initial_balance: 10_000, high_balance: 10_500, high_equity: 10_600, since: 0 };

Deno.test("day and peak: a peak's since is an integer >= 0 (epoch ms)", () => {
  for (const since of [0, 1_767_693_600_000]) {
    const issues: StateIssue[] = [];
    assert.deepEqual(readPeakState({ ...peak, since }, issues), { ...peak, since });
    assert.deepEqual(issues, []);
  }
  for (const since of [-1, 1.5, 2 ** 53, "0", undefined]) {
    const issues: StateIssue[] = [];
    assert.equal(readPeakState({ ...peak, since }, issues), undefined, `${since}`);
    assert.deepEqual(issues.map((issue) => issue.path), [["since"]]);
    assert.match(issues[0]!.reason, since === undefined ? /is required/ : /an integer >= 0/);
  }
});
