/**
 * The MT5 simulator: a simulated terminal + bridge EA that speaks the bridge protocol exactly
 * like `mql5/RiskGuardBridge.mq5`, with a seeded price engine, an account, a trader and
 * scenarios. {@link startSimulator} starts it for a `sim:<scenario>` pathway.
 *
 * @module
 */
export { closeAllOrder, fifoBlocks } from "./close_order.ts";
export type { CloseCandidate } from "./close_order.ts";
export { SimEa } from "./ea.ts";
export type { SimEaOptions, SimEaStats } from "./ea.ts";
export {
  DEFAULT_EXECUTION,
  eaFillingModes,
  serverAcceptsFilling,
  SYMBOL_FILLING_FOK,
  SYMBOL_FILLING_IOC,
} from "./filling.ts";
export type { ExecutionMode, FillingMode, SymbolExecution } from "./filling.ts";
export { SIM_TOKEN_ENV, startSimulator } from "./launch.ts";
export type { SimHandle, SimLaunchMode, SimLaunchOptions } from "./launch.ts";
export { Market, SIM_SYMBOLS, SIM_VOLUME, symbolSpec, tickValue } from "./market.ts";
export type { Gap, MarketOptions, Quote, SymbolSpec, Tick } from "./market.ts";
export { isScenarioName, pipOf, scenario, SCENARIO_NAMES } from "./scenarios.ts";
export type {
  FaultPlan,
  Scenario,
  ScenarioName,
  ScriptedOpen,
  ScriptedPending,
  TraderPolicy,
} from "./scenarios.ts";
export { Retcode, SimTerminal, TRIES_WHILE_LOCKED } from "./simulator.ts";
export type {
  CloseCause,
  CommandRecord,
  SimHistory,
  SimTerminalOptions,
  TradeEvent,
  Wait,
} from "./simulator.ts";
