import assert from "node:assert/strict";
import { parseCsv, toCsv } from "./_csv.ts";

Deno.test("parseCsv: quotes, doubled quotes, commas and line breaks in fields, CRLF, BOM, lines", () => {
  const text = '\uFEFFa,b,c\r\n1,"x, y","say ""hi"""\r\n\r\n2,"two\nlines",\n3,,last';
  assert.deepEqual(parseCsv(text), [
    { line: 1, cells: ["a", "b", "c"] },
    { line: 2, cells: ["1", "x, y", 'say "hi"'] },
    { line: 4, cells: ["2", "two\nlines", ""] },
    { line: 6, cells: ["3", "", "last"] },
  ]);
});

Deno.test("parseCsv: an unclosed quote or text after a closing quote names the line", () => {
  assert.throws(
    () => parseCsv('a,b\n1,"open\n2,3\n'),
    /CSV line 2: a quoted field is never closed/,
  );
  assert.throws(() => parseCsv('a,b\n1,"x"y\n'), /CSV line 2: text after a closing quote/);
});

Deno.test("toCsv quotes what must be quoted, and parseCsv reads it back", () => {
  const rows = [["plain", "a,b", 'q"q', "two\nlines", " pad", ""]];
  const text = toCsv(["h1", "h2", "h3", "h4", "h5", "h6"], rows);
  assert.equal(text, 'h1,h2,h3,h4,h5,h6\nplain,"a,b","q""q","two\nlines"," pad",\n');
  assert.deepEqual(parseCsv(text).map((record) => record.cells), [
    ["h1", "h2", "h3", "h4", "h5", "h6"],
    ...rows,
  ]);
});
