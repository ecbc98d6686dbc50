/**
 * A (redacted) log record as one line for the console or for the JSON-lines file.
 *
 * @module
 */
import { type LogRecord, parseTemplate } from "./_log_core.ts";
import { isSecretField, MASK, maskSecretsInText, redactValue } from "./secrets.ts";

const LEVEL_LABELS: Readonly<Record<LogRecord["level"], string>> = {
  trace: "TRC",
  debug: "DBG",
  info: "INF",
  warning: "WRN",
  error: "ERR",
  fatal: "FTL",
};

/**
 * One console line: `time level category [element] message key=value ...`, e.g.
 * `14:03:07.512 INF risk [64f1] daily loss limit reached equity=9480`; the category without
 * its root, properties the message does not name appended. Admin parses its children's lines
 * (`src/admin/_console_line.ts`): keep the two in step.
 */
export function formatConsoleLine(record: LogRecord): string {
  const time = new Date(record.timestamp).toISOString().slice(11, 23);
  const category = record.category.slice(1).join(".") || record.category.join(".");
  const { element_id: elementId, ...rest } = record.properties;
  const { texts, keys } = parseTemplate(record.rawMessage);
  const extra = Object.keys(rest).filter((key) => !keys.includes(key)).map((key) =>
    ` ${key}=${show(rest[key]) ?? String(rest[key])}`
  );
  const account = elementId === undefined ? "" : ` [${String(elementId)}]`;
  const message = render(texts, keys, record.properties);
  // Masked once more as a whole: a URI may be assembled from several values.
  return maskSecretsInText(
    `${time} ${LEVEL_LABELS[record.level]} ${category}${account} ${message}${extra.join("")}\n`,
  );
}

/**
 * One JSON line: `{"@timestamp", "level" (INFO, WARN, ...), "message", "logger" (the category
 * joined by dots), "properties"}`; an error property becomes `{name, message, stack}`.
 */
export function formatJsonLine(record: LogRecord): string {
  const { texts, keys } = parseTemplate(record.rawMessage);
  const entry = {
    "@timestamp": new Date(record.timestamp).toISOString(),
    level: record.level === "warning" ? "WARN" : record.level.toUpperCase(),
    message: maskSecretsInText(render(texts, keys, record.properties)),
    logger: record.category.join("."),
    properties: record.properties,
  };
  try {
    return `${JSON.stringify(entry, jsonValue)}\n`;
  } catch {
    // A value JSON cannot write (a cycle inside a class instance): its text instead, masked as
    // every string is by the replacer.
    const properties = Object.fromEntries(
      Object.entries(record.properties).map(([key, value]) => [key, String(value)]),
    );
    return `${JSON.stringify({ ...entry, properties }, jsonValue)}\n`;
  }
}

/** The template with each placeholder replaced by its property as {@link show} writes it. */
function render(texts: string[], keys: string[], properties: LogRecord["properties"]): string {
  let out = texts[0]!;
  for (let index = 0; index < keys.length; index++) {
    out += (show(properties[keys[index]!]) ?? "") + texts[index + 1]!;
  }
  return out;
}

/** A value in a message: text and big integers as they are, an error by its message, the rest as JSON. */
function show(value: unknown): string | undefined {
  if (typeof value === "string") return value;
  if (typeof value === "bigint") return value.toString();
  if (value instanceof Error) return value.message;
  try {
    return JSON.stringify(value, jsonValue);
  } catch {
    return maskSecretsInText(String(value));
  }
}

/**
 * The replacer of every value written as JSON. Redaction before the sinks masks plain objects
 * only; a class instance, a `URL` or a value with `toJSON` reaches this point as it was logged,
 * and JSON.stringify has already called its `toJSON` when it gets here. So, at any depth: a
 * field with a secret-looking name is masked, every string has the secrets in its text masked,
 * an array has the value after a secret flag masked.
 */
function jsonValue(key: string, value: unknown): unknown {
  if (key !== "" && isSecretField(key)) return MASK;
  if (typeof value === "string") return maskSecretsInText(value);
  // A copy whose items after `--password` and the like are masked; its items come back here.
  if (Array.isArray(value)) return redactValue(value);
  if (typeof value === "bigint") return value.toString();
  if (value instanceof Error) {
    return {
      name: value.name,
      message: value.message,
      ...(value.stack ? { stack: value.stack } : {}),
    };
  }
  return value;
}
