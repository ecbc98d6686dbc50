/**
 * Actions a person takes from the dashboard (unlock, disable, enable): who may (the token),
 * from where (same origin only), and what is written (the change, and an event saying who did
 * it from where and why).
 *
 * CSRF: an action needs the token in the `X-Riskguard-Token` header and a JSON body. A page
 * of another site cannot send that header (or a JSON body) without a CORS preflight, which
 * this server never grants; requests that do carry an `Origin` or `Sec-Fetch-Site` must come
 * from the dashboard's own origin as well.
 *
 * @module
 */
import { createHash, timingSafeEqual } from "node:crypto";
import type { Store } from "../store/mod.ts";

/** The actions the dashboard offers. */
export const ACTIONS = ["unlock", "disable", "enable"] as const;
/** One of {@link ACTIONS}. */
export type ActionName = typeof ACTIONS[number];

/** The header that carries the token. */
export const TOKEN_HEADER = "x-riskguard-token";

/** A refusal: HTTP status and a message for the person. */
export interface Refusal {
  /** HTTP status. */
  status: 400 | 401 | 403 | 404 | 409;
  /** What is wrong. */
  error: string;
}

/**
 * Checks that a request may perform an action: actions are enabled (a token is configured),
 * the token matches, the body is JSON and the request comes from the dashboard's own origin.
 * Returns `null` when it may.
 */
export function checkActionRequest(request: Request, token: string | undefined): Refusal | null {
  if (token === undefined) {
    return {
      status: 403,
      error: "Actions are disabled: the dashboard runs without RISKGUARD_DASHBOARD_TOKEN",
    };
  }
  const given = request.headers.get(TOKEN_HEADER);
  if (given === null || !sameSecret(given, token)) {
    return { status: 401, error: "Missing or wrong token" };
  }
  const own = new URL(request.url).origin;
  const origin = request.headers.get("origin");
  if (origin !== null && origin !== own) {
    return { status: 403, error: `Cross-origin request refused (origin ${origin})` };
  }
  const site = request.headers.get("sec-fetch-site");
  if (site !== null && site !== "same-origin" && site !== "none") {
    return { status: 403, error: `Cross-site request refused (${site})` };
  }
  const type = request.headers.get("content-type") ?? "";
  if (!/^application\/json\b/i.test(type)) {
    return { status: 400, error: "The body must be JSON (Content-Type: application/json)" };
  }
  return null;
}

/** Who asked for an action, and from where. */
export interface ActionSource {
  /** The name the person typed (optional). */
  by: string | null;
  /** The client's address. */
  remote: string;
  /** The browser's user agent. */
  user_agent: string | null;
}

/** Input of {@link performAction}. */
export interface ActionInput {
  /** Which action. */
  action: ActionName;
  /** The element. */
  elementId: string;
  /** Why (required for unlock). */
  reason: string | null;
  /** Who and from where. */
  source: ActionSource;
}

/** Performs an action and records it in `events`; returns a message or a refusal. */
export async function performAction(
  store: Store,
  input: ActionInput,
): Promise<{ ok: true; message: string } | ({ ok: false } & Refusal)> {
  const { action, elementId, reason, source } = input;
  const current = await store.getElement(elementId);
  if (current === null) return { ok: false, status: 404, error: `No account ${elementId}` };
  const raw: Record<string, unknown> = current.valid ? current.element : current.raw;
  let message: string;
  if (action === "unlock") {
    if (reason === null) return { ok: false, status: 400, error: "An unlock needs a reason" };
    if (raw.trading === undefined || raw.trading === "ALLOWED") {
      return { ok: false, status: 409, error: "The account is not locked" };
    }
    const result = await store.configureElement(elementId, { trading: "ALLOWED" });
    if (!result.ok) {
      return { ok: false, status: 409, error: `Cannot unlock: ${result.field} ${result.reason}` };
    }
    message = `unlocked from the dashboard (was ${String(raw.trading)}): ${reason}`;
  } else if (action === "disable") {
    await store.setElementStatus(elementId, "DISABLED");
    message = "disabled from the dashboard";
  } else {
    if (raw.status === "ACTIVE") {
      return { ok: false, status: 409, error: "The account is already ACTIVE" };
    }
    await store.setElementStatus(elementId, "PENDING", { error: null });
    message = "enabled from the dashboard (status PENDING: the admin picks it up)";
  }
  if (reason !== null && action !== "unlock") message += `: ${reason}`;
  await store.appendEvent({
    element_id: elementId,
    type: action === "unlock" ? "unlock" : "lifecycle",
    message,
    detail: {
      action,
      source: "dashboard",
      by: source.by,
      remote: source.remote,
      user_agent: source.user_agent,
      reason,
    },
  });
  return { ok: true, message };
}

/** Compares two secrets in constant time (hashes first: lengths may differ). */
function sameSecret(a: string, b: string): boolean {
  const digest = (text: string) => createHash("sha256").update(text).digest();
  return timingSafeEqual(digest(a), digest(b));
}
