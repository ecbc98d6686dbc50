/**
 * An EA that a test drives step by step, over the project's real ZMTP sockets with PLAIN (as
 * the bridge EA does): it says hello, sends the snapshots and heartbeats the test hands it, and
 * records and acknowledges the commands it receives as the test's ack policy says. Plug it into
 * `runRisk` with {@link scriptedTerminal}.
 *
 * @module
 */
import {
  type Ack,
  type Command,
  decodeCommand,
  encodeMessage,
  PLAIN_USERNAME,
  type Snapshot,
} from "../../src/mt5/protocol.ts";
import type { LaunchTerminalOptions, TerminalHandle } from "../../src/mt5/terminal.ts";
import { PullSocket, PushSocket } from "../../src/mt5/zmtp/mod.ts";
import { sampleSnapshot, type SampleSnapshotOptions } from "../../src/rules/samples.ts";

/** The login the scripted EA reports. */
export const SCRIPTED_LOGIN = 6_000_001;

/** A command as received, with when it arrived (epoch ms). */
export interface ReceivedCommand {
  command: Command;
  at: number;
}

/** Decides the ack of a command: the fields to send, or undefined to leave it unanswered. */
export type AckPolicy = (command: Command) => Omit<Ack, "type" | "id"> | undefined;

/** Acks everything as done. */
export const ackAll: AckPolicy = () => ({ ok: true, retcode: 10009 });

/** See the module documentation. */
export class ScriptedEa {
  readonly #push: PushSocket;
  readonly #pull: PullSocket;
  readonly #reader: Promise<void>;
  #closed = false;
  /** Every command received, in order. */
  readonly commands: ReceivedCommand[] = [];
  /** How commands are answered; tests may replace it. */
  ackPolicy: AckPolicy;

  /** Connects to the bridge on `port` (PUSH) and `port + 1` (PULL) with `token`. */
  constructor(port: number, token: string, ackPolicy: AckPolicy = ackAll) {
    const mechanism = {
      type: "plain" as const,
      role: "client" as const,
      username: PLAIN_USERNAME,
      password: token,
    };
    this.ackPolicy = ackPolicy;
    this.#push = new PushSocket({ mechanism });
    this.#pull = new PullSocket({ mechanism });
    this.#push.connect(`tcp://127.0.0.1:${port}`);
    this.#pull.connect(`tcp://127.0.0.1:${port + 1}`);
    this.#reader = this.#read();
  }

  /** Sends `hello` for {@link SCRIPTED_LOGIN}. */
  async hello(utc = Date.now(), serverOffset = 7_200_000): Promise<void> {
    await this.#push.send(encodeMessage({
      type: "hello",
      protocol: 1,
      ea_version: "scripted",
      terminal_build: 0,
      login: SCRIPTED_LOGIN,
      server: "Scripted",
      locked: false,
      server_time: utc + serverOffset,
      utc_time: utc,
    }));
  }

  /** Sends a snapshot built by `sampleSnapshot` (login set to {@link SCRIPTED_LOGIN}). */
  async snapshot(options: SampleSnapshotOptions, extra: Partial<Snapshot> = {}): Promise<void> {
    const sample = sampleSnapshot(options);
    await this.#push.send(encodeMessage({
      ...sample,
      ...extra,
      account: { ...sample.account, login: SCRIPTED_LOGIN, ...extra.account },
    }));
  }

  /** Sends a heartbeat carrying the last snapshot's `seq` (what a quiet EA sends). */
  async heartbeat(seq: number, utc = Date.now(), serverOffset = 7_200_000): Promise<void> {
    await this.#push.send(encodeMessage({
      type: "heartbeat",
      seq,
      server_time: utc + serverOffset,
      utc_time: utc,
    }));
  }

  /** Commands of one type received so far. */
  received(type: Command["type"]): ReceivedCommand[] {
    return this.commands.filter((entry) => entry.command.type === type);
  }

  /** Closes both sockets. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#push.close().catch(() => {});
    await this.#pull.close().catch(() => {});
    await this.#reader.catch(() => {});
  }

  async #read(): Promise<void> {
    while (!this.#closed) {
      let frames: Uint8Array[];
      try {
        frames = await this.#pull.receive();
      } catch {
        return; // closed
      }
      const decoded = decodeCommand(frames[0]!);
      if (!decoded.ok) continue;
      const command = decoded.value;
      this.commands.push({ command, at: Date.now() });
      const answer = this.ackPolicy(command);
      if (answer === undefined || this.#closed) continue;
      await this.#push.send(encodeMessage({ type: "ack", id: command.id, ...answer }))
        .catch(() => {});
    }
  }
}

/**
 * A `launchTerminal` for `runRisk` that starts a {@link ScriptedEa} instead of a terminal;
 * `started` receives each EA (a terminal restart starts a new one).
 */
export function scriptedTerminal(
  started: (ea: ScriptedEa) => void,
  ackPolicy: AckPolicy = ackAll,
): (options: LaunchTerminalOptions) => Promise<TerminalHandle> {
  return (options) => {
    const ea = new ScriptedEa(options.port, options.token, ackPolicy);
    started(ea);
    return Promise.resolve(externalTerminal(() => ea.close()));
  };
}

/**
 * The handle of a terminal the risk process does not run (a scripted EA, a bench's EA in
 * another process, or none at all): `stop` is all it does.
 */
export function externalTerminal(
  stop: () => Promise<void> = () => Promise.resolve(),
): TerminalHandle {
  return {
    kind: "sim",
    pid: undefined,
    sim: undefined,
    helloReceived: () => Promise.resolve(),
    stop,
    done: Promise.resolve(),
  };
}
