/**
 * `riskguard sim`: runs the simulated MT5 terminal + bridge EA against a risk process (or any
 * bound bridge) until Ctrl+C, `--duration` seconds, or its agent is gone (it refused the token:
 * another risk process took the ports; or none was connected for `--exit-without-agent`
 * seconds), then prints what happened.
 *
 * @module
 */
import type { Command } from "commander";
import { ConfigError } from "../shared/errors.ts";
import { logger } from "../shared/logging.ts";
import { createTerminal } from "../mt5/sim/in_process.ts";
import { SIM_TOKEN_ENV } from "../mt5/sim/launch.ts";
import { SimEa } from "../mt5/sim/ea.ts";
import { isScenarioName, SCENARIO_NAMES } from "../mt5/sim/scenarios.ts";
import { type CliContext, startCommand } from "./context.ts";

interface SimOptions {
  scenario: string;
  port: string;
  token?: string;
  seed?: string;
  speed?: string;
  execDelay?: string;
  timer?: string;
  heartbeat?: string;
  login?: string;
  duration?: string;
  truthLog?: string;
  faultFile?: string;
  exitWithoutAgent?: string;
}

/** Adds the `sim` command. */
export function registerSim(program: Command, ctx: CliContext): void {
  program.command("sim")
    .description("run a simulated MT5 terminal + bridge EA that connects to a risk process")
    .requiredOption("--scenario <name>", SCENARIO_NAMES.join(", "))
    .requiredOption(
      "--port <number>",
      "bridge base port of the risk process (PUSH to it, PULL from +1)",
    )
    .option("--token <token>", `PLAIN password of this launch (env ${SIM_TOKEN_ENV})`)
    .option("--seed <number>", "random seed: same seed, same ticks (default 1)")
    .option("--speed <factor>", "simulated time per real time (default 1)")
    .option("--exec-delay <ms>", "real ms one trade request takes (default 150)")
    .option("--timer <ms>", "EA timer period (default 100)")
    .option("--heartbeat <ms>", "heartbeat interval when nothing changes (default 1000)")
    .option("--login <number>", "account number (default 5000001)")
    .option("--duration <seconds>", "stop after this many real seconds (default: until Ctrl+C)")
    .option(
      "--truth-log <file>",
      "append what really happens on the account (equity, trades, commands) as JSON lines",
    )
    .option(
      "--fault-file <file>",
      "drills: a file the EA polls for a connection fault to perform (cut, garbage, silent <ms>)",
    )
    .option(
      "--exit-without-agent <seconds>",
      "stop when no agent has been connected for this long (default: never; a refused token " +
        "always stops it)",
    )
    .action(async (_options: unknown, command: Command) => {
      await startCommand(ctx, command);
      const o = command.opts<SimOptions>();
      if (!isScenarioName(o.scenario)) {
        throw new ConfigError(
          `Unknown --scenario "${o.scenario}"; allowed: ${SCENARIO_NAMES.join(", ")}`,
        );
      }
      const token = o.token ?? ctx.env[SIM_TOKEN_ENV];
      if (token === undefined || token === "") {
        throw new ConfigError(`Missing --token (or env ${SIM_TOKEN_ENV})`);
      }
      const port = integer("--port", o.port, 1, 65534);
      const speed = o.speed === undefined ? 1 : positive("--speed", o.speed);
      const agentGoneMs = o.exitWithoutAgent === undefined
        ? undefined
        : positive("--exit-without-agent", o.exitWithoutAgent) * 1000;
      // Its risk process is gone (killed, or replaced by one with another token): stop, as a
      // drill's simulator must not outlive the process that started it.
      const gone = new AbortController();
      let goneWhy: string | undefined;
      const { terminal, truth } = createTerminal({
        scenario: o.scenario,
        seed: o.seed === undefined ? 1 : integer("--seed", o.seed, 0, 2 ** 32 - 1),
        execDelayMs: o.execDelay === undefined
          ? 150
          : integer("--exec-delay", o.execDelay, 0, 60_000),
        speed,
        ...(o.login === undefined ? {} : { login: integer("--login", o.login, 1, 2 ** 52) }),
        ...(o.truthLog === undefined ? {} : { truthLog: o.truthLog }),
      });
      const ea = new SimEa({
        terminal,
        port,
        token,
        speed,
        ...(truth === undefined ? {} : {
          onSend: (message) => truth.sent(message),
          onFault: (fault) => truth.fault(terminal.time, fault),
          onLink: (up) => truth.link(terminal.time, up),
        }),
        onAgentGone: (why) => {
          goneWhy = why;
          gone.abort();
        },
        ...(agentGoneMs === undefined ? {} : { agentGoneMs }),
        ...(o.faultFile === undefined ? {} : { faultFile: o.faultFile }),
        ...(o.timer === undefined ? {} : { timerMs: integer("--timer", o.timer, 1, 60_000) }),
        ...(o.heartbeat === undefined
          ? {}
          : { heartbeatMs: integer("--heartbeat", o.heartbeat, 1, 600_000) }),
      });
      const log = logger("sim");
      log.info("Simulator {scenario} connecting to 127.0.0.1:{port} (commands from {next})", {
        scenario: o.scenario,
        port,
        next: port + 1,
      });
      ea.start();
      await waitForStop(
        AbortSignal.any([ctx.stopSignal, gone.signal]),
        o.duration === undefined ? undefined : positive("--duration", o.duration) * 1000,
      );
      if (goneWhy !== undefined) {
        log.info("Simulator stops: its agent is gone ({why})", { why: goneWhy });
      }
      await ea.stop();
      truth?.close(terminal.time, goneWhy);
      const h = terminal.history;
      const stats = ea.stats;
      ctx.stdout(
        (goneWhy === undefined ? "" : `sim stopped: its agent is gone (${goneWhy})\n`) +
          `sim ${o.scenario}: ${stats.hellos} hello, ${stats.snapshots} snapshots, ` +
          `${stats.heartbeats} heartbeats, ${h.commands.length} commands executed ` +
          `(${h.duplicates} duplicates), closed ${JSON.stringify(h.closedTickets)}, ` +
          `cancelled ${JSON.stringify(h.cancelledOrders)}, opened while locked ` +
          `${JSON.stringify(h.openedWhileLocked)}, balance ${terminal.balance.toFixed(2)}, ` +
          `equity ${terminal.equity.toFixed(2)}\n`,
      );
    });
}

function integer(flag: string, value: string, min: number, max: number): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new ConfigError(`Invalid ${flag} "${value}": an integer from ${min} to ${max}`);
  }
  return n;
}

function positive(flag: string, value: string): number {
  const n = Number(value);
  if (!(n > 0) || !Number.isFinite(n)) {
    throw new ConfigError(`Invalid ${flag} "${value}": a positive number`);
  }
  return n;
}

function waitForStop(signal: AbortSignal, ms: number | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = ms === undefined ? undefined : setTimeout(finish, ms);
    signal.addEventListener("abort", finish, { once: true });
    function finish() {
      if (timer !== undefined) clearTimeout(timer);
      signal.removeEventListener("abort", finish);
      resolve();
    }
  });
}
