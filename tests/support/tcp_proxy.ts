/**
 * A loopback TCP proxy for outage drills: everything sent to its port goes to the target and
 * back, until {@link TcpProxy.cut} breaks every connection and closes the port (the database
 * looks stopped: connections reset, new ones refused); {@link TcpProxy.restore} opens the same
 * port again. The mongo test server keeps its data in memory, so it cannot be stopped and
 * started again without losing it; cutting the way to it can.
 *
 * @module
 */

/** A running proxy. */
export interface TcpProxy {
  /** The local port to connect to instead of the target's. */
  readonly port: number;
  /** Connections accepted so far. */
  readonly accepted: number;
  /** Breaks every connection and refuses new ones. */
  cut(): void;
  /** Accepts connections again, on the same port. */
  restore(): void;
  /** Stops the proxy. */
  close(): Promise<void>;
}

/** Starts a proxy from a free loopback port to `target`. */
export function startTcpProxy(target: { hostname: string; port: number }): TcpProxy {
  let listener: Deno.TcpListener | undefined;
  const open = new Set<Deno.TcpConn>();
  const tasks = new Set<Promise<void>>();
  let accepted = 0;
  let port = 0;

  const track = (task: Promise<void>) => {
    tasks.add(task);
    void task.finally(() => tasks.delete(task));
  };
  const listen = () => {
    const l = Deno.listen({ hostname: "127.0.0.1", port });
    port = (l.addr as Deno.NetAddr).port;
    listener = l;
    track(acceptLoop(l));
  };
  async function acceptLoop(l: Deno.TcpListener): Promise<void> {
    try {
      for await (const client of l) {
        accepted++;
        track(bridge(client));
      }
    } catch {
      // listener closed by cut() or close()
    }
  }
  async function bridge(client: Deno.TcpConn): Promise<void> {
    open.add(client);
    let upstream: Deno.TcpConn;
    try {
      upstream = await Deno.connect(target);
    } catch {
      open.delete(client);
      closeQuietly(client);
      return;
    }
    open.add(upstream);
    const pipe = async (from: Deno.TcpConn, to: Deno.TcpConn) => {
      try {
        await from.readable.pipeTo(to.writable, { preventClose: true });
      } catch {
        // broken by cut()
      }
      closeQuietly(from);
      closeQuietly(to);
    };
    await Promise.all([pipe(client, upstream), pipe(upstream, client)]);
    open.delete(client);
    open.delete(upstream);
  }
  const cutAll = () => {
    if (listener !== undefined) closeQuietly(listener);
    listener = undefined;
    for (const conn of open) closeQuietly(conn);
    open.clear();
  };

  listen();
  return {
    get port() {
      return port;
    },
    get accepted() {
      return accepted;
    },
    cut: cutAll,
    restore() {
      if (listener === undefined) listen();
    },
    async close() {
      cutAll();
      await Promise.all([...tasks]);
    },
  };
}

function closeQuietly(closer: { close(): void }): void {
  try {
    closer.close();
  } catch {
    // already closed
  }
}
