/**
 * The web dashboard: fleet, account and hosts pages over the store, live by Server-Sent
 * Events from the store's change feed, with token-protected actions.
 *
 * @module
 */
export { type DashboardServer, serveDashboard, type ServeDashboardOptions } from "./server.ts";
export {
  DASHBOARD_TOKEN_ENV,
  DEFAULT_DASHBOARD_LISTEN,
  type ListenAddress,
  parseListen,
} from "./listen.ts";
export { dashboardApp, type DashboardAppOptions } from "./app.ts";
export { FleetHub, type FleetHubOptions, type FleetUpdate } from "./fleet_hub.ts";
export type { FleetRow } from "./rows.ts";
