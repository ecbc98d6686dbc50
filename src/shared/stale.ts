/**
 * How old a holder's last ping may be before its lease counts as stale: the one default of
 * `--stale-after`, the store's reaper and a risk process taking over a lease by hand.
 *
 * @module
 */

/** Default staleness threshold of leases and instances: 5 minutes, in ms. */
export const DEFAULT_STALE_MS = 5 * 60 * 1000;
