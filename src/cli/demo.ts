/**
 * `riskguard demo`: one simulated account guarded end to end, with no MongoDB and no MT5.
 *
 * The demo creates an embedded SQLite store in a temporary folder, registers a simulated
 * terminal (`sim:<scenario>`) and an account with a 5 % daily loss limit, and runs the real
 * risk process on it in this process: real ZMTP bridge on loopback, real rules, real store
 * writes. It prints a live status line and every breach, lock, command and ack as it happens,
 * and stops on Ctrl+C or after `--duration` seconds.
 *
 * @module
 */
import type { Command } from "commander";
import { ConfigError } from "../shared/errors.ts";
import { freePortPair } from "../shared/net.ts";
import { openStore } from "../store/mod.ts";
import { isScenarioName, SCENARIO_NAMES } from "../mt5/sim/scenarios.ts";
import { type RiskEvent, type RiskStatus, runRisk } from "../risk/mod.ts";
import { type CliContext, startCommand } from "./context.ts";

/** The account number the simulator reports. */
const SIM_LOGIN = 5_000_001;

/** Adds the `demo` command. */
export function registerDemo(program: Command, ctx: CliContext): void {
  program.command("demo")
    .description("guard a simulated account end to end with no MongoDB and no MT5")
    .option("--duration <seconds>", "stop after this many seconds (default: until Ctrl+C)")
    .option("--scenario <name>", `simulator scenario: ${SCENARIO_NAMES.join(", ")}`, "losing_day")
    .option("--seed <number>", "simulator seed (same seed, same run)", "7")
    .option(
      "--speed <factor>",
      "simulated time per real time (2 runs the market twice as fast)",
      "1",
    )
    .action(async (options: Record<string, string | undefined>, command: Command) => {
      const duration = parseSeconds(options.duration);
      const scenario = options.scenario ?? "losing_day";
      if (!isScenarioName(scenario)) {
        throw new ConfigError(
          `Invalid value for --scenario: "${scenario}"; allowed: ${SCENARIO_NAMES.join(", ")}`,
        );
      }
      const seed = Number(options.seed);
      if (!Number.isInteger(seed)) {
        throw new ConfigError(`Invalid value for --seed: "${options.seed}"; expected an integer`);
      }
      const speed = Number(options.speed);
      if (!Number.isFinite(speed) || speed <= 0 || speed > 100) {
        throw new ConfigError(
          `Invalid value for --speed: "${options.speed}"; expected a number from 0 to 100`,
        );
      }
      const config = await startCommand(ctx, command);
      await runDemo(ctx, { scenario, seed, speed, duration, host: config.host });
    });
}

interface DemoOptions {
  scenario: string;
  seed: number;
  speed: number;
  duration: number | undefined;
  host: string;
}

async function runDemo(ctx: CliContext, options: DemoOptions): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "riskguard-demo-" });
  const store = await openStore(`sqlite:${dir}/demo.db`);
  const signals = [ctx.stopSignal];
  if (options.duration !== undefined) signals.push(AbortSignal.timeout(options.duration * 1_000));
  const signal = AbortSignal.any(signals);
  const live = isTerminal();
  let lastLine = 0;
  let statusShown = false;
  const print = (text: string) => {
    if (statusShown && live) ctx.stdout("\r\x1b[K");
    statusShown = false;
    ctx.stdout(text);
  };
  try {
    // Ports that are free now, so the demo runs beside anything that holds the default ones.
    const instance = await store.addInstance({
      path: `sim:${options.scenario}`,
      host: options.host,
      port: freePortPair(),
    });
    const inserted = await store.insertElement({
      name: "demo account",
      server: "RiskGuard-Sim",
      login: SIM_LOGIN,
      password: "demo-password",
      max_daily_loss: "5%",
      max_position_risk: "3%",
      max_profit: "8%",
      max_drawdown: { limit: "10%", mode: "trailing_equity" },
      max_open_positions: 10,
    });
    if (!inserted.ok) throw new Error(`demo element refused: ${inserted.field} ${inserted.reason}`);
    const element = inserted.element.element;
    print(
      `riskguard demo: account ${element.login} on ${element.server}, scenario ${options.scenario}\n` +
        `limits: daily loss 5%, position risk 3%, daily profit 8%, trailing drawdown 10%\n` +
        `store: ${store.description} (temporary)\n` +
        `${
          options.duration === undefined ? "Ctrl+C to stop" : `stops after ${options.duration} s`
        }\n\n`,
    );
    await runRisk({
      store,
      elementId: element._id,
      host: options.host,
      instanceId: instance._id,
      signal,
      sim: { seed: options.seed, speed: options.speed },
      timing: { metricsIntervalMs: 1_000, pingIntervalMs: 2_000 },
      onEvent: (event) => {
        if (SHOWN_EVENTS.has(event.type)) print(formatEvent(event));
      },
      onStatus: (status) => {
        const now = Date.now();
        if (live) {
          ctx.stdout(`\r\x1b[K${formatStatus(status)}`);
          statusShown = true;
        } else if (now - lastLine >= 2_000) {
          lastLine = now;
          ctx.stdout(`${formatStatus(status)}\n`);
        }
      },
    });
    const final = await store.getElement(element._id);
    const events = await store.listEvents(element._id, { limit: 10_000 });
    const counts = new Map<string, number>();
    for (const event of events) counts.set(event.type, (counts.get(event.type) ?? 0) + 1);
    print(
      `\n\ndemo finished: trading ${final?.valid ? final.element.trading : "?"}, ` +
        `${events.length} events recorded (${
          [...counts].map(([type, count]) => `${count} ${type}`).join(", ")
        })\n`,
    );
  } finally {
    await store.close();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

const SHOWN_EVENTS = new Set(["breach", "lock", "unlock", "command", "ack", "warning", "error"]);

function formatEvent(event: RiskEvent): string {
  const time = new Date(event.at).toISOString().slice(11, 19);
  const rule = event.rule ? ` [${event.rule}]` : "";
  return `${time} ${event.type.toUpperCase().padEnd(7)}${rule} ${event.message}\n`;
}

function formatStatus(status: RiskStatus): string {
  const money = (value: number) => value.toFixed(2);
  const limit = status.daily_loss_limit === undefined
    ? ""
    : ` / -${money(status.daily_loss_limit)}`;
  return `#${status.seq} equity ${money(status.equity)} ${status.currency}  ` +
    `day P/L ${money(status.daily_pnl)}${limit}  positions ${status.positions}  ` +
    `orders ${status.orders}  trading ${status.trading}${status.stale ? "  (STALE)" : ""}`;
}

function parseSeconds(raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) {
    throw new ConfigError(`Invalid value for --duration: "${raw}"; expected seconds > 0`);
  }
  return value;
}

function isTerminal(): boolean {
  try {
    return Deno.stdout.isTerminal();
  } catch {
    return false;
  }
}
