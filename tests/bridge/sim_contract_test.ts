/** The EA contract run against the TypeScript simulator (in process, real ZMTP on 127.0.0.1). */
import { SimEa } from "../../src/mt5/sim/ea.ts";
import { SYMBOL_FILLING_FOK, SYMBOL_FILLING_IOC } from "../../src/mt5/sim/filling.ts";
import { scenario } from "../../src/mt5/sim/scenarios.ts";
import { SimTerminal } from "../../src/mt5/sim/simulator.ts";
import { eaContract } from "./_contract.ts";

eaContract("simulator", (endpoint) => {
  const closeRules = endpoint.fixture === "close_rules";
  const open = (at: number, symbol: string, side: "buy" | "sell", volume: number) => ({
    at,
    symbol,
    side,
    volume,
    slDistance: 0,
    tpDistance: 0,
  });
  const terminal = new SimTerminal({
    scenario: {
      ...scenario("calm"),
      trader: null,
      volatility: 0.2,
      opens: closeRules
        ? [
          open(0, "EURUSD", "buy", 0.1),
          open(10, "GBPUSD", "sell", 0.2),
          open(20, "EURUSD", "buy", 0.3),
        ]
        : [
          { at: 0, symbol: "EURUSD", side: "buy", volume: 0.5, slDistance: 0.005, tpDistance: 0 },
          { at: 0, symbol: "GBPUSD", side: "sell", volume: 0.2, slDistance: 0, tpDistance: 0 },
        ],
      pendings: closeRules
        ? []
        : [{ at: 0, symbol: "EURUSD", type: "buy_limit", volume: 0.3, distance: 0.01 }],
    },
    execDelayMs: 1,
    startUtc: Date.now(),
    ...(closeRules
      ? {
        fifoClose: true,
        execution: {
          EURUSD: { mode: "market", flags: 0, accepts: ["ioc"] },
          GBPUSD: { mode: "instant", flags: SYMBOL_FILLING_FOK | SYMBOL_FILLING_IOC },
        },
      }
      : {}),
  });
  const ea = new SimEa({
    terminal,
    port: endpoint.port,
    commandPort: endpoint.commandPort,
    token: endpoint.token,
    ...(endpoint.username === undefined ? {} : { username: endpoint.username }),
    speed: 4,
    timerMs: 25,
    heartbeatMs: 200,
  });
  ea.start();
  return Promise.resolve({ stop: () => ea.stop() });
});
