/**
 * `max_lots_per_symbol`.
 *
 * @module
 */
import type { Position } from "../../mt5/protocol.ts";
import { defineRule, type RuleAction } from "../rule.ts";
import { closeNewestOverLots } from "./max_total_lots.ts";

/** Per symbol, the newest positions are closed while that symbol's volume exceeds `max`. */
export const maxLotsPerSymbol = defineRule<number>({
  id: "max_lots_per_symbol",
  description: "closes the newest positions of a symbol while its volume exceeds the limit",
  evaluate({ snapshot, options }) {
    const bySymbol = new Map<string, Position[]>();
    for (const position of snapshot.positions) {
      const list = bySymbol.get(position.symbol);
      if (list === undefined) bySymbol.set(position.symbol, [position]);
      else list.push(position);
    }
    const actions: RuleAction[] = [];
    for (const [symbol, positions] of bySymbol) {
      actions.push(...closeNewestOverLots(positions, options, symbol));
    }
    return actions;
  },
});
