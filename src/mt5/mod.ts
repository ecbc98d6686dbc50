/**
 * MT5 integration: the bridge protocol, the agent side of the bridge, the terminal launcher and
 * the simulator.
 *
 * - Start a terminal for an instance: `launchTerminal({ path, login, password, server, port,
 *   token })` — `path` is a portable terminal folder or `sim:<scenario>`.
 * - Talk to its EA: `Bridge.open({ port, token })`, `bridge.on(...)`, `bridge.send(...)`.
 *
 * @module
 */
export * from "./protocol.ts";
export { Bridge, BridgeError, makeToken } from "./bridge.ts";
export type {
  BridgeEvent,
  BridgeOptions,
  BridgeStats,
  CommandInput,
  DropReason,
} from "./bridge.ts";
export {
  DEFAULT_EXPERT,
  encodeUtf16le,
  launchTerminal,
  parseSimPath,
  parseSimSpec,
  presetName,
  removeStartupFiles,
  renderPreset,
  renderStartupIni,
  STARTUP_INI_NAME,
  TerminalError,
  writeStartupFiles,
} from "./terminal.ts";
export type {
  BridgeInputs,
  LaunchTerminalOptions,
  ProcessLike,
  SimSpec,
  Spawner,
  StartupConfig,
  StartupFiles,
  TerminalEvent,
  TerminalHandle,
} from "./terminal.ts";
export * from "./sim/mod.ts";
export { PullSocket, PushSocket } from "./zmtp/mod.ts";
