import assert from "node:assert/strict";
import { type Notification, WebhookNotifier } from "./notifier.ts";

function notification(message: string): Notification {
  return {
    kind: "breach",
    element_id: "acc-1",
    level: "critical",
    message,
    rule: "max_daily_loss",
    at: new Date(0).toISOString(),
  };
}

/** A local webhook that answers with the given statuses in turn (then 200). */
function startWebhook(statuses: number[] = [], delayMs = 0) {
  const received: Notification[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (request) => {
    if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
    const status = statuses.shift() ?? 200;
    if (status === 200) received.push(await request.json());
    else await request.body?.cancel();
    return new Response(null, { status });
  });
  return { received, url: `http://127.0.0.1:${server.addr.port}/hook`, server };
}

Deno.test("webhook: notifications arrive in order as JSON", async () => {
  const hook = startWebhook();
  const notifier = new WebhookNotifier(hook.url, { backoffMs: 5 });
  try {
    notifier.notify(notification("first"));
    notifier.notify(notification("second"));
    await notifier.flush();
    assert.deepEqual(hook.received.map((n) => n.message), ["first", "second"]);
    assert.equal(hook.received[0]!.rule, "max_daily_loss");
    assert.deepEqual(notifier.stats, { sent: 2, failed: 0, dropped: 0 });
  } finally {
    await notifier.close();
    await hook.server.shutdown();
  }
});

Deno.test("webhook: server errors are retried, client errors are not", async () => {
  const hook = startWebhook([500, 503, 200, 400]);
  const notifier = new WebhookNotifier(hook.url, { backoffMs: 5, attempts: 3 });
  try {
    notifier.notify(notification("retried"));
    notifier.notify(notification("rejected"));
    await notifier.flush();
    assert.deepEqual(hook.received.map((n) => n.message), ["retried"]);
    assert.deepEqual(notifier.stats, { sent: 1, failed: 1, dropped: 0 });
  } finally {
    await notifier.close();
    await hook.server.shutdown();
  }
});

Deno.test("webhook: an unreachable webhook never blocks the caller and gives up", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close(); // nothing listens on this port any more
  const notifier = new WebhookNotifier(`http://127.0.0.1:${port}/`, { backoffMs: 5, attempts: 2 });
  try {
    // notify() is synchronous: it returns before any delivery attempt has finished.
    for (let i = 0; i < 5; i++) assert.equal(notifier.notify(notification(`n${i}`)), undefined);
    assert.deepEqual(notifier.stats, { sent: 0, failed: 0, dropped: 0 });
    await notifier.flush();
    assert.deepEqual(notifier.stats, { sent: 0, failed: 5, dropped: 0 });
  } finally {
    await notifier.close();
  }
});

Deno.test("webhook: a slow webhook makes the queue drop its oldest entries", async () => {
  const hook = startWebhook([], 30);
  const notifier = new WebhookNotifier(hook.url, { backoffMs: 5, maxQueue: 2 });
  try {
    for (let i = 0; i < 6; i++) notifier.notify(notification(`n${i}`));
    await notifier.flush();
    // n0 was in flight; each newer one pushed out the oldest waiting one.
    assert.equal(notifier.stats.dropped, 4);
    assert.deepEqual(hook.received.map((n) => n.message), ["n0", "n5"]);
  } finally {
    await notifier.close();
    await hook.server.shutdown();
  }
});

Deno.test("webhook: a flood of warnings never pushes out a critical notification", async () => {
  const hook = startWebhook([], 30);
  const notifier = new WebhookNotifier(hook.url, { backoffMs: 5, maxQueue: 3 });
  try {
    notifier.notify({ ...notification("first"), level: "info" });
    notifier.notify({ ...notification("LOCK"), level: "critical" });
    for (let i = 0; i < 5; i++) {
      notifier.notify({ ...notification(`warning ${i}`), level: "warning" });
    }
    await notifier.flush();
    assert.ok(hook.received.some((n) => n.message === "LOCK"), JSON.stringify(hook.received));
  } finally {
    await notifier.close();
    await hook.server.shutdown();
  }
});
