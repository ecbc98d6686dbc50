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
  // `scheme://user:password@`: everything up to the last `@` of the URI is credentials, so a
  // password holding `@`, `/` or `"` is masked whole.
  {
    pattern: /([a-z][a-z0-9+.-]*:\/\/)([^:@/\s"]*):(\S*)@/gi,
    replacement: (_match, scheme, user) => `${scheme}${user}:${MASK}@`,
  },
  // The same with a space in the user or password (invalid in a URI, but people paste them).
  {
    pattern: /([a-z][a-z0-9+.-]*:\/\/)([^:@/\n"]*):([^@/\n]{0,200}?)@/gi,
    replacement: (_match, scheme, user) => `${scheme}${user}:${MASK}@`,
  },
  // Secret-looking query parameters and MongoDB AWS session tokens.
  {
    pattern: /([?&][^=&\s"]*(?:pass(?:word)?|secret|token|api[-_]?key)[^=&\s"]*=)[^&\s"]*/gi,
    replacement: (_match, name) => `${name}${MASK}`,
  },
  {
    pattern: /(AWS_SESSION_TOKEN:)[^,&\s"]*/gi,
    replacement: (_match, name) => `${name}${MASK}`,
  },
  // The value after a secret-looking flag: `--password x`, `--token=x`, `"--password","x"`.
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

/**
 * A URI for display: everything before its last `@` (the user and password, whatever they
 * contain) replaced by {@link MASK}; hosts, database and options stay readable.
 */
export function redactUri(uri: string): string {
  const match = /^([a-z][a-z0-9+.-]*:\/\/)([\s\S]*)@([^@]*)$/i.exec(uri);
  return match === null ? maskUriCredentials(uri) : `${match[1]}${MASK}@${match[3]}`;
}

/**
 * Masks in `text` every piece of the credentials of `uri` (the part before its last `@`, and
 * its pieces between `:`, `@` and `/`): for messages of libraries that echo a URI they could
 * not parse, e.g. a driver's "getaddrinfo ENOTFOUND <part of a password>".
 */
export function scrubUriCredentials(text: string, uri: string): string {
  const match = /^[a-z][a-z0-9+.-]*:\/\/([\s\S]*)@[^@]*$/i.exec(uri);
  if (match === null) return maskUriCredentials(text);
  const userinfo = match[1]!;
  const pieces = [userinfo, ...userinfo.split(/[:@/]+/)]
    .filter((piece) => piece.trim().length >= 2)
    .sort((a, b) => b.length - a.length);
  let out = text;
  for (const piece of pieces) out = out.split(piece).join(MASK);
  return maskUriCredentials(out);
}

/** True when a field with this name holds a secret. */
export function isSecretField(name: string): boolean {
  return SECRET_FIELD_PATTERNS.some((pattern) => pattern.test(name));
}

/**
 * Masks the credentials of every URI in `text`: the password of `scheme://user:password@`,
 * secret-looking query parameters and MongoDB AWS session tokens.
 */
export function maskUriCredentials(text: string): string {
  let out = text;
  for (const { pattern, replacement } of SECRET_TEXT_PATTERNS.slice(0, 4)) {
    out = out.replace(pattern, replacement as (match: string, ...rest: unknown[]) => string);
  }
  return out;
}

/**
 * Returns a copy of `value` in which every secret field is masked and every URI has its
 * credentials masked. Safe to put into logs and error messages.
 */
export function redactValue(value: unknown, depth = 0): unknown {
  if (depth > 20) return "[too deep]";
  if (typeof value === "string") return maskSecretsInText(value);
  if (value instanceof Error) {
    // Errors carry their text in non-enumerable fields: keep it, masked, instead of `{}`.
    return {
      name: value.name,
      message: maskSecretsInText(value.message),
      ...(value.stack === undefined ? {} : { stack: maskSecretsInText(value.stack) }),
    };
  }
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
