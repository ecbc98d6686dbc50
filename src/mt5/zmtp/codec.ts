/**
 * The sans-IO ZMTP 3.x codec (RFC 23 / ZMTP 3.0, RFC 37 / ZMTP 3.1): the 64-byte greeting,
 * frames (short and long sizes, MORE, COMMAND), commands (READY, ERROR, PING/PONG,
 * SUBSCRIBE/CANCEL, and the PLAIN commands of RFC 24 through `mechanism.ts`) and metadata
 * properties.
 *
 * Everything here is pure: bytes in, values or events out. No sockets, no timers.
 * The {@link Decoder} never throws on bad input: it yields one `error` event and then ignores
 * anything further, and the caller closes the connection.
 *
 * @module
 */

/** Size of a ZMTP 3.x greeting in bytes. */
export const GREETING_SIZE = 64;

/** The ZMTP version this codec speaks at most: 3.1. */
export const ZMTP_VERSION = { major: 3, minor: 1 } as const;

/** Frame flag bit: more frames of the same message follow. */
export const FLAG_MORE = 0x01;
/** Frame flag bit: the size field is 8 octets. */
export const FLAG_LONG = 0x02;
/** Frame flag bit: the frame is a command. */
export const FLAG_COMMAND = 0x04;

/** The longest command body the decoder accepts unless told otherwise (64 KiB). */
export const DEFAULT_MAX_COMMAND_SIZE = 64 * 1024;

/**
 * The largest message the decoder accepts unless told otherwise (16 MiB, the sockets' default).
 * A decoder must never trust the size a peer declares: without a finite limit 12 bytes could make
 * it allocate gigabytes.
 */
export const DEFAULT_MAX_MESSAGE_SIZE = 16 * 1024 * 1024;

/** What a greeting says. */
export interface Greeting {
  /** Major version (3 for every peer this codec accepts). */
  major: number;
  /** Minor version: 0 (ZMTP 3.0, libzmq 4.2) or 1 (ZMTP 3.1, libzmq 4.3). */
  minor: number;
  /** Security mechanism name, e.g. `NULL` or `PLAIN`. */
  mechanism: string;
  /** The as-server flag: the sender plays the server role of the mechanism. */
  asServer: boolean;
}

/** What {@link encodeGreeting} needs. */
export interface GreetingInit {
  /** Security mechanism name (at most 20 ASCII characters). */
  mechanism: string;
  /** Whether this side is the mechanism's server. */
  asServer: boolean;
  /** Version to announce; defaults to {@link ZMTP_VERSION}. */
  major?: number;
  /** Minor version to announce; defaults to 1. */
  minor?: number;
}

const encoder = new TextEncoder();
const latin1 = new TextDecoder("latin1");

/** Encodes the full 64-byte greeting. */
export function encodeGreeting(init: GreetingInit): Uint8Array {
  const out = new Uint8Array(GREETING_SIZE);
  out[0] = 0xff;
  out[9] = 0x7f;
  out[10] = init.major ?? ZMTP_VERSION.major;
  out[11] = init.minor ?? ZMTP_VERSION.minor;
  const name = encoder.encode(init.mechanism);
  if (name.length > 20) throw new RangeError(`Mechanism name too long: ${init.mechanism}`);
  out.set(name, 12);
  out[32] = init.asServer ? 1 : 0;
  return out;
}

/** Reads the fields of a complete 64-byte greeting whose signature was already checked. */
export function parseGreeting(bytes: Uint8Array): Greeting {
  let end = 12;
  while (end < 32 && bytes[end] !== 0) end++;
  return {
    major: bytes[10] ?? 0,
    minor: bytes[11] ?? 0,
    mechanism: latin1.decode(bytes.subarray(12, end)),
    asServer: bytes[32] === 1,
  };
}

/** Picks the version both sides speak: the lower of the two (RFC 23 "version negotiation"). */
export function negotiateVersion(peer: Greeting): { major: number; minor: number } {
  if (peer.major > ZMTP_VERSION.major) return { ...ZMTP_VERSION };
  return { major: peer.major, minor: Math.min(peer.minor, ZMTP_VERSION.minor) };
}

/** Returns the header (flags + size) of a frame whose body is `size` bytes. */
export function encodeFrameHeader(size: number, more: boolean, command: boolean): Uint8Array {
  const flags = (more ? FLAG_MORE : 0) | (command ? FLAG_COMMAND : 0);
  if (size <= 255) return Uint8Array.of(flags, size);
  const out = new Uint8Array(9);
  out[0] = flags | FLAG_LONG;
  const view = new DataView(out.buffer);
  view.setUint32(1, Math.floor(size / 0x1_0000_0000));
  view.setUint32(5, size >>> 0);
  return out;
}

/** Encodes one frame (header + body) into a new buffer. */
export function encodeFrame(body: Uint8Array, more = false, command = false): Uint8Array {
  const header = encodeFrameHeader(body.length, more, command);
  const out = new Uint8Array(header.length + body.length);
  out.set(header);
  out.set(body, header.length);
  return out;
}

/** Encodes a multi-part message (every frame but the last has MORE) into one buffer. */
export function encodeMessage(frames: readonly Uint8Array[]): Uint8Array {
  const parts = encodeMessageParts(frames);
  let size = 0;
  for (const part of parts) size += part.length;
  const out = new Uint8Array(size);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/**
 * Encodes a multi-part message as a list of buffers (headers and the caller's bodies, not
 * copied), so a writer can coalesce small parts and pass large bodies through.
 */
export function encodeMessageParts(frames: readonly Uint8Array[]): Uint8Array[] {
  const parts: Uint8Array[] = [];
  const last = frames.length - 1;
  for (let i = 0; i <= last; i++) {
    const body = frames[i]!;
    parts.push(encodeFrameHeader(body.length, i < last, false));
    if (body.length > 0) parts.push(body);
  }
  return parts;
}

/** Encodes a command frame: name-size, name, data (RFC 23 "commands"). */
export function encodeCommand(name: string, data: Uint8Array = new Uint8Array(0)): Uint8Array {
  const nameBytes = encoder.encode(name);
  if (nameBytes.length === 0 || nameBytes.length > 255) {
    throw new RangeError(`Command name must be 1..255 bytes: ${name}`);
  }
  const body = new Uint8Array(1 + nameBytes.length + data.length);
  body[0] = nameBytes.length;
  body.set(nameBytes, 1);
  body.set(data, 1 + nameBytes.length);
  return encodeFrame(body, false, true);
}

/** A command read from a command frame body. */
export interface Command {
  /** Command name as sent (case preserved), e.g. `READY`. */
  name: string;
  /** The bytes after the name. */
  data: Uint8Array;
}

/**
 * The body prefix libzmq 4.3.0-4.3.5 puts on the PLAIN ERROR command: its source writes the
 * prefix as the C literal `"\x05ERROR"`, whose hex escape swallows the `E`, so the bytes are
 * 0x5E `RROR` (5 bytes) instead of 0x05 `ERROR`. libzmq 4.3 PLAIN clients only recognise this
 * form; libzmq 4.2 sends and expects the RFC form.
 */
export const LIBZMQ43_PLAIN_ERROR_PREFIX: Uint8Array = Uint8Array.of(0x5e, 0x52, 0x52, 0x4f, 0x52);

/**
 * Reads a command frame body; returns a reason string when it is malformed. Also accepts the
 * libzmq 4.3 PLAIN ERROR form (see {@link LIBZMQ43_PLAIN_ERROR_PREFIX}) as `ERROR`.
 */
export function parseCommand(body: Uint8Array): Command | string {
  const size = body[0];
  if (size === undefined || size === 0) return "command frame without a name";
  if (body.length < 1 + size) {
    if (startsWith(body, LIBZMQ43_PLAIN_ERROR_PREFIX)) {
      return { name: "ERROR", data: body.subarray(LIBZMQ43_PLAIN_ERROR_PREFIX.length) };
    }
    return `command name of ${size} bytes exceeds frame of ${body.length}`;
  }
  return { name: latin1.decode(body.subarray(1, 1 + size)), data: body.subarray(1 + size) };
}

/**
 * Encodes ERROR the way libzmq 4.3 PLAIN clients understand it (reason at most 255 bytes).
 * Not RFC 23 conformant: only sent to PLAIN peers that announced ZMTP 3.1.
 */
export function encodeLibzmq43PlainError(reason: string): Uint8Array {
  const text = encoder.encode(reason).subarray(0, 255);
  const prefix = LIBZMQ43_PLAIN_ERROR_PREFIX;
  const body = new Uint8Array(prefix.length + 1 + text.length);
  body.set(prefix);
  body[prefix.length] = text.length;
  body.set(text, prefix.length + 1);
  return encodeFrame(body, false, true);
}

function startsWith(bytes: Uint8Array, prefix: Uint8Array): boolean {
  if (bytes.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (bytes[i] !== prefix[i]) return false;
  return true;
}

/** Metadata properties: name to raw value. Names compare case-insensitively (stored lowercase). */
export type Metadata = Map<string, Uint8Array>;

/** Encodes metadata properties (name-size, name, 4-octet value-size, value). */
export function encodeMetadata(
  properties: Iterable<readonly [string, string | Uint8Array]>,
): Uint8Array {
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (const [name, value] of properties) {
    const nameBytes = encoder.encode(name);
    if (nameBytes.length === 0 || nameBytes.length > 255) {
      throw new RangeError(`Property name must be 1..255 bytes: ${name}`);
    }
    const valueBytes = typeof value === "string" ? encoder.encode(value) : value;
    const head = new Uint8Array(1 + nameBytes.length + 4);
    head[0] = nameBytes.length;
    head.set(nameBytes, 1);
    new DataView(head.buffer).setUint32(1 + nameBytes.length, valueBytes.length);
    chunks.push(head, valueBytes);
    size += head.length + valueBytes.length;
  }
  const out = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.length;
  }
  return out;
}

/** Reads metadata properties; returns a reason string when malformed. */
export function parseMetadata(data: Uint8Array): Metadata | string {
  const out: Metadata = new Map();
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  let at = 0;
  while (at < data.length) {
    const nameSize = data[at]!;
    if (nameSize === 0) return "metadata property with an empty name";
    if (at + 1 + nameSize + 4 > data.length) return "metadata property name truncated";
    const name = latin1.decode(data.subarray(at + 1, at + 1 + nameSize)).toLowerCase();
    at += 1 + nameSize;
    const valueSize = view.getUint32(at);
    at += 4;
    if (at + valueSize > data.length) {
      return `metadata property ${name} declares ${valueSize} bytes, ${data.length - at} left`;
    }
    out.set(name, data.slice(at, at + valueSize));
    at += valueSize;
  }
  return out;
}

/** Encodes READY with the given metadata (NULL mechanism, and PLAIN's last server step). */
export function encodeReady(properties: Iterable<readonly [string, string | Uint8Array]>) {
  return encodeCommand("READY", encodeMetadata(properties));
}

/** Encodes ERROR with a reason of at most 255 bytes (longer reasons are cut). */
export function encodeErrorCommand(reason: string): Uint8Array {
  const text = encoder.encode(reason).subarray(0, 255);
  const data = new Uint8Array(1 + text.length);
  data[0] = text.length;
  data.set(text, 1);
  return encodeCommand("ERROR", data);
}

/** Reads the reason of an ERROR command; a malformed body yields a description. */
export function parseErrorReason(data: Uint8Array): string {
  const size = data[0];
  if (size === undefined) return "(no reason)";
  return latin1.decode(data.subarray(1, 1 + size));
}

/** Encodes PING with a TTL in deciseconds (0..65535) and up to 16 bytes of context. */
export function encodePing(ttlDeciseconds: number, context: Uint8Array = new Uint8Array(0)) {
  const data = new Uint8Array(2 + Math.min(context.length, 16));
  const ttl = Math.max(0, Math.min(0xffff, Math.round(ttlDeciseconds)));
  data[0] = ttl >> 8;
  data[1] = ttl & 0xff;
  data.set(context.subarray(0, 16), 2);
  return encodeCommand("PING", data);
}

/** Reads a PING body: TTL in deciseconds and its context; a reason string when malformed. */
export function parsePing(data: Uint8Array): { ttl: number; context: Uint8Array } | string {
  if (data.length < 2) return `PING of ${data.length} bytes has no TTL`;
  if (data.length > 2 + 16) return `PING context of ${data.length - 2} bytes exceeds 16`;
  return { ttl: (data[0]! << 8) | data[1]!, context: data.subarray(2) };
}

/** Encodes PONG echoing a PING's context (ZMTP 3.0 peers may send PONG without context). */
export function encodePong(context: Uint8Array = new Uint8Array(0)): Uint8Array {
  return encodeCommand("PONG", context);
}

/** Encodes a ZMTP 3.1 SUBSCRIBE command. */
export function encodeSubscribe(topic: Uint8Array): Uint8Array {
  return encodeCommand("SUBSCRIBE", topic);
}

/** Encodes a ZMTP 3.1 CANCEL command. */
export function encodeCancel(topic: Uint8Array): Uint8Array {
  return encodeCommand("CANCEL", topic);
}

/**
 * Encodes a subscription the ZMTP 3.0 way: a one-frame message whose first byte is 1
 * (subscribe) or 0 (cancel), followed by the topic.
 */
export function encodeSubscriptionMessage(subscribe: boolean, topic: Uint8Array): Uint8Array {
  const body = new Uint8Array(1 + topic.length);
  body[0] = subscribe ? 1 : 0;
  body.set(topic, 1);
  return encodeFrame(body);
}

/** Events produced by the {@link Decoder}. */
export type DecoderEvent =
  | { type: "greeting"; greeting: Greeting }
  | { type: "command"; name: string; data: Uint8Array }
  | { type: "message"; frames: Uint8Array[] }
  | { type: "error"; reason: string };

/** Limits of a {@link Decoder}. */
export interface DecoderOptions {
  /**
   * Largest message (sum of its frames) accepted; larger is a protocol error. A finite positive
   * number; defaults to {@link DEFAULT_MAX_MESSAGE_SIZE}.
   */
  maxMessageSize?: number;
  /** Largest command body accepted; defaults to {@link DEFAULT_MAX_COMMAND_SIZE}. */
  maxCommandSize?: number;
  /** Whether the stream starts with a greeting (default true). */
  expectGreeting?: boolean;
  /**
   * Whether bodies are copied out of the chunks (default true). With false, a body that lies
   * within one chunk is a view into it: the caller must then never overwrite a chunk it fed.
   */
  copyBodies?: boolean;
}

const STATE_GREETING: number = 0;
const STATE_FLAGS: number = 1;
const STATE_SIZE: number = 2;
const STATE_BODY: number = 3;
const STATE_FAILED: number = 4;

/**
 * What one frame counts against the message size beyond its body: the memory a frame object
 * takes. Without it a peer could send millions of empty frames inside any size limit.
 */
const FRAME_OVERHEAD = 64;

/**
 * Incremental ZMTP decoder. Feed it chunks as they arrive, in any split; it returns the events
 * completed by each chunk. Bodies are copies (the caller may reuse its read buffer) unless
 * `copyBodies` is false, in which case bodies may be views into the chunks fed. After an
 * `error` event it is failed for good and returns no further events. It never throws.
 */
export class Decoder {
  #maxMessage: number;
  #maxCommand: number;
  #copy: boolean;
  #state: number;
  #greeting = new Uint8Array(GREETING_SIZE);
  #have = 0;
  #flags = 0;
  #sizeBytes = new Uint8Array(8);
  #sizeNeed = 0;
  #body: Uint8Array = new Uint8Array(0);
  #frames: Uint8Array[] = [];
  #messageSize = 0;

  /** Creates a decoder with the given limits; throws a RangeError for a limit that is not finite. */
  constructor(options: DecoderOptions = {}) {
    this.#maxMessage = finiteLimit(
      "maxMessageSize",
      options.maxMessageSize,
      DEFAULT_MAX_MESSAGE_SIZE,
    );
    this.#maxCommand = finiteLimit(
      "maxCommandSize",
      options.maxCommandSize,
      DEFAULT_MAX_COMMAND_SIZE,
    );
    this.#copy = options.copyBodies ?? true;
    this.#state = options.expectGreeting === false ? STATE_FLAGS : STATE_GREETING;
  }

  /** Whether the decoder saw a protocol error. */
  get failed(): boolean {
    return this.#state === STATE_FAILED;
  }

  /**
   * Whether a frame or a multi-part message has started and not ended: the decoder holds a
   * partial body, size or earlier frames. A caller gives that state a deadline, since a peer
   * that declares a large message and stalls would otherwise keep its buffer forever.
   */
  get midMessage(): boolean {
    return this.#state === STATE_SIZE || this.#state === STATE_BODY || this.#frames.length > 0;
  }

  /** Decodes a chunk; returns the events it completes. */
  decode(chunk: Uint8Array): DecoderEvent[] {
    const events: DecoderEvent[] = [];
    try {
      this.#run(chunk, events);
    } catch (error) {
      // Defensive: no input should get here, but a decoder must never throw.
      this.#fail(events, `decoder fault: ${(error as Error).message}`);
    }
    return events;
  }

  #fail(events: DecoderEvent[], reason: string): void {
    this.#state = STATE_FAILED;
    this.#frames = [];
    events.push({ type: "error", reason });
  }

  #run(chunk: Uint8Array, events: DecoderEvent[]): void {
    let at = 0;
    const end = chunk.length;
    while (at < end) {
      switch (this.#state) {
        case STATE_FAILED:
          return;
        case STATE_GREETING: {
          const take = Math.min(GREETING_SIZE - this.#have, end - at);
          const before = this.#have;
          this.#greeting.set(chunk.subarray(at, at + take), before);
          at += take;
          this.#have += take;
          if (before === 0 && this.#greeting[0] !== 0xff) {
            return this.#fail(events, `wrong signature: first byte 0x${hex(this.#greeting[0])}`);
          }
          if (before < 10 && this.#have >= 10 && this.#greeting[9] !== 0x7f) {
            return this.#fail(events, `wrong signature: tenth byte 0x${hex(this.#greeting[9])}`);
          }
          if (before < 11 && this.#have >= 11 && this.#greeting[10]! < 3) {
            return this.#fail(
              events,
              `unsupported ZMTP major version ${this.#greeting[10]} (3 or later required)`,
            );
          }
          if (this.#have === GREETING_SIZE) {
            events.push({ type: "greeting", greeting: parseGreeting(this.#greeting) });
            this.#state = STATE_FLAGS;
          }
          break;
        }
        case STATE_FLAGS: {
          const flags = chunk[at++]!;
          if ((flags & 0xf8) !== 0) {
            return this.#fail(events, `reserved frame flag bits set: 0x${hex(flags)}`);
          }
          if ((flags & FLAG_COMMAND) !== 0) {
            if ((flags & FLAG_MORE) !== 0) return this.#fail(events, "command frame with MORE");
            if (this.#frames.length > 0) {
              return this.#fail(events, "command frame inside a multi-part message");
            }
          }
          this.#flags = flags;
          this.#sizeNeed = (flags & FLAG_LONG) !== 0 ? 8 : 1;
          this.#have = 0;
          // Fast path: the whole size field is in this chunk.
          if (end - at >= this.#sizeNeed) {
            const size = this.#sizeNeed === 1 ? chunk[at]! : readLong(chunk, at);
            at += this.#sizeNeed;
            if (!this.#checkSize(size, events)) return;
            if (end - at >= size) {
              // Fast path: the whole body is in this chunk.
              this.#body = this.#copy ? chunk.slice(at, at + size) : chunk.subarray(at, at + size);
              at += size;
              this.#finishFrame(events);
              if (this.#state === STATE_FAILED) return;
            } else if (!this.#startBody(size, events)) {
              return;
            }
          } else {
            this.#state = STATE_SIZE;
          }
          break;
        }
        case STATE_SIZE: {
          const take = Math.min(this.#sizeNeed - this.#have, end - at);
          this.#sizeBytes.set(chunk.subarray(at, at + take), this.#have);
          at += take;
          this.#have += take;
          if (this.#have === this.#sizeNeed) {
            const size = this.#sizeNeed === 1 ? this.#sizeBytes[0]! : readLong(this.#sizeBytes, 0);
            if (!this.#checkSize(size, events)) return;
            if (size === 0) {
              this.#body = new Uint8Array(0);
              this.#finishFrame(events);
              if (this.#state === STATE_FAILED) return;
            } else if (!this.#startBody(size, events)) {
              return;
            }
          }
          break;
        }
        case STATE_BODY: {
          const take = Math.min(this.#body.length - this.#have, end - at);
          this.#body.set(chunk.subarray(at, at + take), this.#have);
          at += take;
          this.#have += take;
          if (this.#have === this.#body.length) {
            this.#finishFrame(events);
            if (this.#state === STATE_FAILED) return;
          }
          break;
        }
      }
    }
  }

  /** Checks a frame size against the limits; fails the decoder when it is too large. */
  #checkSize(size: number, events: DecoderEvent[]): boolean {
    if ((this.#flags & FLAG_COMMAND) !== 0) {
      if (size > this.#maxCommand) {
        this.#fail(events, `command frame of ${size} bytes exceeds ${this.#maxCommand}`);
        return false;
      }
    } else if (size + FRAME_OVERHEAD > this.#maxMessage - this.#messageSize) {
      this.#fail(
        events,
        `message of ${this.#messageSize + size} bytes or more exceeds the maximum ` +
          `${this.#maxMessage}`,
      );
      return false;
    }
    return true;
  }

  /** Prepares to collect a body that spans chunks; false (and failed) when memory runs out. */
  #startBody(size: number, events: DecoderEvent[]): boolean {
    let body: Uint8Array;
    try {
      body = new Uint8Array(size);
    } catch (error) {
      // Within the limits, yet the runtime has no memory for it: the peer asked for too much.
      this.#fail(events, `cannot allocate ${size} bytes for a frame: ${(error as Error).message}`);
      return false;
    }
    this.#have = 0;
    this.#body = body;
    this.#state = STATE_BODY;
    return true;
  }

  #finishFrame(events: DecoderEvent[]): void {
    const body = this.#body;
    this.#state = STATE_FLAGS;
    if ((this.#flags & FLAG_COMMAND) !== 0) {
      const command = parseCommand(body);
      if (typeof command === "string") return this.#fail(events, command);
      events.push({ type: "command", name: command.name, data: command.data });
      return;
    }
    this.#frames.push(body);
    // Each frame costs memory beyond its body: empty frames must not be free.
    this.#messageSize += body.length + FRAME_OVERHEAD;
    if ((this.#flags & FLAG_MORE) === 0) {
      events.push({ type: "message", frames: this.#frames });
      this.#frames = [];
      this.#messageSize = 0;
    }
  }
}

function finiteLimit(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value <= 0) {
    throw new RangeError(`${name} must be a finite number > 0, got ${value}`);
  }
  return value;
}

/** Reads an 8-octet network-order size; sizes beyond 2^53 become Infinity (always too large). */
function readLong(bytes: Uint8Array, at: number): number {
  const view = new DataView(bytes.buffer, bytes.byteOffset + at, 8);
  const high = view.getUint32(0);
  const low = view.getUint32(4);
  if (high >= 0x20_0000) return Number.POSITIVE_INFINITY;
  return high * 0x1_0000_0000 + low;
}

function hex(byte: number | undefined): string {
  return (byte ?? 0).toString(16).padStart(2, "0");
}
