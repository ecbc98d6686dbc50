import assert from "node:assert/strict";
import { openStore, type Store } from "../store/mod.ts";
import { claimElement } from "./element_lease.ts";

const STALE_MS = 60_000;
const T0 = Date.UTC(2026, 0, 5, 9, 0);

Deno.test("claimElement starts from the element as it is once the lease is taken (F6)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "riskguard-lease-" });
  const store = await openStore(`sqlite:${dir}/risk.db`);
  try {
    const instance = await store.addInstance({ path: "sim:calm", host: "vps-1" });
    const inserted = await store.insertElement({
      server: "Demo",
      login: 1_234,
      password: "secret",
      instance_id: instance._id,
    });
    assert.ok(inserted.ok);
    const id = inserted.element.id;
    // The previous holder, gone quiet (its ping is stale by the time the new process starts).
    const previous = await store.takeLease(id, instance._id, {
      host: "vps-1",
      now: T0,
      staleAfterMs: STALE_MS,
    });
    // It still writes a lock after the new process read the element, before its lease moved.
    let lockWritten = false;
    const racing = new Proxy(store, {
      get(target, property) {
        const value = Reflect.get(target, property, target);
        if (typeof value !== "function") return value;
        if (property !== "takeLease") return value.bind(target);
        return async (...args: Parameters<Store["takeLease"]>) => {
          await target.updateElement(previous, {
            trading: "LOCKED",
            lock_reason: "max drawdown reached",
            locked_until: null,
          }, T0 + STALE_MS);
          lockWritten = true;
          return await target.takeLease(...args);
        };
      },
    }) as Store;

    const claimed = await claimElement({
      store: racing,
      elementId: id,
      host: "vps-1",
      leaseStaleMs: STALE_MS,
      now: T0 + 2 * STALE_MS,
    });
    assert.ok(lockWritten, "the previous holder's write went in before the lease moved");
    assert.ok(claimed.lease.lease > previous.lease, "the lease moved to the new process");
    assert.equal(claimed.element.trading, "LOCKED", "the lock written in the window is kept");
    assert.equal(claimed.element.lock_reason, "max drawdown reached");
    assert.equal(claimed.element.lease, claimed.lease.lease, "the element read under the lease");
  } finally {
    await store.close();
    await Deno.remove(dir, { recursive: true });
  }
});
