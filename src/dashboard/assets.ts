/**
 * The dashboard's static files, embedded in the program: imported as text, so `deno compile`
 * packs them into the executable and nothing needs to sit beside it. uPlot comes from npm
 * (`npm:uplot`), never from a CDN.
 *
 * @module
 */
import uplotJs from "uplot/dist/uPlot.iife.min.js" with { type: "text" };
import uplotCss from "uplot/dist/uPlot.min.css" with { type: "text" };
import dashboardJs from "./assets/dashboard.js" with { type: "text" };
import dashboardCss from "./assets/dashboard.css" with { type: "text" };

/** One embedded file. */
export interface Asset {
  /** Its `Content-Type`. */
  type: string;
  /** Its content. */
  body: string;
  /** A strong validator for caching (content hash). */
  etag: string;
}

const JS = "text/javascript; charset=utf-8";
const CSS = "text/css; charset=utf-8";

/** The embedded files by name (served under `/assets/`). */
export const ASSETS: ReadonlyMap<string, Asset> = new Map(
  [
    ["uPlot.iife.min.js", JS, uplotJs],
    ["uPlot.min.css", CSS, uplotCss],
    ["dashboard.js", JS, dashboardJs],
    ["dashboard.css", CSS, dashboardCss],
  ].map(([name, type, body]) => [name!, { type: type!, body: body!, etag: `"${hash(body!)}"` }]),
);

/** A short FNV-1a hash of `text` (cache validator, not security). */
function hash(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0).toString(16);
}
