/**
 * Finds the account a person names on the command line: by its element id, or by its MT5 login
 * (how its owner knows it), with `--server` when one login exists on two servers. Works over the
 * store port's `getElement` and `listElements`, the same for both adapters.
 *
 * @module
 */
import { RiskGuardError } from "../shared/errors.ts";
import type { ParsedElement, Store } from "../store/mod.ts";

/** The login and server of an element, read from a valid or an invalid document. */
export function loginAndServer(parsed: ParsedElement): { login: unknown; server: unknown } {
  return parsed.valid
    ? { login: parsed.element.login, server: parsed.element.server }
    : { login: parsed.raw.login, server: parsed.raw.server };
}

/**
 * The element named by `ref`: its id, or else its login (digits), on `server` when given.
 *
 * @throws {RiskGuardError} `NOT_FOUND` when nothing matches; `INPUT_INVALID` when a login
 * exists more than once (the message lists each with its server and id) or the id's element is
 * on another server than `--server`. Where the command has no `--server`, pass
 * `serverFlag: false`: an ambiguous login then asks for the id.
 */
export async function resolveElement(
  store: Store,
  ref: string,
  server?: string,
  options: { serverFlag?: boolean } = {},
): Promise<ParsedElement> {
  const text = ref.trim();
  const byId = text === "" ? null : await store.getElement(text);
  if (byId !== null) {
    const found = loginAndServer(byId);
    if (server !== undefined && found.server !== server) {
      throw new RiskGuardError(
        "INPUT_INVALID",
        `Element ${byId.id} is on server ${String(found.server)}, not ${server}`,
      );
    }
    return byId;
  }
  const where = server === undefined ? "" : ` on server ${server}`;
  if (!/^[0-9]+$/.test(text)) {
    throw new RiskGuardError("NOT_FOUND", `No element with id ${ref}${where}`);
  }
  const login = Number(text);
  const matches = (await store.listElements()).filter((parsed) => {
    const found = loginAndServer(parsed);
    return found.login === login && (server === undefined || found.server === server);
  });
  if (matches.length === 1) return matches[0]!;
  if (matches.length === 0) {
    throw new RiskGuardError("NOT_FOUND", `No element with id or login ${ref}${where}`);
  }
  const list = matches.map((parsed) => `${String(loginAndServer(parsed).server)} (id ${parsed.id})`)
    .join(", ");
  const servers = new Set(matches.map((parsed) => loginAndServer(parsed).server));
  const hint = servers.size === matches.length && options.serverFlag !== false
    ? "add --server <name> to pick one"
    : "name it by its id";
  throw new RiskGuardError(
    "INPUT_INVALID",
    `Login ${login} names ${matches.length} elements: ${list}; ${hint}`,
  );
}
