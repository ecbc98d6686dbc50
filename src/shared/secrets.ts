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

/** The text that replaces a secret. */
export const MASK = "****";

/** A pattern that finds secrets in free text, with its replacement. */
export interface SecretTextPattern {
  /** Global regular expression. */
  pattern: RegExp;
  /** Replacement, as for `String.prototype.replace`. */
  replacement: (match: string, ...groups: string[]) => string;
}

/**
 * Patterns that find secrets in free text: the password of `scheme://user:password@`, and the
 * value after a secret-looking flag (`--password x`, `--token=x`, `"--password","x"` in JSON).
 */
export const SECRET_TEXT_PATTERNS: readonly SecretTextPattern[] = [
  {
    pattern: /([a-z][a-z0-9+.-]*:\/\/)([^:@/\s"]+):([^@/\s"]+)@/gi,
    replacement: (_match, scheme, user) => `${scheme}${user}:${MASK}@`,
  },
  {
    pattern: /(--?[\w-]*(?:pass(?:word)?|token|secret)[\w-]*)(=|\s+|",\s*")([^\s"]+)/gi,
    replacement: (_match, flag, separator) => `${flag}${separator}${MASK}`,
  },
];

/** Masks every secret that {@link SECRET_TEXT_PATTERNS} finds in `text`. */
export function maskSecretsInText(text: string): string {
  let out = text;
  for (const { pattern, replacement } of SECRET_TEXT_PATTERNS) {
    out = out.replace(pattern, replacement as (match: string, ...rest: unknown[]) => string);
  }
  return out;
}

/** True when a field with this name holds a secret. */
export function isSecretField(name: string): boolean {
  return SECRET_FIELD_PATTERNS.some((pattern) => pattern.test(name));
}

/** Replaces the password of every `scheme://user:password@` in `text` with {@link MASK}. */
export function maskUriCredentials(text: string): string {
  const { pattern, replacement } = SECRET_TEXT_PATTERNS[0]!;
  return text.replace(pattern, replacement as (match: string, ...rest: unknown[]) => string);
}

/**
 * Returns a copy of `value` in which every secret field is masked and every URI has its
 * credentials masked. Safe to put into logs and error messages.
 */
export function redactValue(value: unknown, depth = 0): unknown {
  if (depth > 20) return "[too deep]";
  if (typeof value === "string") return maskUriCredentials(value);
  if (Array.isArray(value)) {
    // In argument lists the value after a secret flag (`--password`, `-token`) is a secret.
    return value.map((item, index) => {
      const previous = value[index - 1];
      if (typeof previous === "string" && /^--?[\w-]*(pass|token|secret)/i.test(previous)) {
        return MASK;
      }
      return redactValue(item, depth + 1);
    });
  }
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
