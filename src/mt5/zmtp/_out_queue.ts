/**
 * Outgoing byte queue of one connection: small frames are packed into 64 KiB chunks so that one
 * TCP write carries many messages; large bodies are queued as their own chunk without a copy.
 *
 * @module
 */

const CHUNK_SIZE = 64 * 1024;
const ZERO_COPY_SIZE = 16 * 1024;

/** One write's worth of bytes. */
export interface OutChunk {
  /** The bytes; only `data.subarray(0, used)` is to be written. */
  data: Uint8Array;
  /** Bytes used. */
  used: number;
  /** Messages whose last byte is in this chunk. */
  messages: number;
  /** Whether the buffer is ours (reusable) rather than a caller's body. */
  own: boolean;
}

/** FIFO of chunks to write. */
export class OutQueue {
  #chunks: OutChunk[] = [];
  #head = 0;
  #open: OutChunk | undefined;
  #pool: OutChunk[] = [];
  /** Bytes queued. */
  bytes = 0;
  /** Whole messages queued (not yet handed to the OS). */
  messages = 0;

  /** Whether nothing is queued. */
  get empty(): boolean {
    return this.#head === this.#chunks.length;
  }

  /** Queues raw bytes (greeting, commands). */
  appendRaw(bytes: Uint8Array): void {
    this.#write(bytes);
  }

  /** Queues a message: every frame but the last gets MORE. Bodies are not copied when large. */
  appendMessage(frames: readonly Uint8Array[]): void {
    const last = frames.length - 1;
    for (let i = 0; i <= last; i++) {
      const body = frames[i]!;
      const size = body.length;
      const flags = i < last ? 1 : 0;
      const chunk = this.#room(9);
      const data = chunk.data;
      let at = chunk.used;
      if (size <= 255) {
        data[at++] = flags;
        data[at++] = size;
      } else {
        data[at++] = flags | 2;
        const high = Math.floor(size / 0x1_0000_0000);
        data[at++] = high >>> 24;
        data[at++] = (high >>> 16) & 0xff;
        data[at++] = (high >>> 8) & 0xff;
        data[at++] = high & 0xff;
        data[at++] = size >>> 24;
        data[at++] = (size >>> 16) & 0xff;
        data[at++] = (size >>> 8) & 0xff;
        data[at++] = size & 0xff;
      }
      this.bytes += at - chunk.used;
      chunk.used = at;
      if (size >= ZERO_COPY_SIZE) {
        this.#chunks.push({ data: body, used: size, messages: 0, own: false });
        this.#open = undefined;
        this.bytes += size;
      } else if (size > 0) {
        this.#write(body);
      }
    }
    const tail = this.#chunks[this.#chunks.length - 1]!;
    tail.messages++;
    this.messages++;
  }

  /** Removes and returns the oldest chunk. */
  take(): OutChunk | undefined {
    if (this.#head === this.#chunks.length) return undefined;
    const chunk = this.#chunks[this.#head]!;
    this.#chunks[this.#head] = undefined as unknown as OutChunk;
    this.#head++;
    if (chunk === this.#open) this.#open = undefined;
    if (this.#head === this.#chunks.length) {
      this.#chunks = [];
      this.#head = 0;
    }
    this.bytes -= chunk.used;
    this.messages -= chunk.messages;
    return chunk;
  }

  /** Gives a written chunk back for reuse (only our own buffers are kept, at most 4). */
  recycle(chunk: OutChunk): void {
    if (!chunk.own || this.#pool.length >= 4 || chunk === this.#open) return;
    chunk.used = 0;
    chunk.messages = 0;
    this.#pool.push(chunk);
  }

  #room(size: number): OutChunk {
    const open = this.#open;
    if (open !== undefined && open.data.length - open.used >= size) return open;
    const chunk: OutChunk = this.#pool.pop() ??
      { data: new Uint8Array(CHUNK_SIZE), used: 0, messages: 0, own: true };
    this.#chunks.push(chunk);
    this.#open = chunk;
    return chunk;
  }

  #write(bytes: Uint8Array): void {
    const open = this.#open;
    if (open !== undefined && open.data.length - open.used >= bytes.length) {
      open.data.set(bytes, open.used);
      open.used += bytes.length;
      this.bytes += bytes.length;
      return;
    }
    let at = 0;
    while (at < bytes.length) {
      const chunk = this.#room(1);
      const take = Math.min(chunk.data.length - chunk.used, bytes.length - at);
      chunk.data.set(bytes.subarray(at, at + take), chunk.used);
      chunk.used += take;
      at += take;
    }
    this.bytes += bytes.length;
  }
}
