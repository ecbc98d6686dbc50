/**
 * A text file appended to line by line and rotated by size: `path` is the current file,
 * `path.1` the one before, up to `path.<maxFiles>` (the oldest is dropped).
 *
 * Every write goes straight to the file (no buffer): a line written before a crash is in the
 * file. The file is created readable by its owner only (mode 0600; on Windows the folder's ACLs
 * apply).
 *
 * @module
 */

/** Options of {@link RotatingFile}. */
export interface RotatingFileOptions {
  /** Size at which the file is rotated before a write would pass it. */
  maxBytes: number;
  /** Rotated files kept besides the current one (at least 1). */
  maxFiles: number;
}

const encoder = new TextEncoder();

/** An append-only text file rotated by size. Synchronous: one write per call, in order. */
export class RotatingFile {
  readonly #path: string;
  readonly #options: RotatingFileOptions;
  /** Undefined after a failed reopen (the next write tries again) and once closed. */
  #file: Deno.FsFile | undefined;
  #closed = false;
  #size = 0;
  /** Size that triggers the next rotation (moved on when a rotation fails, see #rotate). */
  #limit: number;

  /** Opens (or creates) the file at `path`; throws when it cannot be opened for writing. */
  constructor(path: string, options: RotatingFileOptions) {
    this.#path = path;
    this.#options = options;
    this.#limit = options.maxBytes;
    this.#reopen();
  }

  /**
   * Appends `text`, rotating first when it would take the file past `maxBytes`. Throws when the
   * file cannot be written (a full disk); the next call tries again.
   */
  write(text: string): void {
    if (this.#closed) throw new Error(`The log file ${this.#path} is closed`);
    const bytes = encoder.encode(text);
    if (this.#file === undefined) this.#reopen();
    else if (this.#size > 0 && this.#size + bytes.length > this.#limit) this.#rotate();
    const file = this.#file!;
    let written = 0;
    while (written < bytes.length) written += file.writeSync(bytes.subarray(written));
    this.#size += bytes.length;
  }

  /** Closes the file; later writes throw. */
  close(): void {
    this.#closed = true;
    this.#closeFile();
  }

  #closeFile(): void {
    const file = this.#file;
    this.#file = undefined;
    file?.close();
  }

  #rotate(): void {
    this.#closeFile();
    try {
      for (let index = this.#options.maxFiles - 1; index >= 1; index--) {
        renameIfPresent(`${this.#path}.${index}`, `${this.#path}.${index + 1}`);
      }
      Deno.renameSync(this.#path, `${this.#path}.1`);
    } catch {
      // The file could not be moved (on Windows another program may hold it open): go on
      // appending to it, and try again once it has grown by another `maxBytes`, not at every
      // line.
      this.#limit = this.#size + this.#options.maxBytes;
    }
    this.#reopen();
  }

  #reopen(): void {
    this.#file = openPrivate(this.#path);
    this.#size = this.#file.statSync().size;
    if (this.#size === 0) this.#limit = this.#options.maxBytes;
  }
}

function openPrivate(path: string): Deno.FsFile {
  const file = Deno.openSync(path, { create: true, append: true, mode: 0o600 });
  if (Deno.build.os !== "windows" && file.statSync().isFile) {
    try {
      // `mode` applies only to a new file: a file left by an older run becomes private too
      // (a device such as /dev/null is left alone).
      Deno.chmodSync(path, 0o600);
    } catch {
      // not ours to change (another user's file we may append to)
    }
  }
  return file;
}

function renameIfPresent(from: string, to: string): void {
  try {
    Deno.renameSync(from, to);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
}
