/**
 * Small network helpers.
 *
 * @module
 */

/**
 * A base port `p` such that `p` and `p + 1` are free on 127.0.0.1 right now (a bridge binds
 * both). Another program may still take them before they are used: callers bind at once.
 */
export function freePortPair(): number {
  for (let attempt = 0; attempt < 50; attempt++) {
    const first = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (first.addr as Deno.NetAddr).port;
    try {
      if (port < 65_534) {
        Deno.listen({ hostname: "127.0.0.1", port: port + 1 }).close();
        return port;
      }
    } catch {
      // port + 1 is taken: try another pair
    } finally {
      first.close();
    }
  }
  throw new Error("no free port pair on 127.0.0.1");
}
