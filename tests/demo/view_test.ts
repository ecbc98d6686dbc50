/**
 * The live view rendered from a fixed state, compared with golden text; and its promises: fits
 * the width and height, colours only when asked, colours never change the layout.
 */
import assert from "node:assert/strict";
import { stripColor } from "../../src/demo/_format.ts";
import { bar, renderFrame } from "../../src/demo/view.ts";
import { tableText } from "../../src/demo/plain.ts";
import { STATE } from "./_fixtures.ts";

const GOLDEN_FRAME = new URL("./golden/frame.txt", import.meta.url);
const GOLDEN_TABLE = new URL("./golden/table.txt", import.meta.url);

/** Set RISKGUARD_UPDATE_GOLDEN=1 to rewrite the golden files after a deliberate change. */
async function golden(url: URL, actual: string): Promise<void> {
  if (Deno.env.get("RISKGUARD_UPDATE_GOLDEN") === "1") await Deno.writeTextFile(url, actual);
  assert.equal(actual, await Deno.readTextFile(url));
}

Deno.test("view: a frame from a fixed state matches the golden text", async () => {
  await golden(GOLDEN_FRAME, renderFrame(STATE).join("\n") + "\n");
});

Deno.test("view: the plain table from a fixed state matches the golden text", async () => {
  await golden(GOLDEN_TABLE, tableText(STATE).join("\n") + "\n");
});

Deno.test("view: every line fits 80 columns and the frame fits 24 rows", () => {
  const lines = renderFrame(STATE, { width: 80, height: 24, color: true });
  assert.ok(lines.length <= 24, `${lines.length} lines`);
  for (const line of lines) {
    const visible = [...stripColor(line)].length;
    assert.ok(visible <= 80, `${visible} columns: ${stripColor(line)}`);
  }
});

Deno.test("view: a narrower terminal gets narrower lines, a taller one more actions", () => {
  for (const line of renderFrame(STATE, { width: 60 })) {
    assert.ok([...line].length <= 60, line);
  }
  const many = {
    ...STATE,
    recent: Array.from({ length: 30 }, (_, i) => ({ ...STATE.recent[0]!, at: STATE.now + i })),
  };
  assert.equal(renderFrame(many, { height: 24 }).length, 24);
  assert.equal(renderFrame(many, { height: 40 }).length, 40);
});

Deno.test("view: colours only when asked, and they never move a character", () => {
  const plain = renderFrame(STATE, { color: false });
  const colored = renderFrame(STATE, { color: true });
  assert.ok(plain.every((line) => !line.includes("\x1b")), "no escape codes without colour");
  assert.ok(colored.some((line) => line.includes("\x1b[31m")), "a locked account is red");
  assert.deepEqual(colored.map(stripColor), plain);
});

Deno.test("view: the bar fills with the share of the limit used, full from 100 %", () => {
  assert.equal(bar(0), "....................");
  assert.equal(bar(0.5), "##########..........");
  assert.equal(bar(1.7), "####################");
  assert.equal(bar(-1), "....................");
});
