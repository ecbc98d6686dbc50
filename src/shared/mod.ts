/**
 * Shared building blocks: configuration, logging, errors, clock, secrets.
 *
 * @module
 */
export * from "./clock.ts";
export * from "./config.ts";
export * from "./errors.ts";
export * from "./logging.ts";
export * from "./secrets.ts";
export * from "./version.ts";
