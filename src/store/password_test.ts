import assert from "node:assert/strict";
import {
  decryptPassword,
  encryptPassword,
  isEncryptedPassword,
  revealPassword,
} from "./password.ts";

const KEY = btoa(String.fromCharCode(...new Uint8Array(32).map((_, i) => i * 7)));
const OTHER = btoa(String.fromCharCode(...new Uint8Array(32).fill(9)));

Deno.test("encryptPassword round-trips with AES-GCM and a fresh IV each time", async () => {
  const a = await encryptPassword("s3cr3t-Ä", KEY);
  const b = await encryptPassword("s3cr3t-Ä", KEY);
  assert.ok(isEncryptedPassword(a));
  assert.notEqual(a, b);
  assert.ok(!a.includes("s3cr3t"));
  assert.equal(await decryptPassword(a, KEY), "s3cr3t-Ä");
});

Deno.test("decryptPassword rejects a wrong key or a tampered value with ELEMENT_INVALID", async () => {
  const sealed = await encryptPassword("pw", KEY);
  await assert.rejects(decryptPassword(sealed, OTHER), { code: "ELEMENT_INVALID" });
  const tampered = sealed.slice(0, -4) + (sealed.endsWith("AAAA") ? "BBBB" : "AAAA");
  await assert.rejects(decryptPassword(tampered, KEY), { code: "ELEMENT_INVALID" });
  await assert.rejects(decryptPassword("plain", KEY), { code: "ELEMENT_INVALID" });
});

Deno.test("a key that is not 32 bytes of base64 is a configuration error", async () => {
  await assert.rejects(encryptPassword("pw", btoa("short")), { code: "CONFIG_INVALID" });
  await assert.rejects(encryptPassword("pw", "%%%"), { code: "CONFIG_INVALID" });
});

Deno.test("revealPassword accepts plaintext and decrypts password_enc", async () => {
  assert.equal(await revealPassword({ _id: "e", password: "plain" }, undefined), "plain");
  assert.equal(await revealPassword({ _id: "e", password: "plain" }, KEY), "plain");
  const sealed = await encryptPassword("hidden", KEY);
  assert.equal(await revealPassword({ _id: "e", password_enc: sealed }, KEY), "hidden");
  await assert.rejects(revealPassword({ _id: "e", password_enc: sealed }, undefined), {
    code: "ELEMENT_INVALID",
  });
  await assert.rejects(revealPassword({ _id: "e" }, KEY), { code: "ELEMENT_INVALID" });
});
