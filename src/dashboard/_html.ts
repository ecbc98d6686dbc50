/**
 * A tiny HTML template helper: interpolated values are escaped unless they are {@link Html}
 * (already rendered markup), so text from the store can never inject markup.
 *
 * `deno fmt` formats `html` templates as HTML. Keep each one plain markup with simple holes
 * (`${value}`): work conditions, lists and optional attributes ({@link attrs}) out before the
 * template, or in a small helper per component, and the formatter keeps the markup readable.
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

/**
 * Attributes from a record, each ` name="value"` (escaped): `null`, `undefined`, `false` and
 * `""` leave the attribute out, `true` writes it bare. Keeps conditions out of the templates:
 * `html\`<tr${attrs({ class: locked ? "locked" : null })}>\``.
 */
export function attrs(record: Record<string, string | number | boolean | null | undefined>): Html {
  let out = "";
  for (const [name, value] of Object.entries(record)) {
    if (value === null || value === undefined || value === false || value === "") continue;
    out += value === true ? ` ${name}` : ` ${name}="${escapeHtml(String(value))}"`;
  }
  return new Html(out);
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
