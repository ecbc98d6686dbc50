import assert from "node:assert/strict";
import {
  isCount,
  isInteger,
  isNonNegative,
  isNumber,
  isPositive,
  isPositiveInteger,
} from "./validation.ts";

Deno.test("validation: the number readers take what their names say", () => {
  const values = [0, 1, -1, 0.5, 2 ** 53, Infinity, NaN, "1", null, undefined, 1n];
  const table: [(value: unknown) => boolean, unknown[]][] = [
    [isNumber, [0, 1, -1, 0.5, 2 ** 53]],
    [isNonNegative, [0, 1, 0.5, 2 ** 53]],
    [isPositive, [1, 0.5, 2 ** 53]],
    [isInteger, [0, 1, -1]],
    [isCount, [0, 1]],
    [isPositiveInteger, [1]],
  ];
  for (const [read, accepted] of table) {
    assert.deepEqual(values.filter((value) => read(value)), accepted, read.name);
  }
});

const SRC = new URL("../", import.meta.url);

/** Every non-test TypeScript file under src/, as [path relative to src/, text]. */
function sources(dir = SRC, prefix = ""): [string, string][] {
  const out: [string, string][] = [];
  for (const entry of Deno.readDirSync(dir)) {
    const path = `${prefix}${entry.name}`;
    if (entry.isDirectory) out.push(...sources(new URL(`${entry.name}/`, dir), `${path}/`));
    else if (entry.name.endsWith(".ts") && !entry.name.endsWith("_test.ts")) {
      out.push([path, Deno.readTextFileSync(new URL(entry.name, dir))]);
    }
  }
  return out;
}

Deno.test("validation: the shared readers and the settings' fixed choices have one home each", () => {
  const homes: [RegExp, string][] = [
    [
      /^(export )?function (isNumber|isNonNegative|isPositive|isInteger|isCount|isPositiveInteger)\(/m,
      "shared/validation.ts",
    ],
    [/^(export )?const (DRAWDOWN_MODES|DAILY_BASELINES) =/m, "shared/risk_modes.ts"],
  ];
  for (const [pattern, home] of homes) {
    const found = sources().filter(([, text]) => pattern.test(text)).map(([path]) => path);
    assert.deepEqual(found.filter((path) => path !== home), [], `${pattern} outside ${home}`);
  }
});
