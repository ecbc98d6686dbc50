/** The TTY screen: alternate screen, frames drawn over each other without clearing, restored. */
import assert from "node:assert/strict";
import { TtyScreen } from "../../src/demo/screen.ts";

Deno.test("screen: alternate screen, home + overwrite frames, restored once", () => {
  const out: string[] = [];
  const screen = new TtyScreen((text) => out.push(text));
  screen.draw(["before open"]);
  assert.equal(out.length, 0, "nothing is drawn before the screen is open");
  screen.open();
  assert.equal(out.shift(), "\x1b[?1049h\x1b[?25l");
  screen.draw(["first", "second"]);
  const frame = out.shift()!;
  assert.ok(!frame.includes("\x1b[2J"), "a frame never clears the whole screen (flicker)");
  assert.equal(frame, "\x1b[Hfirst\x1b[K\nsecond\x1b[K\x1b[J");
  screen.close();
  screen.close();
  assert.deepEqual(out, ["\x1b[?25h\x1b[?1049l"], "restored exactly once");
  screen.draw(["after close"]);
  assert.equal(out.length, 1, "nothing is drawn after the screen is closed");
});
