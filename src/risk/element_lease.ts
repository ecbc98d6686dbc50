/**
 * Start-up of a risk process: loads and checks the element, finds the instance to run on, and
 * takes the element's lease (refusing, with who holds it, while a live manager does).
 *
 * @module
 */
import { describeError, RiskGuardError } from "../shared/errors.ts";
import type { Element, Instance, Lease, Store } from "../store/mod.ts";

/** What {@link claimElement} needs. */
export interface ClaimOptions {
  /** The store holding the element. */
  store: Store;
  /** The element (account) to guard. */
  elementId: string;
  /** This machine's name. */
  host: string;
  /** Instance to run on; default: the element's instance, or the instance of `pathway`. */
  instanceId?: string | undefined;
  /** Terminal folder or `sim:<scenario>`, when run by hand without an instance. */
  pathway?: string | undefined;
  /** A holder whose ping is older than this may be replaced. */
  leaseStaleMs: number;
  /** UTC epoch ms. */
  now: number;
}

/** A claimed element: the lease is held from here on. */
export interface ClaimedElement {
  element: Element;
  instance: Instance;
  lease: Lease;
}

/**
 * Loads the element and takes its lease. Rejects with NOT_FOUND, ELEMENT_INVALID (the element
 * is marked ERROR with the reason), CONFIG_INVALID (DISABLED, or no instance to run on) or
 * ELEMENT_HELD (naming the live holder).
 */
export async function claimElement(options: ClaimOptions): Promise<ClaimedElement> {
  const element = await loadElement(options);
  const instance = await resolveInstance(options, element);
  const lease = await takeLease(options, instance);
  // Read again under the lease: the previous holder may have written (a lock) between the first
  // read and the lease moving, and the process must start from that, not from the older copy.
  try {
    return { element: await loadElement(options), instance, lease };
  } catch (error) {
    const code = error instanceof RiskGuardError ? error.code : "CRASH";
    await options.store.release(lease, {
      status: "ERROR",
      error: { code, message: describeError(error), at: options.now },
      now: options.now,
    }).catch(() => {});
    throw error;
  }
}

/** Loads the element and checks it may be guarded (see {@link claimElement}). */
async function loadElement(options: ClaimOptions): Promise<Element> {
  const { store, elementId, now } = options;
  const parsed = await store.getElement(elementId);
  if (parsed === null) {
    throw new RiskGuardError("NOT_FOUND", `No element with id ${elementId}`);
  }
  if (!parsed.valid) {
    const message = `Element ${parsed.id} is invalid: ${parsed.field} ${parsed.reason}`;
    await store.setElementStatus(parsed.id, "ERROR", {
      error: { code: "ELEMENT_INVALID", message, at: now },
      now,
    }).catch(() => {});
    throw new RiskGuardError("ELEMENT_INVALID", message);
  }
  if (parsed.element.status === "DISABLED") {
    throw new RiskGuardError(
      "CONFIG_INVALID",
      `Element ${parsed.id} is DISABLED; enable it with \`riskguard elements enable ${parsed.id}\``,
    );
  }
  return parsed.element;
}

async function resolveInstance(options: ClaimOptions, element: Element): Promise<Instance> {
  const { store, pathway, host } = options;
  const wanted = options.instanceId ?? element.instance_id ?? undefined;
  if (wanted !== undefined) {
    const instance = await store.getInstance(wanted);
    if (instance === null) throw new RiskGuardError("NOT_FOUND", `No instance with id ${wanted}`);
    return instance;
  }
  if (pathway === undefined) {
    throw new RiskGuardError(
      "CONFIG_INVALID",
      `Element ${element._id} has no instance: pass --instance <id> or --pathway <terminal folder>`,
    );
  }
  // Run by hand with only a pathway: use this host's instance for that folder, or register it.
  const existing = (await store.listInstances({ host })).find((i) => i.path === pathway);
  return existing ?? await store.addInstance({ path: pathway, host });
}

async function takeLease(options: ClaimOptions, instance: Instance): Promise<Lease> {
  const { store, elementId, host, now, leaseStaleMs } = options;
  try {
    return await store.takeLease(elementId, instance._id, {
      host,
      now,
      staleAfterMs: leaseStaleMs,
      // This take's own id: made again after its answer was lost (admin died with it in
      // flight), it gets the lease it took; no other take or ping can match it.
      takeId: crypto.randomUUID(),
    });
  } catch (error) {
    if (error instanceof RiskGuardError && error.code === "ELEMENT_HELD") {
      const current = await store.getElement(elementId).catch(() => null);
      const doc = current?.valid ? current.element : undefined;
      const age = doc?.last_ping == null
        ? "never pinged"
        : `last ping ${Math.round((now - doc.last_ping) / 1000)} s ago`;
      throw new RiskGuardError(
        "ELEMENT_HELD",
        `Element ${elementId} is held by a live manager: host ${doc?.host ?? "?"}, ` +
          `instance ${doc?.instance_id ?? "?"}, ${age}. Stop it first, or wait until its ` +
          `lease is stale (${Math.round(leaseStaleMs / 1000)} s without a ping).`,
        { cause: error },
      );
    }
    throw error;
  }
}
