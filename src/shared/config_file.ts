/**
 * The JSONC config file (`--config riskguard.jsonc` or `RISKGUARD_CONFIG`): comments and
 * trailing commas allowed. Apart from `config.ts` because its parser is an npm package, which a
 * risk process started without a config file never loads.
 *
 * @module
 */
import { parse as parseJsonc, type ParseError, printParseErrorCode } from "jsonc-parser";
import {
  type Config,
  type ConfigFile,
  configFilePath,
  type ConfigInputs,
  resolveConfig,
} from "./config.ts";
import { ConfigError } from "./errors.ts";

/**
 * Resolves the configuration from flags > environment > config file > defaults, reading the
 * config file the inputs name at once.
 *
 * @throws {ConfigError} when a value is invalid or the config file cannot be read.
 */
export function loadConfig(inputs: ConfigInputs = {}): Config {
  const path = configFilePath(inputs);
  return resolveConfig(inputs, path === undefined ? undefined : readConfigFile(path));
}

/**
 * Reads a config file: one JSON object, with comments and trailing commas allowed.
 *
 * @throws {ConfigError} when it cannot be read, parsed, or holds something else.
 */
export function readConfigFile(path: string): ConfigFile {
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
  return { path, values: value as Record<string, unknown> };
}
