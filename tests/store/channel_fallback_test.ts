/**
 * A call in flight through admin's channel when admin goes away is made again on the child's
 * own store (the fallback), instead of failing: a child still claiming its account at that
 * moment has no queue to retry for it, and used to exit (found by the admin kill -9 drill on
 * MongoDB, where admin died while its children were taking their leases).
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  ChannelStore,
  openStore,
  type Store,
  StoreChannelServer,
  StoreUnavailableError,
} from "../../src/store/mod.ts";
import { addElement } from "./_contract.ts";

const TOKEN = "a-token-of-sixteen-or-more";

/**
 * `store` whose `method` never answers (admin dies first); with `landFirst`, the call is made
 * on the store first, and only its answer is lost.
 */
function holding(
  store: Store,
  method: keyof Store = "getElement",
  options: { landFirst?: boolean } = {},
) {
  let reached!: () => void;
  const arrived = new Promise<void>((resolve) => reached = resolve);
  const held = new Proxy(store, {
    get(target, key, receiver) {
      const real = Reflect.get(target, key, receiver);
      if (key !== method) return real;
      return async (...args: unknown[]) => {
        if (options.landFirst) {
          await (real as (...a: unknown[]) => Promise<unknown>).apply(target, args);
        }
        reached();
        return await new Promise(() => {}); // never answers: admin dies first
      };
    },
  });
  return { held, arrived };
}

async function seeded(dir: string) {
  const spec = `sqlite:${dir}/store.db`;
  const store = await openStore(spec);
  return { spec, store, id: await addElement(store, 4_242, { max_daily_loss: 100 }) };
}

Deno.test("channel store: a call in flight when admin goes away is made on the fallback store", async () => {
  const dir = await Deno.makeTempDir({ prefix: "riskguard-channel-fallback-" });
  const { spec, store, id } = await seeded(dir);
  const { held, arrived } = holding(store);
  const server = StoreChannelServer.listen(held, { token: TOKEN });
  let fallbacks = 0;
  const child = await ChannelStore.connect({
    address: server.address,
    token: TOKEN,
    fallback: () => {
      fallbacks++;
      return openStore(spec);
    },
  });
  try {
    assert.equal(child.throughAdmin, true);
    const call = child.getElement(id);
    await arrived;
    await server.close();
    const parsed = await call;
    assert.equal(parsed?.valid, true);
    assert.equal(parsed?.valid && parsed.element.login, 4_242);
    assert.equal(child.throughAdmin, false);
    assert.equal(fallbacks, 1);
  } finally {
    await child.close();
    await server.close();
    await store.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("channel store: without a fallback, a call in flight when admin goes away fails as unavailable", async () => {
  const dir = await Deno.makeTempDir({ prefix: "riskguard-channel-fallback-" });
  const { store, id } = await seeded(dir);
  const { held, arrived } = holding(store);
  const server = StoreChannelServer.listen(held, { token: TOKEN });
  const child = await ChannelStore.connect({ address: server.address, token: TOKEN });
  try {
    const call = child.getElement(id);
    await arrived;
    await server.close();
    await assert.rejects(call, StoreUnavailableError);
  } finally {
    await child.close();
    await server.close();
    await store.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("channel store: a lease taken in flight when admin goes away is taken once, on the fallback", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "riskguard-channel-fallback-" });
  const { spec, store, id } = await seeded(dir);
  const instance = await store.addInstance({ path: "sim:calm", host: "h" });
  /** Takes the lease at `now` through an admin that dies with the call in flight. */
  const takeAsAdminDies = async (now: number, options: { landFirst?: boolean }) => {
    const { held, arrived } = holding(store, "takeLease", options);
    const server = StoreChannelServer.listen(held, { token: TOKEN });
    const child = await ChannelStore.connect({
      address: server.address,
      token: TOKEN,
      fallback: () => openStore(spec),
    });
    try {
      const call = child.takeLease(id, instance._id, {
        host: "h",
        now,
        staleAfterMs: 60_000,
        takeId: crypto.randomUUID(),
      });
      await arrived;
      await server.close();
      const lease = await call;
      assert.equal(child.throughAdmin, false);
      await child.ping(lease, now + 1); // the lease is valid
      return lease;
    } finally {
      await child.close();
      await server.close();
    }
  };
  try {
    await t.step("admin died before taking it: taken on the child's own store", async () => {
      assert.equal((await takeAsAdminDies(1_000, {})).lease, 1);
    });
    await t.step(
      "admin took it and died before answering: the repeat gets that lease",
      async () => {
        // Stale by now (the first step's holder stopped pinging at 1 001).
        const lease = await takeAsAdminDies(100_000, { landFirst: true });
        assert.equal(lease.lease, 2, "taken once: the repeat did not take it again");
        const parsed = await store.getElement(id);
        assert.ok(parsed?.valid);
        assert.equal(parsed.element.lease, 2);
      },
    );
  } finally {
    await store.close();
    await Deno.remove(dir, { recursive: true });
  }
});
