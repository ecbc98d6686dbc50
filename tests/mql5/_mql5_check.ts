/**
 * A static check of the MQL5 sources in `mql5/`, run by the test suite because no MetaTrader
 * (and so no MQL5 compiler) runs in CI. It catches the class of error that broke the EA with
 * MT5 build 5100 (the compiler stopped converting `char[]` to `uchar[]`) and the ways a DLL
 * binding goes wrong silently:
 *
 * - every `#include` resolves to a file inside `mql5/` (`<X>` is `mql5/Include/X`, as in a
 *   terminal's `MQL5/Include`; `"X"` is relative to the including file);
 * - `#import` blocks live only in the binding, name only `libzmq.dll` and `kernel32.dll`, and
 *   declare exactly the libzmq functions of {@link LIBZMQ_SIGNATURES} with the parameter types
 *   the C API needs on x64 (pointers as `long`, `size_t` as `ulong`, buffers as `uchar` arrays
 *   followed by their length; only `zmq_connect` takes a NUL-terminated C string);
 * - no imported function takes a `string` or a `char` array, and no `char` array exists at all;
 * - `zmq_connect` is called only where the endpoint was made a C string (`ZmqCString`);
 * - every `StringToCharArray` / `CharArrayToString` names `CP_UTF8`;
 * - no variable is named after a built-in function (`round`, ...).
 *
 * @module
 */

/** One MQL5 source file: its path relative to the repository root (with `/`) and its text. */
export interface Mql5File {
  path: string;
  text: string;
}

/**
 * The libzmq functions the binding declares, with their MQL5 parameter types as the C API
 * (zmq.h) requires them on Windows x64. Key: function name; value: return type and parameters.
 */
export const LIBZMQ_SIGNATURES: Readonly<Record<string, string>> = {
  zmq_ctx_new: "long ()",
  zmq_ctx_term: "int (long)",
  zmq_socket: "long (long, int)",
  zmq_close: "int (long)",
  zmq_setsockopt: "int (long, int, const uchar&[], ulong)",
  zmq_getsockopt: "int (long, int, uchar&[], ulong&)",
  zmq_connect: "int (long, const uchar&[])",
  zmq_send: "int (long, const uchar&[], ulong, int)",
  zmq_recv: "int (long, uchar&[], ulong, int)",
  zmq_errno: "int ()",
  zmq_strerror: "long (int)",
  zmq_version: "void (int&, int&, int&)",
};

/** libzmq functions whose buffer is a NUL-terminated C string rather than bytes + length. */
const C_STRING_FUNCTIONS = new Set(["zmq_connect"]);

const ALLOWED_DLLS = new Set(["libzmq.dll", "kernel32.dll"]);
const BINDING_PATH = "mql5/Include/RiskGuard/Zmq.mqh";
const BUILTIN_NAMES = ["round", "floor", "ceil", "fabs", "log", "exp", "pow", "sqrt", "rand"];

interface ImportedFunction {
  dll: string;
  name: string;
  returns: string;
  params: string[];
  file: string;
}

/** Checks the MQL5 sources; returns one line per problem (empty when all is well). */
export function checkMql5(files: readonly Mql5File[]): string[] {
  const problems: string[] = [];
  const paths = new Set(files.map((f) => f.path));
  const imports: ImportedFunction[] = [];
  for (const file of files) {
    const code = stripComments(file.text);
    checkIncludes(file, code, paths, problems);
    imports.push(...readImports(file, code, problems));
    checkCharArrays(file, code, problems);
    checkConversions(file, code, problems);
    checkBuiltinNames(file, code, problems);
  }
  checkImports(imports, problems);
  for (const file of files) checkCStringCalls(file, stripComments(file.text), problems);
  return problems;
}

function checkIncludes(
  file: Mql5File,
  code: string,
  paths: Set<string>,
  problems: string[],
): void {
  for (const match of code.matchAll(/^[ \t]*#include\s+(?:<([^>\n]+)>|"([^"\n]+)")/gm)) {
    const target = (match[1] ?? match[2] ?? "").replaceAll("\\", "/");
    const base = match[1] !== undefined ? "mql5/Include" : dirname(file.path);
    const resolved = normalize(`${base}/${target}`);
    if (resolved === undefined || !resolved.startsWith("mql5/")) {
      problems.push(`${file.path}: #include ${match[0].trim()} points outside mql5/`);
    } else if (!paths.has(resolved)) {
      problems.push(`${file.path}: #include of ${target} needs ${resolved}, which is not in mql5/`);
    }
  }
}

function readImports(file: Mql5File, code: string, problems: string[]): ImportedFunction[] {
  const found: ImportedFunction[] = [];
  for (const block of code.matchAll(/#import\s+"([^"]+)"([\s\S]*?)#import\b/g)) {
    const dll = block[1]!.toLowerCase();
    if (file.path !== BINDING_PATH) {
      problems.push(`${file.path}: #import "${dll}" outside ${BINDING_PATH}`);
    }
    if (!ALLOWED_DLLS.has(dll)) problems.push(`${file.path}: imports from ${dll}`);
    for (const decl of block[2]!.split(";")) {
      const text = decl.replace(/\s+/g, " ").trim();
      if (text === "") continue;
      const m = /^([\w ]+?)\s+(\w+)\s*\(([^)]*)\)$/.exec(text);
      if (m === null) {
        problems.push(`${file.path}: cannot read the import declaration "${text}"`);
        continue;
      }
      const params = m[3]!.trim() === "" || m[3]!.trim() === "void"
        ? []
        : m[3]!.split(",").map(normalizeParam);
      found.push({ dll, name: m[2]!, returns: m[1]!.trim(), params, file: file.path });
    }
  }
  return found;
}

function checkImports(imports: ImportedFunction[], problems: string[]): void {
  const zmq = new Map<string, ImportedFunction>();
  for (const fn of imports) {
    for (const param of fn.params) {
      if (/\bstring\b/.test(param)) {
        problems.push(`${fn.file}: ${fn.name} takes a string (a UTF-16 pointer for a DLL)`);
      }
      if (/(^|\s)char\b/.test(param)) problems.push(`${fn.file}: ${fn.name} takes a char array`);
      if (param.endsWith("[]") && !/\buchar&\[\]$/.test(param)) {
        problems.push(`${fn.file}: ${fn.name} takes an array that is not uchar: ${param}`);
      }
    }
    if (fn.dll !== "libzmq.dll") continue;
    if (zmq.has(fn.name)) problems.push(`${fn.file}: ${fn.name} is imported twice`);
    zmq.set(fn.name, fn);
    const expected = LIBZMQ_SIGNATURES[fn.name];
    const actual = `${fn.returns} (${fn.params.join(", ")})`;
    if (expected === undefined) {
      problems.push(`${fn.file}: ${fn.name} is not a libzmq function the binding should import`);
    } else if (actual !== expected) {
      problems.push(`${fn.file}: ${fn.name} is declared ${actual}, the C API needs ${expected}`);
    }
    fn.params.forEach((param, i) => {
      if (!param.endsWith("[]") || C_STRING_FUNCTIONS.has(fn.name)) return;
      const next = fn.params[i + 1];
      if (next === undefined || !/^ulong&?$/.test(next)) {
        problems.push(`${fn.file}: ${fn.name}: buffer ${i + 1} is not followed by a ulong length`);
      }
    });
  }
  for (const name of Object.keys(LIBZMQ_SIGNATURES)) {
    if (!zmq.has(name)) problems.push(`${BINDING_PATH}: ${name} is not imported`);
  }
}

function checkCharArrays(file: Mql5File, code: string, problems: string[]): void {
  const noStrings = stripStrings(code);
  for (const m of noStrings.matchAll(/\bchar\s*&?\s*\w+\s*\[/g)) {
    problems.push(`${file.path}: a char array ("${m[0]}"): use uchar for bytes`);
  }
}

function checkConversions(file: Mql5File, code: string, problems: string[]): void {
  for (const name of ["StringToCharArray", "CharArrayToString"]) {
    for (const call of calls(code, name)) {
      if (!call.includes("CP_UTF8")) {
        problems.push(`${file.path}: ${name} without CP_UTF8: ${call.replace(/\s+/g, " ")}`);
      }
    }
  }
}

function checkBuiltinNames(file: Mql5File, code: string, problems: string[]): void {
  const names = BUILTIN_NAMES.join("|");
  const re = new RegExp(
    `\\b(?:int|uint|long|ulong|double|float|bool|string|short|ushort|uchar)\\s+(${names})\\s*[=;,)\\[]`,
    "g",
  );
  for (const m of stripStrings(code).matchAll(re)) {
    problems.push(`${file.path}: a variable named ${m[1]} hides the built-in function`);
  }
}

function checkCStringCalls(file: Mql5File, code: string, problems: string[]): void {
  for (const name of C_STRING_FUNCTIONS) {
    const re = new RegExp(`\\b${name}\\s*\\(`, "g");
    for (const m of code.matchAll(re)) {
      const body = enclosingBlock(code, m.index);
      if (body === undefined) continue; // the #import declaration itself
      if (!body.includes("ZmqCString(")) {
        problems.push(`${file.path}: ${name} is called without a NUL-terminated ZmqCString`);
      }
    }
  }
}

/** "const uchar &value[]" -> "const uchar&[]"; "int &major" -> "int&"; "long socket" -> "long". */
function normalizeParam(param: string): string {
  const text = param.replace(/\s+/g, " ").trim();
  const array = /\[\s*\d*\s*\]$/.test(text);
  const ref = text.includes("&");
  const words = text.replace(/\[\s*\d*\s*\]$/, "").replace("&", " ").trim().split(/\s+/);
  const type = words.slice(0, -1).join(" ");
  return `${type}${ref ? "&" : ""}${array ? "[]" : ""}`;
}

/** The text of every call `name(...)` (with balanced parentheses). */
function calls(code: string, name: string): string[] {
  const out: string[] = [];
  const re = new RegExp(`\\b${name}\\s*\\(`, "g");
  for (const m of code.matchAll(re)) {
    let depth = 0;
    for (let i = m.index + m[0].length - 1; i < code.length; i++) {
      if (code[i] === "(") depth++;
      if (code[i] === ")" && --depth === 0) {
        out.push(code.slice(m.index, i + 1));
        break;
      }
    }
  }
  return out;
}

/** The top-level `{...}` block (a function body) around `index`, or undefined at top level. */
function enclosingBlock(code: string, index: number): string | undefined {
  let depth = 0;
  let start = -1;
  for (let i = 0; i < index; i++) {
    if (code[i] === "{" && depth++ === 0) start = i;
    if (code[i] === "}") depth--;
  }
  if (depth === 0) return undefined;
  let end = index;
  for (let d = depth; end < code.length && d > 0; end++) {
    if (code[end] === "{") d++;
    if (code[end] === "}") d--;
  }
  return code.slice(start, end);
}

/** Removes `//` and `/* *\/` comments, keeping string literals (and line breaks). */
function stripComments(text: string): string {
  let out = "";
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === '"' || c === "'") {
      const end = literalEnd(text, i);
      out += text.slice(i, end);
      i = end;
    } else if (c === "/" && text[i + 1] === "/") {
      while (i < text.length && text[i] !== "\n") i++;
    } else if (c === "/" && text[i + 1] === "*") {
      const end = text.indexOf("*/", i + 2);
      const stop = end < 0 ? text.length : end + 2;
      out += text.slice(i, stop).replace(/[^\n]/g, " ");
      i = stop;
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

/** Replaces the contents of string and character literals with spaces. */
function stripStrings(code: string): string {
  let out = "";
  let i = 0;
  while (i < code.length) {
    const c = code[i]!;
    if (c === '"' || c === "'") {
      const end = literalEnd(code, i);
      out += c + " ".repeat(Math.max(0, end - i - 2)) + c;
      i = end;
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

function literalEnd(text: string, start: number): number {
  const quote = text[start];
  let i = start + 1;
  while (i < text.length && text[i] !== quote && text[i] !== "\n") {
    i += text[i] === "\\" ? 2 : 1;
  }
  return Math.min(text.length, i + 1);
}

function dirname(path: string): string {
  const slash = path.lastIndexOf("/");
  return slash < 0 ? "" : path.slice(0, slash);
}

/** Resolves `.` and `..`; undefined when the path climbs above the repository root. */
function normalize(path: string): string | undefined {
  const parts: string[] = [];
  for (const part of path.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") {
      if (parts.length === 0) return undefined;
      parts.pop();
    } else parts.push(part);
  }
  return parts.join("/");
}
