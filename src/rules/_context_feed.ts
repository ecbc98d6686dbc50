/**
 * What the plugin host sends each plugin process per snapshot: the whole rule context, or only
 * what changed since the context that process holds (`_context_delta.ts`).
 *
 * The feed keeps a JSON copy of the context it sent last, numbered by a `version` that counts
 * the snapshots sent, and makes one delta per snapshot from it, shared by every process that
 * holds that version (as the whole context's JSON is made once for every process that needs
 * it). A process that holds anything else (a new or restarted process, one that skipped a
 * snapshot, one whose state is unknown after an error) gets the whole context, and so does
 * every process when the delta is not smaller than the whole.
 *
 * @module
 */
import { applyDelta, diffContext, type JsonObject } from "./_context_delta.ts";

/** The body of one `evaluate` message, and the version the process holds once it has it. */
export interface ContextMessage {
  /** `"version":V,"base":B,"delta":{...}` or `"version":V,"context":{...}` (no braces). */
  json: string;
  /** The version the process holds after this message. */
  version: number;
  /** Whether the message carries a delta (else the whole context). */
  delta: boolean;
}

/** One snapshot's context, for every plugin process asked about it. */
export interface ContextRound {
  /** The message for a process that holds version `held` (0: none, or unknown). */
  message(held: number): ContextMessage;
  /** The message with the whole context (for a process that could not apply the delta). */
  whole(): ContextMessage;
}

/** See the module documentation. */
export class ContextFeed {
  /** The context sent last, as the processes that hold {@link #version} hold it. */
  #base: JsonObject | undefined;
  #version = 0;
  /** Characters of the last whole context made: what a delta's size is measured against. */
  #fullChars = 0;

  /**
   * The messages for one snapshot. Nothing is computed until the first process is asked: a
   * snapshot no process is sent (all busy or suspended) leaves the feed where it was, so the
   * processes that hold its version still get a delta next time.
   */
  round(context: unknown): ContextRound {
    let version = 0;
    let from = 0;
    let delta: string | undefined;
    let full: string | undefined;
    const whole = (): string => {
      if (full === undefined) {
        full = JSON.stringify(context);
        this.#fullChars = full.length;
      }
      return full;
    };
    const prepare = () => {
      from = this.#version;
      version = ++this.#version;
      if (this.#base === undefined) {
        // Parsed from the text a process parses: the same copy, by construction.
        this.#base = JSON.parse(whole()) as JsonObject;
        return;
      }
      const change = diffContext(this.#base, context);
      const json = JSON.stringify(change);
      applyDelta(this.#base, change);
      // A delta under half the last whole context is sent without making the whole one; a
      // bigger one only when it is smaller than the whole.
      if (json.length * 2 < this.#fullChars || json.length < whole().length) delta = json;
    };
    const wholeMessage = (): ContextMessage => ({
      json: `"version":${version},"context":${whole()}`,
      version,
      delta: false,
    });
    return {
      message: (held) => {
        if (version === 0) prepare();
        if (held === 0 || held !== from || delta === undefined) return wholeMessage();
        return {
          json: `"version":${version},"base":${from},"delta":${delta}`,
          version,
          delta: true,
        };
      },
      whole: wholeMessage,
    };
  }
}
