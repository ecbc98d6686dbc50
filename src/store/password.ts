/**
 * Optional encryption at rest of element passwords: AES-256-GCM (WebCrypto) with the key from
 * `RISKGUARD_SECRET_KEY` (base64 of 32 bytes). An encrypted password is stored in
 * `password_enc` as `v1:<base64 iv>:<base64 ciphertext+tag>`; plaintext `password` fields
 * written by other systems are still accepted.
 *
 * @module
 */
import { ConfigError } from "../shared/errors.ts";
import { StoreError } from "./errors.ts";
import type { Element } from "./schemas.ts";

const PREFIX = "v1:";

/** True when `value` looks like the output of {@link encryptPassword}. */
export function isEncryptedPassword(value: string): boolean {
  return /^v1:[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+$/.test(value);
}

async function importKey(secretKey: string): Promise<CryptoKey> {
  let bytes: Uint8Array;
  try {
    bytes = Uint8Array.from(atob(secretKey.trim()), (c) => c.charCodeAt(0));
  } catch {
    throw new ConfigError("Invalid RISKGUARD_SECRET_KEY: not base64 (expected 32 bytes in base64)");
  }
  if (bytes.length !== 32) {
    throw new ConfigError(
      `Invalid RISKGUARD_SECRET_KEY: ${bytes.length} bytes, expected 32 (base64 of 32 random bytes)`,
    );
  }
  return await crypto.subtle.importKey("raw", bytes as BufferSource, "AES-GCM", false, [
    "encrypt",
    "decrypt",
  ]);
}

/** Encrypts a password with the base64 key; returns the `password_enc` text. */
export async function encryptPassword(plain: string, secretKey: string): Promise<string> {
  const key = await importKey(secretKey);
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const data = new TextEncoder().encode(plain);
  const sealed = new Uint8Array(await crypto.subtle.encrypt({ name: "AES-GCM", iv }, key, data));
  return `${PREFIX}${toBase64(iv)}:${toBase64(sealed)}`;
}

/**
 * Decrypts a `password_enc` text.
 *
 * @throws {StoreError} `ELEMENT_INVALID` when it is malformed or the key is wrong.
 */
export async function decryptPassword(encrypted: string, secretKey: string): Promise<string> {
  const key = await importKey(secretKey);
  if (!isEncryptedPassword(encrypted)) {
    throw new StoreError("ELEMENT_INVALID", "password_enc is not in the v1:<iv>:<data> format");
  }
  const [, ivText, dataText] = encrypted.split(":");
  try {
    const plain = await crypto.subtle.decrypt(
      { name: "AES-GCM", iv: fromBase64(ivText!) as BufferSource },
      key,
      fromBase64(dataText!) as BufferSource,
    );
    return new TextDecoder().decode(plain);
  } catch (error) {
    throw new StoreError(
      "ELEMENT_INVALID",
      "password_enc cannot be decrypted: wrong RISKGUARD_SECRET_KEY or corrupted value",
      { cause: error },
    );
  }
}

/**
 * The plaintext password of an element: `password` as stored, or `password_enc` decrypted
 * with `secretKey`.
 *
 * @throws {StoreError} `ELEMENT_INVALID` when only `password_enc` is set and no key is given
 * or it does not decrypt.
 */
export async function revealPassword(
  element: Pick<Element, "_id" | "password" | "password_enc">,
  secretKey: string | undefined,
): Promise<string> {
  if (element.password_enc !== undefined) {
    if (secretKey === undefined) {
      if (element.password !== undefined) return element.password;
      throw new StoreError(
        "ELEMENT_INVALID",
        `Element ${element._id} has an encrypted password but RISKGUARD_SECRET_KEY is not set`,
      );
    }
    return await decryptPassword(element.password_enc, secretKey);
  }
  if (element.password !== undefined) return element.password;
  throw new StoreError("ELEMENT_INVALID", `Element ${element._id} has no password`);
}

function toBase64(bytes: Uint8Array): string {
  let text = "";
  for (const byte of bytes) text += String.fromCharCode(byte);
  return btoa(text);
}

function fromBase64(text: string): Uint8Array {
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}
