/**
 * The fleet demo: admin guarding simulated accounts through the production path, shown live.
 *
 * @module
 */
export { type DemoIo, runDemo } from "./run.ts";
export {
  DEFAULT_DEMO_OPTIONS,
  type DemoOptions,
  MAX_DEMO_ACCOUNTS,
  parseDemoOptions,
  type RawDemoOptions,
} from "./options.ts";
