/**
 * A tiny HTML template helper: interpolated values are escaped unless they are {@link Html}
 * (already rendered markup), so text from the store can never inject markup.
 *
 * @module
 */

/** Rendered, trusted markup. */
export class Html {
  /** The markup. */
  readonly text: string;
  /** Wraps markup that is already safe. */
  constructor(text: string) {
    this.text = text;
  }
  /** The markup. */
  toString(): string {
    return this.text;
  }
}

type Part = Html | string | number | null | undefined | false | readonly Part[];

/** Tagged template: `html\`<td>${value}</td>\`` escapes `value`; arrays are joined. */
export function html(strings: TemplateStringsArray, ...values: Part[]): Html {
  let out = strings[0] ?? "";
  values.forEach((value, i) => {
    out += render(value) + (strings[i + 1] ?? "");
  });
  return new Html(out);
}

function render(value: Part): string {
  if (value === null || value === undefined || value === false) return "";
  if (value instanceof Html) return value.text;
  if (Array.isArray(value)) return value.map(render).join("");
  return escapeHtml(String(value));
}

/** Escapes text for HTML content and attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => ESCAPES[char] ?? char);
}

const ESCAPES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};
