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

/** The live file's name while a rotation moves it (`<file>.rotating`). */
const ASIDE_SUFFIX = ".rotating";

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

  /**
   * Moves the file to `.1`, `.1` to `.2` and so on (the oldest is dropped). The live file is
   * moved first, to a temporary name: when that fails (on Windows another program may hold it
   * open), nothing else has moved, and it is appended to again. Shifting the rotated files first
   * would drop the oldest at every failed try while the live file stayed where it was. A file that
   * is not a regular file (`/dev/null`, a pipe) is never rotated.
   */
  #rotate(): void {
    this.#closeFile();
    const aside = `${this.#path}${ASIDE_SUFFIX}`;
    try {
      if (!Deno.statSync(this.#path).isFile) {
        // Never rotated; looked at again a `maxBytes` later.
        this.#limit = this.#size + this.#options.maxBytes;
      } else if (!exists(aside)) {
        Deno.renameSync(this.#path, aside);
      }
      // else: an earlier rotation was cut short (a crash, or a failure below that could not be
      // undone): its file, older than the live one, is shifted in now; the live file next time.
    } catch {
      // Go on appending, and try again once the file has grown by another `maxBytes`, not at
      // every line.
      this.#limit = this.#size + this.#options.maxBytes;
    }
    if (exists(aside)) this.#shiftIn(aside);
    this.#reopen();
  }

  /** Shifts the rotated files up by one and moves `aside` to `.1`; undoes what it can on a failure. */
  #shiftIn(aside: string): void {
    try {
      for (let index = this.#options.maxFiles - 1; index >= 1; index--) {
        renameIfPresent(`${this.#path}.${index}`, `${this.#path}.${index + 1}`);
      }
      Deno.renameSync(aside, `${this.#path}.1`);
    } catch {
      // A rotated file could not be moved (a folder squats its next name): the live file goes
      // back to its name and is appended to, and the next try is a `maxBytes` later. If even
      // that fails it keeps its temporary name, and the next rotation shifts it in first.
      this.#limit = this.#size + this.#options.maxBytes;
      try {
        if (!exists(this.#path)) Deno.renameSync(aside, this.#path);
      } catch {
        // left under its temporary name (see above)
      }
    }
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

/** True when something (file, folder, link) has this name. */
function exists(path: string): boolean {
  try {
    Deno.lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

function renameIfPresent(from: string, to: string): void {
  try {
    Deno.renameSync(from, to);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
}
