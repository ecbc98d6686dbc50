import assert from "node:assert/strict";
import { ContextFeed } from "./_context_feed.ts";

const positions = (price: number) =>
  Array.from({ length: 20 }, (_, i) => ({ ticket: i + 1, symbol: "EURUSD", price: price + i }));

Deno.test("ContextFeed: whole to a process that holds nothing, one shared delta to those in step", () => {
  const feed = new ContextFeed();
  const first = feed.round({ positions: positions(1), now: 1 }).message(0);
  assert.deepEqual(first, {
    json: `"version":1,"context":${JSON.stringify({ positions: positions(1), now: 1 })}`,
    version: 1,
    delta: false,
  });
  const round = feed.round({ positions: positions(1), now: 2 });
  const delta = round.message(1);
  assert.deepEqual(delta, {
    json: `"version":2,"base":1,"delta":{"now":2}`,
    version: 2,
    delta: true,
  });
  assert.equal(round.message(1).json, delta.json, "the same delta for every process in step");
  assert.equal(round.message(0).delta, false, "a process that holds nothing gets it whole");
  assert.equal(round.message(7).delta, false, "so does one that holds another version");
  assert.equal(
    round.whole().json,
    `"version":2,"context":${JSON.stringify({ positions: positions(1), now: 2 })}`,
  );
});

Deno.test("ContextFeed: a snapshot sent to no process leaves the feed where it was", () => {
  const feed = new ContextFeed();
  feed.round({ positions: positions(1), now: 1 }).message(0);
  feed.round({ positions: positions(1), now: 2 }); // every process busy: never asked
  assert.deepEqual(feed.round({ positions: positions(1), now: 3 }).message(1), {
    json: `"version":2,"base":1,"delta":{"now":3}`,
    version: 2,
    delta: true,
  });
});

Deno.test("ContextFeed: a delta that is not smaller than the whole context is not sent", () => {
  const feed = new ContextFeed();
  feed.round({ positions: positions(1) }).message(0);
  // Every position replaced by others: the delta carries them all, and the removed tickets.
  const others = positions(5).map((position) => ({ ...position, ticket: position.ticket + 100 }));
  const message = feed.round({ positions: others }).message(1);
  assert.deepEqual(message, {
    json: `"version":2,"context":${JSON.stringify({ positions: others })}`,
    version: 2,
    delta: false,
  });
  // The feed moved on all the same: the next delta is from that context.
  assert.equal(
    feed.round({ positions: others, now: 1 }).message(2).json,
    `"version":3,"base":2,"delta":{"now":1}`,
  );
});
