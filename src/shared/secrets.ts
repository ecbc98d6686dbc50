/**
 * Helpers that keep secrets (passwords, tokens, credentials in URIs) out of logs and errors.
 *
 * @module
 */

/** Field names whose values are secrets wherever they appear. */
export const SECRET_FIELD_PATTERNS: readonly RegExp[] = [
  /pass(word)?/i,
  /token/i,
  /secret/i,
  /api[-_]?key/i,
  /^auth/i,
  /credential/i,
];

/** Matches the `user:password@` part of a URI (MongoDB, webhook, ...). */
const URI_CREDENTIALS = /([a-z][a-z0-9+.-]*:\/\/)([^:@/\s]+):([^@/\s]+)@/gi;

/** The text that replaces a secret. */
export const MASK = "****";

/** True when a field with this name holds a secret. */
export function isSecretField(name: string): boolean {
  return SECRET_FIELD_PATTERNS.some((pattern) => pattern.test(name));
}

/** Replaces the password of every `scheme://user:password@` in `text` with {@link MASK}. */
export function maskUriCredentials(text: string): string {
  return text.replace(URI_CREDENTIALS, (_match, scheme: string, user: string) => {
    return `${scheme}${user}:${MASK}@`;
  });
}

/**
 * Returns a copy of `value` in which every secret field is masked and every URI has its
 * credentials masked. Safe to put into logs and error messages.
 */
export function redactValue(value: unknown, depth = 0): unknown {
  if (depth > 20) return "[too deep]";
  if (typeof value === "string") return maskUriCredentials(value);
  if (Array.isArray(value)) return value.map((item) => redactValue(item, depth + 1));
  if (value !== null && typeof value === "object" && isPlainObject(value)) {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) {
      out[key] = isSecretField(key) ? MASK : redactValue(item, depth + 1);
    }
    return out;
  }
  return value;
}

function isPlainObject(value: object): boolean {
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}
