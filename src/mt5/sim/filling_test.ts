import assert from "node:assert/strict";
import {
  eaFillingModes,
  type ExecutionMode,
  type FillingMode,
  serverAcceptsFilling,
  SYMBOL_FILLING_FOK as FOK,
  SYMBOL_FILLING_IOC as IOC,
} from "./filling.ts";

const cases: Array<[ExecutionMode, number, FillingMode[]]> = [
  ["instant", 0, ["fok"]],
  ["instant", FOK | IOC, ["fok"]],
  ["request", IOC, ["fok"]],
  ["market", FOK, ["fok"]],
  ["market", IOC, ["ioc"]],
  ["market", FOK | IOC, ["fok", "ioc"]],
  ["market", 0, ["fok", "ioc"]],
  ["exchange", 0, ["return"]],
  ["exchange", FOK, ["fok", "return"]],
  ["exchange", FOK | IOC, ["fok", "ioc", "return"]],
];

Deno.test("filling: the EA's modes per execution mode and flags", () => {
  for (const [mode, flags, expected] of cases) {
    assert.deepEqual(eaFillingModes({ mode, flags }), expected, `${mode} flags ${flags}`);
  }
});

Deno.test("filling: RETURN is sent only with Exchange execution", () => {
  for (const [mode, flags] of cases) {
    const sendsReturn = eaFillingModes({ mode, flags }).includes("return");
    assert.equal(sendsReturn, mode === "exchange", `${mode} flags ${flags}`);
  }
});

Deno.test("filling: the server refuses RETURN outside Exchange execution and FOK/IOC not flagged", () => {
  assert.equal(serverAcceptsFilling({ mode: "market", flags: FOK | IOC }, "return"), false);
  assert.equal(serverAcceptsFilling({ mode: "instant", flags: FOK | IOC }, "ioc"), false);
  assert.equal(serverAcceptsFilling({ mode: "market", flags: IOC }, "fok"), false);
  assert.equal(serverAcceptsFilling({ mode: "exchange", flags: 0 }, "return"), true);
  assert.equal(serverAcceptsFilling({ mode: "market", flags: 0, accepts: ["ioc"] }, "fok"), false);
});

Deno.test("filling: with the documented server rules the EA's first mode is always taken", () => {
  for (const [mode, flags] of cases) {
    const first = eaFillingModes({ mode, flags })[0]!;
    assert.equal(serverAcceptsFilling({ mode, flags }, first), true, `${mode} flags ${flags}`);
  }
});
