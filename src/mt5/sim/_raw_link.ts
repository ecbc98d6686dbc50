/**
 * A raw ZMTP PUSH connection for the simulated EA's connection faults: the handshake done with
 * the sans-IO {@link ZmtpConnection}, then bytes written as the fault needs them (half a frame,
 * frames that are not valid messages, bytes that are not ZMTP at all), which a well-behaved
 * {@link PushSocket} can never send.
 *
 * @module
 */
import { encodeMessage, ZmtpConnection } from "../zmtp/mod.ts";

/** An authenticated PUSH connection to the agent, written to byte by byte. */
export interface RawLink {
  /** Writes bytes as they are. */
  write(bytes: Uint8Array): Promise<void>;
  /** Writes one well-formed single-frame message. */
  sendMessage(body: Uint8Array): Promise<void>;
  /** Resolves when the agent closes the connection, or after `ms` (false then). */
  closedByPeer(ms: number): Promise<boolean>;
  /** Closes the connection (abruptly: no ZMTP goodbye exists). */
  close(): void;
}

/** Connects to `host:port` and completes the PLAIN handshake as a PUSH client. */
export async function openRawLink(
  host: string,
  port: number,
  credentials: { username: string; password: string },
  timeoutMs = 3_000,
): Promise<RawLink> {
  const conn = await Deno.connect({ hostname: host, port });
  const zmtp = new ZmtpConnection({
    socketType: "PUSH",
    mechanism: { type: "plain", role: "client", ...credentials },
  });
  const buffer = new Uint8Array(16 * 1024);
  const flush = async () => {
    for (const chunk of zmtp.takeOutput()) await writeAll(conn, chunk);
  };
  const timer = setTimeout(() => conn.close(), timeoutMs);
  try {
    await flush();
    while (!zmtp.ready) {
      const n = await conn.read(buffer);
      if (n === null) throw new Error("the agent closed the connection during the handshake");
      const events = zmtp.receive(buffer.subarray(0, n));
      await flush();
      const failed = events.find((event) => event.type === "failed");
      if (failed !== undefined) throw new Error(`handshake failed: ${failed.reason}`);
    }
  } catch (error) {
    try {
      conn.close();
    } catch {
      // closed by the timer
    }
    throw error;
  } finally {
    clearTimeout(timer);
  }
  let closed = false;
  // Read (and ignore) what the agent sends, to notice when it closes the connection.
  const ended = (async () => {
    try {
      while ((await conn.read(buffer)) !== null) {
        // commands to a PUSH peer: none expected on this side
      }
    } catch {
      // closed here
    }
    closed = true;
  })();
  return {
    write: (bytes) => writeAll(conn, bytes),
    sendMessage: (body) => writeAll(conn, encodeMessage([body])),
    closedByPeer: (ms) =>
      new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(closed), ms);
        void ended.then(() => {
          clearTimeout(timer);
          resolve(true);
        });
      }),
    close: () => {
      try {
        conn.close();
      } catch {
        // already closed
      }
    },
  };
}

async function writeAll(conn: Deno.TcpConn, bytes: Uint8Array): Promise<void> {
  let written = 0;
  while (written < bytes.length) written += await conn.write(bytes.subarray(written));
}
