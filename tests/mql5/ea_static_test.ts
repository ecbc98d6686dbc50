/**
 * Static checks of the Expert Advisor's MQL5 sources (no MQL5 compiler runs in CI): see
 * `_mql5_check.ts` for the rules. The first test checks the real `mql5/` folder; the others
 * prove that each rule catches what it is meant to catch.
 */
import assert from "node:assert/strict";
import { checkMql5, LIBZMQ_SIGNATURES, type Mql5File } from "./_mql5_check.ts";

const ROOT = new URL("../../", import.meta.url);

function readMql5(): Mql5File[] {
  const files: Mql5File[] = [];
  const walk = (dir: string) => {
    for (const entry of Deno.readDirSync(new URL(dir, ROOT))) {
      const path = `${dir}/${entry.name}`;
      if (entry.isDirectory) walk(path);
      else if (/\.(mq5|mqh)$/i.test(entry.name)) {
        files.push({ path, text: Deno.readTextFileSync(new URL(path, ROOT)) });
      }
    }
  };
  walk("mql5");
  return files;
}

/** The real binding, with `edit` applied: a starting point for the negative cases. */
function withBinding(edit: (text: string) => string): Mql5File[] {
  return readMql5().map((f) =>
    f.path === "mql5/Include/RiskGuard/Zmq.mqh" ? { ...f, text: edit(f.text) } : f
  );
}

Deno.test("mql5: the EA and its binding pass the static checks", () => {
  const files = readMql5();
  const paths = files.map((f) => f.path).sort();
  assert.deepEqual(paths, ["mql5/Include/RiskGuard/Zmq.mqh", "mql5/RiskGuardBridge.mq5"]);
  assert.deepEqual(checkMql5(files), []);
});

Deno.test("mql5: the EA includes its own binding and nothing else", () => {
  const ea = readMql5().find((f) => f.path === "mql5/RiskGuardBridge.mq5")!;
  const includes = [...ea.text.matchAll(/^#include\s+(\S+)/gm)].map((m) => m[1]);
  assert.deepEqual(includes, ["<RiskGuard/Zmq.mqh>"]);
  assert.equal(/#import/.test(ea.text), false, "the EA itself imports no DLL");
});

Deno.test("mql5 check: an include from outside mql5/ is reported", () => {
  const files = readMql5().map((f) =>
    f.path === "mql5/RiskGuardBridge.mq5"
      ? { ...f, text: `#include <Zmq/Zmq.mqh>\n#include "../../src/x.mqh"\n${f.text}` }
      : f
  );
  const problems = checkMql5(files);
  assert.ok(problems.some((p) => p.includes("Zmq/Zmq.mqh")), problems.join("\n"));
  assert.ok(problems.some((p) => p.includes("points outside mql5/")), problems.join("\n"));
});

Deno.test("mql5 check: a char array, anywhere or in an import, is reported", () => {
  const problems = checkMql5(withBinding((t) =>
    t.replace(
      "int  zmq_send(long socket,const uchar &buffer[],ulong length,int flags);",
      "int  zmq_send(long socket,const char &buffer[],ulong length,int flags);",
    ) + "\nvoid Use(){ char local[]; }\n"
  ));
  assert.ok(problems.some((p) => p.includes("zmq_send takes a char array")), problems.join("\n"));
  assert.ok(problems.some((p) => p.includes('a char array ("char local[")')), problems.join("\n"));
});

Deno.test("mql5 check: a string parameter, a missing length or a wrong pointer size is reported", () => {
  const problems = checkMql5(withBinding((t) =>
    t
      .replace(
        "int  zmq_connect(long socket,const uchar &endpoint[]);",
        "int  zmq_connect(long socket,string endpoint);",
      )
      .replace(
        "int  zmq_recv(long socket,uchar &buffer[],ulong length,int flags);",
        "int  zmq_recv(long socket,uchar &buffer[],int flags);",
      )
      .replace("long zmq_socket(long context,int type);", "int  zmq_socket(int context,int type);")
  ));
  const text = problems.join("\n");
  assert.ok(text.includes("zmq_connect takes a string"), text);
  assert.ok(text.includes("zmq_recv: buffer 2 is not followed by a ulong length"), text);
  assert.ok(text.includes(`zmq_socket is declared int (int, int), the C API needs long`), text);
});

Deno.test("mql5 check: a missing import, an unknown DLL and zmq_connect without a C string are reported", () => {
  const problems = checkMql5(withBinding((t) =>
    t
      .replace("int  zmq_errno();", "")
      .replace('#import "kernel32.dll"', '#import "msvcrt.dll"')
      .replace("   ZmqCString(endpoint,bytes);", "   ZmqUtf8(endpoint,bytes);")
  ));
  const text = problems.join("\n");
  assert.ok(text.includes("zmq_errno is not imported"), text);
  assert.ok(text.includes("imports from msvcrt.dll"), text);
  assert.ok(text.includes("zmq_connect is called without a NUL-terminated ZmqCString"), text);
});

Deno.test("mql5 check: a conversion without CP_UTF8 and a variable named round are reported", () => {
  const problems = checkMql5(
    withBinding((t) =>
      t +
      '\nvoid Use(){ uchar b[]; StringToCharArray("x",b); for(int round=0;round<2;round++){} }\n'
    ),
  );
  const text = problems.join("\n");
  assert.ok(text.includes("StringToCharArray without CP_UTF8"), text);
  assert.ok(text.includes("a variable named round"), text);
});

Deno.test("mql5 check: the expected libzmq signatures use x64 pointer and size_t types", () => {
  for (const [name, signature] of Object.entries(LIBZMQ_SIGNATURES)) {
    assert.equal(/\bint\*|\bvoid\*|\bsize_t\b|\bchar\b|\bstring\b/.test(signature), false, name);
  }
});
