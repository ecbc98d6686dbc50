/**
 * The logging core: loggers by category, levels, records with structured properties and
 * `{name}` message templates, and the routes that hand records to sinks, redacted
 * (`_log_redaction.ts`; values it cannot copy, such as class instances, are masked by the formats
 * as they are written, `_log_format.ts`): no output ever shows a secret. No IO here: `logging.ts`
 * configures the routes and their sinks.
 *
 * It is our own small code rather than a logging library because every risk child loads it,
 * and a child must not load any npm package (issue 16: the first one costs ~5 MB of RSS).
 *
 * @module
 */
import type { LogLevel } from "./config.ts";
import { redactRecord } from "./_log_redaction.ts";

/** One log record (sinks receive it redacted). */
export interface LogRecord {
  /** The logger's category, root first, e.g. `["riskguard", "risk"]`. */
  readonly category: readonly string[];
  /** The record's level. */
  readonly level: LogLevel;
  /** The message template, e.g. `"store failed: {error}"`; see {@link parseTemplate}. */
  readonly rawMessage: string;
  /** Milliseconds since the epoch. */
  readonly timestamp: number;
  /** The logger's context properties (see {@link Logger.with}) and the call's, the call's last. */
  readonly properties: Readonly<Record<string, unknown>>;
}

/** Takes one record; must not throw (a throw is swallowed: logging never stops the caller). */
export type Sink = (record: LogRecord) => void;

/** Writes records of one category (and its sub-categories) from one level up to sinks. */
export interface Route {
  /** Category prefix the route takes, e.g. `["riskguard"]`. */
  category: readonly string[];
  /** Lowest level the route takes. */
  lowestLevel: LogLevel;
  /** Where the route's records go. */
  sinks: readonly Sink[];
}

/** Properties of a record: any values, by name. */
export type LogProperties = Readonly<Record<string, unknown>>;

/** A logger of one category. Records pass through the routes configured when they are made. */
export interface Logger {
  /** The category, root first. */
  readonly category: readonly string[];
  /** Logs at level `trace`. */
  trace(message: string, properties?: LogProperties): void;
  /** Logs at level `debug`. */
  debug(message: string, properties?: LogProperties): void;
  /** Logs at level `info`. */
  info(message: string, properties?: LogProperties): void;
  /** Logs at level `warning`. */
  warn(message: string, properties?: LogProperties): void;
  /** Logs at level `error`. */
  error(message: string, properties?: LogProperties): void;
  /** Logs at level `fatal`. */
  fatal(message: string, properties?: LogProperties): void;
  /** A logger of the same category whose every record also carries `properties`. */
  with(properties: LogProperties): Logger;
}

/** Rank of each level; typed against config's `LogLevel`, so the two lists cannot drift. */
const LEVEL_RANK: Readonly<Record<LogLevel, number>> = {
  trace: 0,
  debug: 1,
  info: 2,
  warning: 3,
  error: 4,
  fatal: 5,
};

/** The routes of the process's setup (`setupLogging`). */
let configured: readonly Route[] = [];
/** Routes added next to them (test collectors); a new setup keeps them. */
let added: readonly Route[] = [];
/** Both, as every record is routed. */
let routes: readonly Route[] = [];

/** Replaces the configured routes (none drops every record, as before logging is set up). */
export function setRoutes(next: readonly Route[]): void {
  configured = [...next];
  routes = [...configured, ...added];
}

/** Adds one route next to the configured ones; returns the function that removes it again. */
export function addRoute(route: Route): () => void {
  added = [...added, route];
  routes = [...configured, ...added];
  return () => {
    added = added.filter((item) => item !== route);
    routes = [...configured, ...added];
  };
}

/** Returns the logger of `category` (root first). */
export function getLogger(category: readonly string[]): Logger {
  return new CategoryLogger([...category], {});
}

class CategoryLogger implements Logger {
  readonly category: readonly string[];
  readonly #context: LogProperties;

  constructor(category: readonly string[], context: LogProperties) {
    this.category = category;
    this.#context = context;
  }

  trace(message: string, properties?: LogProperties): void {
    this.#emit("trace", message, properties);
  }

  debug(message: string, properties?: LogProperties): void {
    this.#emit("debug", message, properties);
  }

  info(message: string, properties?: LogProperties): void {
    this.#emit("info", message, properties);
  }

  warn(message: string, properties?: LogProperties): void {
    this.#emit("warning", message, properties);
  }

  error(message: string, properties?: LogProperties): void {
    this.#emit("error", message, properties);
  }

  fatal(message: string, properties?: LogProperties): void {
    this.#emit("fatal", message, properties);
  }

  with(properties: LogProperties): Logger {
    return new CategoryLogger(this.category, { ...this.#context, ...properties });
  }

  #emit(level: LogLevel, rawMessage: string, properties: LogProperties | undefined): void {
    const sinks = sinksFor(this.category, level);
    if (sinks.length === 0) return; // nothing built for a record nobody takes
    let record: LogRecord;
    try {
      record = redactRecord({
        category: this.category,
        level,
        rawMessage,
        timestamp: Date.now(),
        properties: properties === undefined ? this.#context : { ...this.#context, ...properties },
      });
    } catch {
      return; // a value that cannot be redacted (a throwing getter) is not logged at all
    }
    for (const sink of sinks) {
      try {
        sink(record);
      } catch {
        // A failing sink (a full disk) must not throw into guarding code; the sink reports
        // its own failures where it can.
      }
    }
  }
}

function sinksFor(category: readonly string[], level: LogLevel): Sink[] {
  const sinks: Sink[] = [];
  for (const route of routes) {
    if (LEVEL_RANK[level] < LEVEL_RANK[route.lowestLevel]) continue;
    if (!route.category.every((part, index) => category[index] === part)) continue;
    for (const sink of route.sinks) if (!sinks.includes(sink)) sinks.push(sink);
  }
  return sinks;
}

/** A message template split into its text and placeholder names. */
export interface ParsedTemplate {
  /** Text around the placeholders: always one more than `keys`. */
  texts: string[];
  /** Property names of the placeholders, in order. */
  keys: string[];
}

/**
 * Splits a template such as `"lease {lease} of {id}"`: `{name}` (spaces around the name are
 * trimmed) is the property `name`; `{{` and `}}` are literal braces; a `{` without a closing `}`
 * is text.
 */
export function parseTemplate(template: string): ParsedTemplate {
  const texts: string[] = [];
  const keys: string[] = [];
  let text = "";
  let index = 0;
  while (index < template.length) {
    const char = template[index]!;
    const next = template[index + 1];
    if ((char === "{" && next === "{") || (char === "}" && next === "}")) {
      text += char;
      index += 2;
      continue;
    }
    const close = char === "{" ? template.indexOf("}", index + 1) : -1;
    if (close === -1) {
      text += char;
      index += 1;
      continue;
    }
    texts.push(text);
    keys.push(template.slice(index + 1, close).trim());
    text = "";
    index = close + 1;
  }
  texts.push(text);
  return { texts, keys };
}
