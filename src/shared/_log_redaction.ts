/**
 * The one place where log records lose their secrets: the logging core hands every sink only
 * what {@link redactRecord} returns.
 *
 * @module
 */
import type { LogRecord } from "./_log_core.ts";
import { isSecretField, MASK, maskSecretsInText, redactValue } from "./secrets.ts";

/**
 * A copy of `record` that may reach any output: properties with secret-looking names are
 * {@link MASK}, every value has its secret fields (however deep) and the secrets in its text
 * masked (see `redactValue`), an error keeps its name and its masked message and stack, and the
 * template's own text is masked too (a message built with `${uri}` instead of `{uri}`).
 *
 * `redactValue` copies plain objects and arrays only: a class instance, a `URL` or a value with
 * `toJSON` passes through as it is, and the formats mask it as they serialise it
 * (`_log_format.ts`). A sink that writes values any other way must do the same.
 */
export function redactRecord(record: LogRecord): LogRecord {
  const properties: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(record.properties)) {
    properties[key] = isSecretField(key) ? MASK : redactLogValue(value);
  }
  return { ...record, rawMessage: maskSecretsInText(record.rawMessage), properties };
}

function redactLogValue(value: unknown): unknown {
  if (!(value instanceof Error)) return redactValue(value);
  // Still an Error, so that the console shows its message and the file its name and stack; its
  // cause and own fields are dropped, as `redactValue` drops them (they may hold anything).
  const masked = new Error(maskSecretsInText(value.message));
  masked.name = value.name;
  if (value.stack === undefined) delete masked.stack;
  else masked.stack = maskSecretsInText(value.stack);
  return masked;
}
