/**
 * The frame every page shares: head, navigation, styles and the script (folder-private).
 *
 * @module
 */
import { attrs, Html, html } from "./_html.ts";

/** Which page is shown (its nav entry is marked, the script picks its behaviour). */
export type PageName = "fleet" | "account" | "hosts";

/** Options of {@link layout}. */
export interface LayoutOptions {
  /** The page's `<title>`. */
  title: string;
  /** Which page this is. */
  page: PageName;
  /** `data-*` attributes of `<body>` the script reads (e.g. the account id). */
  data?: Record<string, string | number>;
  /** Also load uPlot (the account page's chart). */
  chart?: boolean;
}

/** A whole HTML document around `body`. */
export function layout(options: LayoutOptions, body: Html): Html {
  const data = attrs(
    Object.fromEntries(Object.entries(options.data ?? {}).map(([k, v]) => [`data-${k}`, v])),
  );
  const nav = (page: PageName, href: string, label: string) => {
    const active = attrs({ class: page === options.page ? "active" : null });
    return html`
      <a href="${href}" ${active}>${label}</a>
    `;
  };
  const chartCss = options.chart ? html`<link rel="stylesheet" href="/assets/uPlot.min.css">` : "";
  const chartJs = options.chart ? html`<script src="/assets/uPlot.iife.min.js"></script>` : "";
  const links = [nav("fleet", "/", "Fleet"), nav("hosts", "/hosts", "Hosts")];
  return trimmed(html`
    <!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>${options.title} · riskguard</title>
        <link rel="stylesheet" href="/assets/dashboard.css">
        ${chartCss}
      </head>
      <body data-page="${options.page}" ${data}>
        <header>
          <strong>riskguard</strong>
          <nav>${links}</nav>
          <span id="live" class="live" title="live updates">connecting…</span>
        </header>
        <main>${body}</main>
        ${chartJs}
        <script src="/assets/dashboard.js"></script>
      </body>
    </html>
  `);
}

/** The document without the indentation the formatter gives template literals. */
function trimmed(markup: Html): Html {
  return new Html(markup.text.trim());
}
