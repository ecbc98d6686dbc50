/**
 * Admin mode: watch the elements, claim FREE instances, launch and supervise one risk child per
 * account, reap stale leases, beat a heartbeat. `docs/operations.md` describes how to run it.
 *
 * @module
 */
export { type AdminOptions, retryStore, runAdmin } from "./admin.ts";
export {
  type ChildProbe,
  type ChildRecord,
  CONTROL_DIR_ENV,
  ControlDir,
  defaultControlDir,
  registerChild,
} from "../shared/control_dir.ts";
export {
  ADMIN_TIMING_ENV,
  type AdminTiming,
  adminTimingFromEnv,
  DEFAULT_ADMIN_TIMING,
} from "./options.ts";
export { renderHostTable } from "./table.ts";
