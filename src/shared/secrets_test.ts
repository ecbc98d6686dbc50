import assert from "node:assert/strict";
import {
  isSecretField,
  maskSecretsInText,
  maskUriCredentials,
  redactUri,
  redactValue,
  scrubUriCredentials,
} from "./secrets.ts";

Deno.test("secrets: URI credentials are masked, the rest is kept", () => {
  assert.equal(
    maskUriCredentials("connect mongodb+srv://alice:s3cr%40t@cluster0.example.net/db?x=1"),
    "connect mongodb+srv://alice:****@cluster0.example.net/db?x=1",
  );
  assert.equal(maskUriCredentials("mongodb://localhost:27017/db"), "mongodb://localhost:27017/db");
});

Deno.test("secrets: secret field names are recognised", () => {
  for (
    const name of ["password", "password_enc", "token", "secret_key", "apiKey", "Authorization"]
  ) {
    assert.ok(isSecretField(name), name);
  }
  for (const name of ["login", "server", "element_id", "equity"]) {
    assert.ok(!isSecretField(name), name);
  }
});

Deno.test("secrets: redactValue masks nested secrets and URIs", () => {
  const value = {
    login: 1234,
    password: "pw",
    nested: [{ token: "t", uri: "mongodb://u:p@h/db" }],
  };
  assert.deepEqual(redactValue(value), {
    login: 1234,
    password: "****",
    nested: [{ token: "****", uri: "mongodb://u:****@h/db" }],
  });
});

Deno.test("secrets: values after secret-looking flags are masked in text and argument lists", () => {
  assert.equal(
    maskSecretsInText(`spawn ["--login","5","--password","pw1"] --token=abc -secret xyz`),
    `spawn ["--login","5","--password","****"] --token=**** -secret ****`,
  );
  assert.deepEqual(redactValue(["--password", "pw", "--login", "5"]), [
    "--password",
    "****",
    "--login",
    "5",
  ]);
});

Deno.test("secrets: awkward passwords in URIs are masked whole", () => {
  const cases = [
    "mongodb://trader:s3cr@t@cluster0.example.net/db",
    "mongodb://trader:pa/ss@cluster0.example.net/db",
    'mongodb://trader:pa"ss@cluster0.example.net/db',
    "mongodb://trader:pa ss@cluster0.example.net/db",
    "mongodb://:onlypass@cluster0.example.net/db",
  ];
  for (const uri of cases) {
    const masked = maskUriCredentials(`connect ${uri} failed`);
    assert.doesNotMatch(masked, /s3cr|pa\/ss|pa"ss|pa ss|onlypass/, masked);
    assert.match(masked, /:\*\*\*\*@cluster0\.example\.net\/db failed$/, masked);
  }
  assert.equal(
    maskUriCredentials(
      "mongodb://h/db?authMechanism=MONGODB-AWS&authMechanismProperties=AWS_SESSION_TOKEN:abc123&password=x",
    ),
    "mongodb://h/db?authMechanism=MONGODB-AWS&authMechanismProperties=AWS_SESSION_TOKEN:****&password=****",
  );
  // Nothing to mask: hosts, ports and paths stay readable.
  assert.equal(
    maskUriCredentials("mongodb://localhost:27017/riskguard failed for user@example"),
    "mongodb://localhost:27017/riskguard failed for user@example",
  );
});

Deno.test("secrets: a URI's credentials are masked whatever they contain", () => {
  const uri = "mongodb://ad min:p@ss w/rd@127.0.0.1:1/x";
  assert.equal(redactUri(uri), "mongodb://****@127.0.0.1:1/x");
  assert.equal(redactUri("mongodb://h1,h2/db"), "mongodb://h1,h2/db");
  // A driver that could not parse the URI echoes pieces of it: they are scrubbed too.
  const echoed = scrubUriCredentials(`getaddrinfo ENOTFOUND ss w for ${uri}`, uri);
  assert.doesNotMatch(echoed, /ss w|p@ss|rd@|ad min/, echoed);
  assert.equal(
    maskUriCredentials("mongodb://ad min:TopSecret1@127.0.0.1:1/x"),
    "mongodb://ad min:****@127.0.0.1:1/x",
  );
});
