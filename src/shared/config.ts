/**
 * Configuration: one zod schema, filled from (highest first) command-line flags, environment
 * variables, an optional JSONC config file, and defaults.
 *
 * Invalid values raise a {@link ConfigError} (exit code 2) whose message names the flag or
 * variable, the value seen (secrets masked) and what is allowed.
 *
 * @module
 */
import { z } from "zod";
import { parse as parseJsonc, type ParseError, printParseErrorCode } from "jsonc-parser";
import { ConfigError } from "./errors.ts";
import { isSecretField, MASK, maskUriCredentials } from "./secrets.ts";
import { DEFAULT_STALE_MS } from "./stale.ts";

/** Log levels, lowest first. */
export const LOG_LEVELS = ["trace", "debug", "info", "warning", "error", "fatal"] as const;

/** A log level name. */
export type LogLevel = typeof LOG_LEVELS[number];

/** The schema of the settings shared by every mode and command. */
export const configSchema = z.object({
  /** `mongodb://...`, `mongodb+srv://...`, `sqlite:<path>` or a file path. */
  store: z.string().min(1).default("sqlite:riskguard.db"),
  /** MongoDB database name. */
  db: z.string().regex(/^[A-Za-z0-9_-]{1,63}$/, "letters, digits, _ and -, at most 63").default(
    "riskguard",
  ),
  /** This machine's name in `instances.host` and `elements.host`. */
  host: z.string().min(1).max(253).default(defaultHostname()),
  /** Lowest level that is logged. */
  log_level: z.enum(LOG_LEVELS).default("info"),
  /** Optional JSON-lines log file, rotated by size. */
  log_file: z.string().min(1).optional(),
  /** Optional webhook that receives breach, lock and error events as JSON. */
  webhook_url: z.url({ protocol: /^https?$/ }).optional(),
  /** Optional key (base64, 32 bytes) that encrypts element passwords at rest with AES-GCM. */
  secret_key: z.string().min(1).optional(),
  /** Seconds without a ping after which an instance is freed and an element deactivated. */
  stale_after_s: z.coerce.number().int().min(10).max(86_400).default(DEFAULT_STALE_MS / 1_000),
  /** Seconds between pings of a risk process. */
  ping_interval_s: z.coerce.number().int().min(1).max(3_600).default(10),
});

/** Fully resolved configuration. */
export type Config = z.infer<typeof configSchema>;

/** A configuration key. */
export type ConfigKey = keyof Config;

/** Where each key can come from, for error messages and for the loader. */
interface KeySource {
  flag: string;
  env: readonly string[];
}

/** Flag and environment variable names for every key. `MONGODB_URI` is an alias of the store. */
export const CONFIG_SOURCES: Readonly<Record<ConfigKey, KeySource>> = {
  store: { flag: "--store", env: ["RISKGUARD_STORE", "MONGODB_URI"] },
  db: { flag: "--db", env: ["RISKGUARD_DB"] },
  host: { flag: "--host", env: ["RISKGUARD_HOST"] },
  log_level: { flag: "--log-level", env: ["RISKGUARD_LOG_LEVEL"] },
  log_file: { flag: "--log-file", env: ["RISKGUARD_LOG_FILE"] },
  webhook_url: { flag: "--webhook-url", env: ["RISKGUARD_WEBHOOK_URL"] },
  secret_key: { flag: "--secret-key", env: ["RISKGUARD_SECRET_KEY"] },
  stale_after_s: { flag: "--stale-after", env: ["RISKGUARD_STALE_AFTER_S"] },
  ping_interval_s: { flag: "--ping-interval", env: ["RISKGUARD_PING_INTERVAL_S"] },
};

/** The inputs of {@link loadConfig}. */
export interface ConfigInputs {
  /** Values from command-line flags, by config key; `undefined` means "not given". */
  flags?: Partial<Record<ConfigKey, string | undefined>>;
  /** Environment variables (defaults to nothing: pass `Deno.env.toObject()` explicitly). */
  env?: Record<string, string | undefined>;
  /** Path of a JSONC config file (`--config` or `RISKGUARD_CONFIG`). */
  configFile?: string | undefined;
}

type Origin = { label: string; value: unknown };

/**
 * Resolves the configuration from flags > environment > config file > defaults.
 *
 * @throws {ConfigError} when a value is invalid or the config file cannot be read.
 */
export function loadConfig(inputs: ConfigInputs = {}): Config {
  const env = inputs.env ?? {};
  const configPath = inputs.configFile ?? env["RISKGUARD_CONFIG"];
  const fileValues = configPath === undefined ? {} : readConfigFile(configPath);

  const raw: Record<string, unknown> = {};
  const origins = new Map<string, Origin>();
  for (const key of Object.keys(CONFIG_SOURCES) as ConfigKey[]) {
    const source = CONFIG_SOURCES[key];
    const fromFlag = inputs.flags?.[key];
    if (fromFlag !== undefined) {
      raw[key] = fromFlag;
      origins.set(key, { label: source.flag, value: fromFlag });
      continue;
    }
    const envName = source.env.find((name) => nonEmpty(env[name]));
    if (envName !== undefined) {
      raw[key] = env[envName];
      origins.set(key, { label: envName, value: env[envName] });
      continue;
    }
    if (key in fileValues) {
      raw[key] = fileValues[key];
      origins.set(key, { label: `"${key}" in ${configPath}`, value: fileValues[key] });
    }
  }
  const unknownKeys = Object.keys(fileValues).filter((key) => !(key in CONFIG_SOURCES));
  if (unknownKeys.length > 0) {
    throw new ConfigError(
      `Unknown key ${quoteList(unknownKeys)} in config file ${configPath}; allowed: ${
        quoteList(Object.keys(CONFIG_SOURCES))
      }`,
    );
  }

  const result = configSchema.safeParse(raw);
  if (result.success) {
    checkStore(result.data.store, origins.get("store")?.label ?? "--store");
    const ping = origins.get("ping_interval_s")?.label ?? "--ping-interval";
    const stale = origins.get("stale_after_s")?.label ?? "--stale-after";
    if (result.data.ping_interval_s * 3 > result.data.stale_after_s) {
      throw new ConfigError(
        `Invalid value for ${ping}: ${result.data.ping_interval_s}; expected at most a third of ` +
          `${stale} (${result.data.stale_after_s}), or live leases would be reaped`,
      );
    }
    return result.data;
  }
  const issue = result.error.issues[0]!;
  const key = String(issue.path[0] ?? "");
  const origin = origins.get(key);
  const where = origin?.label ?? key;
  const seen = origin === undefined ? "(default)" : showValue(key, origin.value);
  throw new ConfigError(`Invalid value for ${where}: ${seen}; ${describeIssue(issue)}`);
}

/**
 * Catches store values that would silently open the wrong store: a `MONGODB_URI` that is no
 * MongoDB URI (it would become a SQLite file), `mongodb:/host` without the second slash, and
 * unknown schemes. Windows drive letters (`C:\\...`) are paths, not schemes.
 */
function checkStore(store: string, source: string): void {
  const shown = JSON.stringify(maskUriCredentials(store));
  const mongo = /^mongodb(\+srv)?:\/\//i.test(store);
  if (source === "MONGODB_URI" && !mongo) {
    throw new ConfigError(
      `Invalid value for MONGODB_URI: ${shown}; expected mongodb://... or mongodb+srv://...`,
    );
  }
  if (!mongo && /^mongodb/i.test(store)) {
    throw new ConfigError(
      `Invalid value for ${source}: ${shown}; expected mongodb://... or mongodb+srv://...`,
    );
  }
  const scheme = /^([a-z][a-z0-9+.-]+):/i.exec(store)?.[1]?.toLowerCase();
  if (scheme !== undefined && !mongo && scheme !== "sqlite") {
    throw new ConfigError(
      `Invalid value for ${source}: ${shown}; expected mongodb://..., mongodb+srv://..., ` +
        `sqlite:<path> or a file path`,
    );
  }
}

function readConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch (error) {
    throw new ConfigError(`Cannot read config file ${path}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  const errors: ParseError[] = [];
  const value: unknown = parseJsonc(text, errors, { allowTrailingComma: true });
  if (errors.length > 0) {
    const first = errors[0]!;
    throw new ConfigError(
      `Cannot parse config file ${path}: ${
        printParseErrorCode(first.error)
      } at offset ${first.offset}`,
    );
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new ConfigError(`Config file ${path} must hold a JSON object`);
  }
  return value as Record<string, unknown>;
}

function describeIssue(issue: z.core.$ZodIssue): string {
  if (issue.code === "too_small" || issue.code === "too_big") {
    const bound = String(issue.code === "too_small" ? issue.minimum : issue.maximum);
    const side = issue.code === "too_small" ? "at least" : "at most";
    return `expected ${side} ${issue.inclusive === false ? "(exclusive) " : ""}${bound}`;
  }
  if (issue.code === "invalid_type" && issue.expected === "int") return "expected a whole number";
  if (issue.code === "invalid_format" && issue.format === "url") {
    return "expected an http:// or https:// URL";
  }
  if (issue.code === "invalid_value") {
    return `allowed: ${issue.values.map((v) => String(v)).join(", ")}`;
  }
  return `expected ${issue.message.replace(/^Invalid input: /, "")}`;
}

/** Shows a value in an error message, masking secrets. */
function showValue(key: string, value: unknown): string {
  if (isSecretField(key)) return MASK;
  return JSON.stringify(typeof value === "string" ? maskUriCredentials(value) : value);
}

function quoteList(items: readonly string[]): string {
  return items.map((item) => `"${item}"`).join(", ");
}

function nonEmpty(value: string | undefined): value is string {
  return value !== undefined && value !== "";
}

function defaultHostname(): string {
  try {
    return Deno.hostname();
  } catch {
    return "localhost";
  }
}
