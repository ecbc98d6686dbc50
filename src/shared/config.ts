/**
 * Configuration: the settings shared by every mode and command, resolved from (highest first)
 * command-line flags, environment variables, an optional JSONC config file, and defaults.
 *
 * Invalid values raise a {@link ConfigError} (exit code 2) whose message names the flag or
 * variable, the value seen (secrets masked) and what is allowed.
 *
 * Validated by hand and free of npm packages, because every risk process resolves it and must
 * stay small: the JSONC file is read by `config_file.ts` (an npm parser), which this module
 * loads only when a config file is named ({@link loadConfigLazily}); `loadConfig` there reads
 * it at once.
 *
 * @module
 */
import { ConfigError } from "./errors.ts";
import { isSecretField, MASK, maskUriCredentials } from "./secrets.ts";
import { DEFAULT_STALE_MS } from "./stale.ts";

/** Log levels, lowest first. */
export const LOG_LEVELS = ["trace", "debug", "info", "warning", "error", "fatal"] as const;

/** A log level name. */
export type LogLevel = typeof LOG_LEVELS[number];

/** Fully resolved configuration. */
export interface Config {
  /** `mongodb://...`, `mongodb+srv://...`, `sqlite:<path>` or a file path. */
  store: string;
  /** MongoDB database name. */
  db: string;
  /** This machine's name in `instances.host` and `elements.host`. */
  host: string;
  /** Lowest level that is logged. */
  log_level: LogLevel;
  /** Optional JSON-lines log file, rotated by size. */
  log_file?: string | undefined;
  /** Optional webhook that receives breach, lock and error events as JSON. */
  webhook_url?: string | undefined;
  /** Optional key (base64, 32 bytes) that encrypts element passwords at rest with AES-GCM. */
  secret_key?: string | undefined;
  /** Seconds without a ping after which an instance is freed and an element deactivated. */
  stale_after_s: number;
  /** Seconds between pings of a risk process. */
  ping_interval_s: number;
}

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

/** The inputs of {@link resolveConfig} and `loadConfig`. */
export interface ConfigInputs {
  /** Values from command-line flags, by config key; `undefined` means "not given". */
  flags?: Partial<Record<ConfigKey, string | undefined>>;
  /** Environment variables (defaults to nothing: pass `Deno.env.toObject()` explicitly). */
  env?: Record<string, string | undefined>;
  /** Path of a JSONC config file (`--config` or `RISKGUARD_CONFIG`). */
  configFile?: string | undefined;
}

/** A config file as read (`readConfigFile` of `config_file.ts`): its path and its values. */
export interface ConfigFile {
  path: string;
  values: Record<string, unknown>;
}

/** The config file the inputs name (`--config`, else `RISKGUARD_CONFIG`), if any. */
export function configFilePath(inputs: ConfigInputs): string | undefined {
  return inputs.configFile ?? inputs.env?.["RISKGUARD_CONFIG"];
}

/**
 * Resolves the configuration from flags > environment > config file > defaults, reading the
 * config file (and loading its JSONC parser, an npm package) only when one is named.
 *
 * @throws {ConfigError} when a value is invalid or the config file cannot be read.
 */
export async function loadConfigLazily(inputs: ConfigInputs = {}): Promise<Config> {
  const path = configFilePath(inputs);
  if (path === undefined) return resolveConfig(inputs);
  const { readConfigFile } = await import("./config_file.ts");
  return resolveConfig(inputs, readConfigFile(path));
}

/**
 * Resolves the configuration from flags > environment > `file` > defaults. `file` must be the
 * file the inputs name ({@link configFilePath}), already read.
 *
 * @throws {ConfigError} when a value is invalid.
 */
export function resolveConfig(inputs: ConfigInputs, file?: ConfigFile): Config {
  const env = inputs.env ?? {};
  const named = configFilePath(inputs);
  if (named !== file?.path) {
    // A caller that skipped the file would silently run with other settings.
    throw new Error(
      named === undefined
        ? `resolveConfig: ${file?.path} was read, but the inputs name no config file`
        : `resolveConfig: the config file ${named} must be read first (readConfigFile)`,
    );
  }
  const fileValues = file?.values ?? {};
  const unknownKeys = Object.keys(fileValues).filter((key) => !(key in CONFIG_SOURCES));
  if (unknownKeys.length > 0) {
    throw new ConfigError(
      `Unknown key ${quoteList(unknownKeys)} in config file ${named}; allowed: ${
        quoteList(Object.keys(CONFIG_SOURCES))
      }`,
    );
  }

  const config: Record<string, unknown> = {};
  const labels = new Map<ConfigKey, string>();
  for (const key of Object.keys(CONFIG_SOURCES) as ConfigKey[]) {
    const source = CONFIG_SOURCES[key];
    let label: string;
    let raw: unknown;
    const envName = source.env.find((name) => nonEmpty(env[name]));
    if (inputs.flags?.[key] !== undefined) {
      [label, raw] = [source.flag, inputs.flags[key]];
    } else if (envName !== undefined) {
      [label, raw] = [envName, env[envName]];
    } else if (key in fileValues) {
      [label, raw] = [`"${key}" in ${named}`, fileValues[key]];
    } else {
      const fallback = defaultOf(key);
      if (fallback !== undefined) config[key] = fallback;
      continue;
    }
    labels.set(key, label);
    const value = CHECKS[key](raw);
    if (value instanceof Refusal) {
      throw new ConfigError(`Invalid value for ${label}: ${showValue(key, raw)}; ${value.what}`);
    }
    config[key] = value;
  }
  const resolved = config as unknown as Config;
  checkStore(resolved.store, labels.get("store") ?? "--store");
  const ping = labels.get("ping_interval_s") ?? "--ping-interval";
  const stale = labels.get("stale_after_s") ?? "--stale-after";
  if (resolved.ping_interval_s * 3 > resolved.stale_after_s) {
    throw new ConfigError(
      `Invalid value for ${ping}: ${resolved.ping_interval_s}; expected at most a third of ` +
        `${stale} (${resolved.stale_after_s}), or live leases would be reaped`,
    );
  }
  return resolved;
}

/** Why a value was refused: what is allowed instead. */
class Refusal {
  constructor(readonly what: string) {}
}

/** The check of each key: the value to use, or a {@link Refusal}. */
const CHECKS: Readonly<Record<ConfigKey, (raw: unknown) => unknown>> = {
  store: (raw) => text(raw, 1, Infinity),
  db: (raw) =>
    typeof raw === "string" && /^[A-Za-z0-9_-]{1,63}$/.test(raw) ? raw : new Refusal(
      typeof raw === "string" ? "expected letters, digits, _ and -, at most 63" : STRING,
    ),
  host: (raw) => text(raw, 1, 253),
  log_level: (raw) =>
    (LOG_LEVELS as readonly unknown[]).includes(raw)
      ? raw
      : new Refusal(`allowed: ${LOG_LEVELS.join(", ")}`),
  log_file: (raw) => text(raw, 1, Infinity),
  webhook_url: webhookUrl,
  secret_key: (raw) => text(raw, 1, Infinity),
  stale_after_s: (raw) => wholeNumber(raw, 10, 86_400),
  ping_interval_s: (raw) => wholeNumber(raw, 1, 3_600),
};

const STRING = "expected a string";

function defaultOf(key: ConfigKey): unknown {
  switch (key) {
    case "store":
      return "sqlite:riskguard.db";
    case "db":
      return "riskguard";
    case "host":
      return defaultHostname();
    case "log_level":
      return "info";
    case "stale_after_s":
      return DEFAULT_STALE_MS / 1_000;
    case "ping_interval_s":
      return 10;
    default:
      return undefined;
  }
}

function text(raw: unknown, min: number, max: number): string | Refusal {
  if (typeof raw !== "string") return new Refusal(STRING);
  if (raw.length < min) return new Refusal(`expected at least ${min} character${plural(min)}`);
  if (raw.length > max) return new Refusal(`expected at most ${max} characters`);
  return raw;
}

/** A number of seconds: numbers and numeric strings (`"300"`) alike, as flags give them. */
function wholeNumber(raw: unknown, min: number, max: number): number | Refusal {
  const value = Number(raw);
  if (!Number.isFinite(value)) return new Refusal("expected a number");
  if (!Number.isInteger(value)) return new Refusal("expected a whole number");
  if (value < min) return new Refusal(`expected at least ${min}`);
  if (value > max) return new Refusal(`expected at most ${max}`);
  return value;
}

/** An `http://` or `https://` URL, trimmed (tabs and line breaks dropped, as a URL parser does). */
function webhookUrl(raw: unknown): string | Refusal {
  if (typeof raw !== "string") return new Refusal(STRING);
  const trimmed = raw.trim();
  const url = /^https?:\/\//i.test(trimmed) ? URL.parse(trimmed) : null;
  if (url === null || !/^https?:$/.test(url.protocol)) {
    return new Refusal("expected an http:// or https:// URL");
  }
  return trimmed.replace(/[\t\n\r]/g, "");
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

/** Shows a value in an error message, masking secrets. */
function showValue(key: string, value: unknown): string {
  if (isSecretField(key)) return MASK;
  return JSON.stringify(typeof value === "string" ? maskUriCredentials(value) : value);
}

function quoteList(items: readonly string[]): string {
  return items.map((item) => `"${item}"`).join(", ");
}

function plural(count: number): string {
  return count === 1 ? "" : "s";
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
