/**
 * `deno task soak`: many accounts on random scenarios (seeded; the seed is printed), each
 * guarded by a real `riskguard --mode risk` process with its simulator writing a truth log, on
 * one SQLite store, for a long time; then the oracle judges every account.
 *
 * Prints, and with `--report <file>` writes as Markdown: missed breaches and false locks (must be
 * 0), breach-to-flat p50/p99, RSS of each process a little after start and at the end, store
 * size and events per second. Exits 1 when the oracle finds a broken promise or a process did
 * not end cleanly.
 *
 * ```
 * deno task soak                                  # 30 minutes, 20 accounts, bench/SOAK.md
 * deno run -A tools/soak.ts --minutes 2 --accounts 4 --seed 42
 * ```
 *
 * `tests/faults/soak_test.ts` runs a 2-minute version in the test suite.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { SCENARIO_NAMES, type ScenarioName } from "../src/mt5/sim/scenarios.ts";
import { openStore } from "../src/store/mod.ts";
import { type AccountVerdict, describeVerdict } from "../tests/support/oracle.ts";
import {
  addDrillAccount,
  allEvents,
  type DrillAccount,
  type RiskProcess,
  startRiskProcess,
  verdictOf,
} from "../tests/support/risk_process.ts";

/** Options of {@link runSoak}. */
export interface SoakOptions {
  minutes: number;
  accounts: number;
  seed: number;
  /** Simulated ms per real ms of every simulator. */
  speed: number;
  /** Breach-to-flat target of the oracle, ms. */
  targetMs?: number;
  /** Prints progress. */
  log?: (line: string) => void;
}

/** One account's outcome. */
export interface SoakAccount {
  login: number;
  scenario: ScenarioName;
  limits: string;
  verdict: AccountVerdict;
  summary: string;
  exitCode: number;
  /** RSS in MB a little after start and at the end (undefined where /proc is missing). */
  rssStartMb: number | undefined;
  rssEndMb: number | undefined;
  events: number;
}

/** What a soak run measured. */
export interface SoakResult {
  options: SoakOptions;
  accounts: SoakAccount[];
  seconds: number;
  missed: number;
  falseLocks: number;
  broken: number;
  breachToFlat: { count: number; p50: number; p99: number };
  /** Breach to flat without the time the broker spent refusing requests (the agent's part). */
  agentToFlat: { p50: number; p99: number };
  storeBytes: number;
  eventsPerSecond: number;
  /** True when every promise held and every process ended with 0. */
  ok: boolean;
}

/** Runs the soak and returns what it measured (temporary files are removed). */
export async function runSoak(options: SoakOptions): Promise<SoakResult> {
  const log = options.log ?? (() => {});
  const random = mulberry32(options.seed);
  const dir = await Deno.makeTempDir({ prefix: "riskguard-soak-" });
  const spec = `sqlite:${dir}/soak.db`;
  const store = await openStore(spec);
  const started: {
    account: DrillAccount;
    scenario: ScenarioName;
    limits: string;
    risk: RiskProcess;
  }[] = [];
  try {
    for (let i = 0; i < options.accounts; i++) {
      const scenario = SCENARIO_NAMES[Math.floor(random() * SCENARIO_NAMES.length)]!;
      const element = limitsFor(random);
      const account = await addDrillAccount(store, {
        scenario,
        element,
        dir,
        login: 6_000_001 + i,
        seed: Math.floor(random() * 1e9),
        speed: options.speed,
      });
      const risk = startRiskProcess({ store: { spec, db: "riskguard" }, account });
      started.push({ account, scenario, limits: JSON.stringify(element), risk });
    }
    log(`soak: ${options.accounts} accounts started, running ${options.minutes} min`);
    const begin = Date.now();
    await sleep(Math.min(15_000, options.minutes * 60_000 / 4));
    const rssStart = started.map((s) => rssMb(s.risk.pid));
    const end = begin + options.minutes * 60_000;
    while (Date.now() < end) {
      await sleep(Math.min(60_000, end - Date.now()));
      const elapsed = Math.round((Date.now() - begin) / 1000);
      log(
        `soak: ${elapsed} s, ${
          started.filter((s) => rssMb(s.risk.pid) !== undefined).length
        } alive`,
      );
    }
    const rssEnd = started.map((s) => rssMb(s.risk.pid));
    const exitCodes = await Promise.all(started.map((s) => s.risk.stop()));
    const seconds = (Date.now() - begin) / 1000;

    const accounts: SoakAccount[] = [];
    let totalEvents = 0;
    for (const [index, s] of started.entries()) {
      const { verdict, summary } = await verdictOf(store, s.account, {
        targetMs: options.targetMs ?? 5_000,
      });
      const events = (await allEvents(store, s.account.elementId)).length;
      totalEvents += events;
      accounts.push({
        login: 6_000_001 + index,
        scenario: s.scenario,
        limits: s.limits,
        verdict,
        summary,
        exitCode: exitCodes[index]!,
        rssStartMb: rssStart[index],
        rssEndMb: rssEnd[index],
        events,
      });
    }
    const times = accounts.flatMap((a) => a.verdict.breachToFlatMs).sort((a, b) => a - b);
    const agentTimes = accounts.flatMap((a) =>
      a.verdict.breachToFlatMs.map((ms, i) => ms - (a.verdict.refusedMs[i] ?? 0))
    ).sort((a, b) => a - b);
    const missed = sum(accounts.map((a) => a.verdict.missed.length));
    const falseLocks = sum(accounts.map((a) => a.verdict.falseLocks.length));
    const broken = accounts.filter((a) => !a.verdict.ok || a.exitCode !== 0).length;
    return {
      options,
      accounts,
      seconds,
      missed,
      falseLocks,
      broken,
      breachToFlat: {
        count: times.length,
        p50: percentile(times, 0.5),
        p99: percentile(times, 0.99),
      },
      agentToFlat: { p50: percentile(agentTimes, 0.5), p99: percentile(agentTimes, 0.99) },
      storeBytes: await storeSize(`${dir}/soak.db`),
      eventsPerSecond: totalEvents / seconds,
      ok: broken === 0,
    };
  } finally {
    await Promise.all(started.map((s) => s.risk.stop().catch(() => 0)));
    await store.close();
    await Deno.remove(dir, { recursive: true });
  }
}

/** Limits for a random account: always a daily loss; sometimes a profit target or a drawdown. */
function limitsFor(random: () => number): Record<string, unknown> {
  const element: Record<string, unknown> = { max_daily_loss: random() < 0.5 ? "5%" : 400 };
  if (random() < 0.5) element.max_profit = "3%";
  if (random() < 0.3) element.max_drawdown = { limit: "8%", mode: "trailing_equity" };
  return element;
}

/** The report as Markdown. */
export function soakReport(result: SoakResult): string {
  const o = result.options;
  const fmt = (n: number | undefined) => n === undefined ? "n/a" : n.toFixed(0);
  const lines = [
    "# Soak report",
    "",
    `\`deno run -A tools/soak.ts --minutes ${o.minutes} --accounts ${o.accounts} --seed ${o.seed} ` +
    `--speed ${o.speed}\` on ${Deno.build.os}/${Deno.build.arch}, Deno ${Deno.version.deno}, ` +
    `${new Date().toISOString().slice(0, 10)}: each account a real \`--mode risk\` process with ` +
    "its simulator, one SQLite store, judged by the oracle (`tests/support/oracle.ts`).",
    "",
    "| measure | value | target |",
    "|---|---|---|",
    `| duration | ${(result.seconds / 60).toFixed(1)} min | ${o.minutes} min |`,
    `| missed breaches | ${result.missed} | 0 |`,
    `| false locks | ${result.falseLocks} | 0 |`,
    `| accounts with a broken promise or unclean exit | ${result.broken} | 0 |`,
    `| breaches enforced | ${result.breachToFlat.count} | |`,
    `| breach to flat p50 | ${fmt(result.breachToFlat.p50)} ms | |`,
    `| breach to flat p99 | ${fmt(result.breachToFlat.p99)} ms | |`,
    `| the same without the broker's refusals, p50 / p99 | ${fmt(result.agentToFlat.p50)} / ` +
    `${fmt(result.agentToFlat.p99)} ms | p99 < ${o.targetMs ?? 5_000} ms |`,
    `| store size | ${(result.storeBytes / 1024 / 1024).toFixed(1)} MB | |`,
    `| events per second | ${result.eventsPerSecond.toFixed(1)} | |`,
    "",
    "| login | scenario | limits | RSS start MB | RSS end MB | events | oracle |",
    "|---|---|---|---|---|---|---|",
    ...result.accounts.map((a) =>
      `| ${a.login} | ${a.scenario} | \`${a.limits}\` | ${fmt(a.rssStartMb)} | ${
        fmt(a.rssEndMb)
      } | ` +
      `${a.events} | ${a.verdict.ok && a.exitCode === 0 ? "ok" : "BROKEN"}: ${a.summary}` +
      `${a.exitCode === 0 ? "" : ` (exit ${a.exitCode})`} |`
    ),
    "",
  ];
  return lines.join("\n");
}

function rssMb(pid: number): number | undefined {
  try {
    const status = Deno.readTextFileSync(`/proc/${pid}/status`);
    const match = /VmRSS:\s+(\d+) kB/.exec(status);
    return match === null ? undefined : Number(match[1]) / 1024;
  } catch {
    return undefined;
  }
}

async function storeSize(path: string): Promise<number> {
  let bytes = 0;
  for (const file of [path, `${path}-wal`]) {
    bytes += await Deno.stat(file).then((s) => s.size, () => 0);
  }
  return bytes;
}

function percentile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

function sum(values: number[]): number {
  return values.reduce((a, b) => a + b, 0);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}

/** A small seeded generator: the same seed picks the same scenarios and limits. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      minutes: { type: "string", default: "30" },
      accounts: { type: "string", default: "20" },
      seed: { type: "string" },
      speed: { type: "string", default: "2" },
      report: { type: "string" },
    },
  });
  const seed = values.seed === undefined
    ? Math.floor(Math.random() * 2 ** 31)
    : Number(values.seed);
  const options: SoakOptions = {
    minutes: Number(values.minutes),
    accounts: Number(values.accounts),
    seed,
    speed: Number(values.speed),
    log: (line) => console.log(line),
  };
  for (const [name, value] of Object.entries(options)) {
    if (typeof value === "number" && !(value > 0)) {
      console.error(`Invalid --${name}: ${value}`);
      Deno.exit(2);
    }
  }
  console.log(`soak seed ${seed}`);
  const result = await runSoak(options);
  const report = soakReport(result);
  console.log(report);
  for (const account of result.accounts.filter((a) => !a.verdict.ok)) {
    console.log(`${account.login}: ${describeVerdict(account.verdict)}`);
  }
  if (values.report !== undefined) await Deno.writeTextFile(values.report, report);
  Deno.exit(result.ok ? 0 : 1);
}
