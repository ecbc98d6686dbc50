/**
 * `deno task soak`: many accounts on random scenarios (seeded; the seed is printed), each
 * guarded by a real `riskguard --mode risk` process with its simulator writing a truth log, on
 * one SQLite store, for a long time; then the oracle judges every account.
 *
 * Each risk process runs as admin starts one (riskguard's V8 flags, lazy dynamic imports)
 * through `tools/_soak_child.ts`, which samples its `Deno.memoryUsage()` every 5 s.
 *
 * Prints, and with `--report <file>` writes as Markdown: missed breaches and false locks (must be
 * 0), breach-to-flat p50/p99, each process's memory (RSS, V8 heap used, external) at 1 minute,
 * at half time and at the end, and whether its RSS is flat (grew less than
 * {@link FLAT_GROWTH_MB} from half time to the end; the first half is warm-up: code compiled,
 * the day's data loaded, V8's heap sized), store size and events per second. Exits 1 when the
 * oracle finds a broken promise or a process did not end cleanly; memory that is not flat is
 * reported, not a failure (a soak on a loaded machine is a measurement, not a test).
 *
 * ```
 * deno task soak                                  # 30 minutes, 20 accounts, bench/SOAK.md
 * deno run -A tools/soak.ts --minutes 2 --accounts 4 --seed 42
 * deno run -A tools/soak.ts --minutes 10 --accounts 3 --memory-series mem.jsonl --live-heap
 * ```
 *
 * `tests/faults/soak_test.ts` runs a 2-minute version in the test suite.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { SCENARIO_NAMES, type ScenarioName } from "../src/mt5/sim/scenarios.ts";
import { LAZY_DYNAMIC_IMPORTS } from "../src/shared/self_command.ts";
import { V8_FLAGS } from "../src/shared/v8_flags.ts";
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
import { MEMORY_FILE_ENV } from "./_soak_child.ts";

/** RSS growth from half time to the end, MB, below which a process counts as flat. */
export const FLAT_GROWTH_MB = 5;

/** The risk process of a soak: riskguard's command line plus a memory sampler. */
const SOAK_CHILD = new URL("./_soak_child.ts", import.meta.url).pathname;

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
  /** Writes every memory sample of every process here (JSON lines with `login`). */
  memorySeries?: string;
  /**
   * A probe: the processes get V8's `--expose-gc` and take one sample a minute right after a
   * full collection (`live` in the series), which tells a leak from garbage not yet collected.
   */
  liveHeap?: boolean;
}

/** One memory sample of a risk process (`Deno.memoryUsage()` in MB), `t` s after its start. */
export interface MemorySample {
  t: number;
  /** Taken right after a full collection (`liveHeap` probes only). */
  live: boolean;
  rssMb: number;
  /** Private (anonymous) part of the RSS; NaN where `/proc` does not tell. */
  rssAnonMb: number;
  /** File-backed part (mostly the executable's pages); NaN where `/proc` does not tell. */
  rssFileMb: number;
  heapUsedMb: number;
  heapTotalMb: number;
  externalMb: number;
}

/** A process's memory at the soak's three marks (undefined: no sample yet, or it was gone). */
export interface MemoryMarks {
  oneMinute: MemorySample | undefined;
  half: MemorySample | undefined;
  end: MemorySample | undefined;
}

/** One account's outcome. */
export interface SoakAccount {
  login: number;
  scenario: ScenarioName;
  limits: string;
  verdict: AccountVerdict;
  summary: string;
  exitCode: number;
  memory: MemoryMarks;
  /** RSS growth from half time to the end, MB (undefined without both samples). */
  rssGrowthMb: number | undefined;
  /** The same of its private (anonymous) part. */
  anonGrowthMb: number | undefined;
  /** RSS grew less than {@link FLAT_GROWTH_MB} from half time to the end. */
  flat: boolean;
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
  /** Processes whose RSS was flat from half time to the end. */
  flat: number;
  /** True when every promise held and every process ended with 0. */
  ok: boolean;
  /** Where the run's files were kept (when an account broke: truth logs, outputs, store). */
  keptDir?: string;
}

/**
 * Runs the soak and returns what it measured. Temporary files are removed, unless an account
 * broke: then its folder stays (`keptDir`) with the truth logs, the store and the output of each
 * broken account's process (`output-<login>.txt`).
 */
export async function runSoak(options: SoakOptions): Promise<SoakResult> {
  const log = options.log ?? (() => {});
  const random = mulberry32(options.seed);
  const dir = await Deno.makeTempDir({ prefix: "riskguard-soak-" });
  const spec = `sqlite:${dir}/soak.db`;
  const store = await openStore(spec);
  let keep = false;
  const started: {
    login: number;
    account: DrillAccount;
    scenario: ScenarioName;
    limits: string;
    risk: RiskProcess;
  }[] = [];
  // The flags a child started by admin gets (`selfCommand`), and a probe's `--expose-gc`.
  const v8Flags = `--v8-flags=${
    [...V8_FLAGS, ...(options.liveHeap === true ? ["--expose-gc"] : [])].join(",")
  }`;
  try {
    for (let i = 0; i < options.accounts; i++) {
      const scenario = SCENARIO_NAMES[Math.floor(random() * SCENARIO_NAMES.length)]!;
      const element = limitsFor(random);
      const login = 6_000_001 + i;
      const account = await addDrillAccount(store, {
        scenario,
        element,
        dir,
        login,
        seed: Math.floor(random() * 1e9),
        speed: options.speed,
      });
      const risk = startRiskProcess({
        store: { spec, db: "riskguard" },
        account,
        script: { path: SOAK_CHILD, denoFlags: [v8Flags, LAZY_DYNAMIC_IMPORTS] },
        env: { [MEMORY_FILE_ENV]: memoryFile(dir, login) },
      });
      started.push({ login, account, scenario, limits: JSON.stringify(element), risk });
    }
    log(`soak: ${options.accounts} accounts started, running ${options.minutes} min`);
    const begin = Date.now();
    const end = begin + options.minutes * 60_000;
    const halfAt = begin + options.minutes * 30_000;
    const marks: {
      at: number;
      take: (memory: MemoryMarks, s: MemorySample | undefined) => void;
    }[] = [
      { at: Math.min(begin + 60_000, halfAt), take: (m, s) => m.oneMinute = s },
      { at: halfAt, take: (m, s) => m.half = s },
    ];
    const memory: MemoryMarks[] = started.map(() => ({
      oneMinute: undefined,
      half: undefined,
      end: undefined,
    }));
    const latest = () => Promise.all(started.map((s) => latestSample(memoryFile(dir, s.login))));
    let nextLog = begin + 60_000;
    while (Date.now() < end) {
      await sleep(Math.min(nextLog, marks[0]?.at ?? end, end) - Date.now());
      while (marks[0] !== undefined && Date.now() >= marks[0].at) {
        const mark = marks.shift()!;
        (await latest()).forEach((sample, i) => mark.take(memory[i]!, sample));
      }
      if (Date.now() >= nextLog) {
        nextLog += 60_000;
        const samples = (await latest()).filter((m) => m !== undefined);
        log(
          `soak: ${Math.round((Date.now() - begin) / 1000)} s, ${
            started.filter((s) => rssMb(s.risk.pid) !== undefined).length
          } alive; mean MB rss ${mean(samples.map((m) => m.rssMb))}, anon ${
            mean(samples.map((m) => m.rssAnonMb))
          }, heap used ${mean(samples.map((m) => m.heapUsedMb))}, external ${
            mean(samples.map((m) => m.externalMb))
          }`,
        );
      }
    }
    (await latest()).forEach((sample, i) => memory[i]!.end = sample);
    const exitCodes = await Promise.all(started.map((s) => s.risk.stop()));
    const seconds = (Date.now() - begin) / 1000;

    const accounts: SoakAccount[] = [];
    let totalEvents = 0;
    for (const [index, s] of started.entries()) {
      const marks = memory[index]!;
      const growthOf = (pick: (m: MemorySample) => number) =>
        marks.half === undefined || marks.end === undefined
          ? undefined
          : pick(marks.end) - pick(marks.half);
      const rssGrowthMb = growthOf((m) => m.rssMb);
      const { verdict, summary } = await verdictOf(store, s.account, {
        targetMs: options.targetMs ?? 5_000,
      });
      const events = (await allEvents(store, s.account.elementId)).length;
      totalEvents += events;
      accounts.push({
        login: s.login,
        scenario: s.scenario,
        limits: s.limits,
        verdict,
        summary,
        exitCode: exitCodes[index]!,
        memory: marks,
        rssGrowthMb,
        anonGrowthMb: growthOf((m) => m.rssAnonMb),
        flat: rssGrowthMb !== undefined && rssGrowthMb < FLAT_GROWTH_MB,
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
    if (broken > 0) {
      // What a broken account did is in its truth log and its process's output: keep them.
      keep = true;
      for (const [index, s] of started.entries()) {
        const a = accounts[index]!;
        if (a.verdict.ok && a.exitCode === 0) continue;
        await Deno.writeTextFile(`${dir}/output-${s.login}.txt`, s.risk.output());
      }
      log(`soak: broken accounts: truth logs, outputs and the store are kept in ${dir}`);
    }
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
      flat: accounts.filter((a) => a.flat).length,
      ok: broken === 0,
      ...(keep ? { keptDir: dir } : {}),
    };
  } finally {
    await Promise.all(started.map((s) => s.risk.stop().catch(() => 0)));
    if (options.memorySeries !== undefined) {
      await writeMemorySeries(options.memorySeries, dir, started.map((s) => s.login));
    }
    await store.close();
    if (!keep) await Deno.remove(dir, { recursive: true });
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
  const notFlat = result.accounts.filter((a) => !a.flat).map((a) => a.login);
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
    `| processes with flat RSS (half time to end < ${FLAT_GROWTH_MB} MB) | ${result.flat} of ` +
    `${result.accounts.length}${notFlat.length === 0 ? "" : ` (not: ${notFlat.join(", ")})`} | ` +
    `${result.accounts.length} of ${result.accounts.length} |`,
    "",
    "Memory per process in MB at 1 minute / half time / end, sampled inside it every 5 s " +
    "(`Deno.memoryUsage()`, `/proc/self/status`): RSS, and of it the private part (anon: " +
    "V8's heap, the allocator, SQLite; the rest is mostly the executable's pages); heap used " +
    "(V8's objects, live or not yet collected); external (memory outside the heap that V8 " +
    `is told of). Flat: RSS grew less than ${FLAT_GROWTH_MB} MB from half time to the end.`,
    "",
    "| login | scenario | limits | RSS MB | anon MB | heap used MB | external MB | half to end: RSS, anon | events | oracle |",
    "|---|---|---|---|---|---|---|---|---|---|",
    ...result.accounts.map((a) =>
      `| ${a.login} | ${a.scenario} | \`${a.limits}\` | ${marks(a.memory, (m) => m.rssMb)} | ` +
      `${marks(a.memory, (m) => m.rssAnonMb)} | ` +
      `${marks(a.memory, (m) => m.heapUsedMb)} | ${marks(a.memory, (m) => m.externalMb)} | ` +
      `${growth(a.rssGrowthMb)}, ${growth(a.anonGrowthMb)} ${a.flat ? "flat" : "NOT FLAT"} | ` +
      `${a.events} | ${a.verdict.ok && a.exitCode === 0 ? "ok" : "BROKEN"}: ${a.summary}` +
      `${a.exitCode === 0 ? "" : ` (exit ${a.exitCode})`} |`
    ),
    "",
  ];
  return lines.join("\n");
}

/** `a / b / c` of one measure at the three marks. */
function marks(memory: MemoryMarks, pick: (sample: MemorySample) => number): string {
  return [memory.oneMinute, memory.half, memory.end].map((m) =>
    m === undefined || Number.isNaN(pick(m)) ? "n/a" : pick(m).toFixed(0)
  ).join(" / ");
}

function growth(mb: number | undefined): string {
  if (mb === undefined || Number.isNaN(mb)) return "n/a";
  return `${mb >= 0 ? "+" : ""}${mb.toFixed(1)}`;
}

function memoryFile(dir: string, login: number): string {
  return `${dir}/memory-${login}.jsonl`;
}

/** Every sample a process wrote so far (a half-written last line is skipped). */
async function memorySamples(path: string): Promise<MemorySample[]> {
  const text = await Deno.readTextFile(path).catch(() => "");
  const mb = (bytes: unknown) => Number(bytes) / 1024 / 1024;
  return text.split("\n").flatMap((line) => {
    try {
      const raw = JSON.parse(line) as Record<string, number | boolean>;
      return [{
        t: Number(raw.t) / 1000,
        live: raw.live === true,
        rssMb: mb(raw.rss),
        rssAnonMb: raw.rssAnon === undefined ? NaN : mb(raw.rssAnon),
        rssFileMb: raw.rssFile === undefined ? NaN : mb(raw.rssFile),
        heapUsedMb: mb(raw.heapUsed),
        heapTotalMb: mb(raw.heapTotal),
        externalMb: mb(raw.external),
      }];
    } catch {
      return [];
    }
  });
}

async function latestSample(path: string): Promise<MemorySample | undefined> {
  return (await memorySamples(path)).at(-1);
}

/** Writes every process's samples as JSON lines `{login, t, rssMb, heapUsedMb, ...}`. */
async function writeMemorySeries(path: string, dir: string, logins: number[]): Promise<void> {
  const lines: string[] = [];
  for (const login of logins) {
    for (const sample of await memorySamples(memoryFile(dir, login))) {
      lines.push(JSON.stringify({ login, ...sample }));
    }
  }
  await Deno.writeTextFile(path, lines.map((line) => `${line}\n`).join(""));
}

function mean(values: number[]): string {
  return values.length === 0 ? "n/a" : (sum(values) / values.length).toFixed(1);
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

const USAGE = `Usage: deno run -A tools/soak.ts [options]   (deno task soak: 30 min, bench/SOAK.md)

  --minutes <n>            how long the accounts trade (default 30)
  --accounts <n>           accounts, each with its risk process and simulator (default 20)
  --seed <n>               scenario seed (default random; printed, to run the same soak again)
  --speed <n>              simulator speed factor (default 2)
  --report <file>          also write the report as Markdown
  --memory-series <file>   every process's memory samples as JSON lines
  --live-heap              V8 heap after a full GC in each sample (slower)
  --help                   this text`;

if (import.meta.main) {
  let parsed;
  try {
    parsed = parseArgs({ args: Deno.args, options: soakFlags() });
  } catch (error) {
    console.error(`${(error as Error).message}\n\n${USAGE}`);
    Deno.exit(2);
  }
  if (parsed.values.help) {
    console.log(USAGE);
    Deno.exit(0);
  }
  const { values } = parsed;
  const seed = values.seed === undefined
    ? Math.floor(Math.random() * 2 ** 31)
    : Number(values.seed);
  const options: SoakOptions = {
    minutes: Number(values.minutes),
    accounts: Number(values.accounts),
    seed,
    speed: Number(values.speed),
    log: (line) => console.log(line),
    ...(values["memory-series"] === undefined ? {} : { memorySeries: values["memory-series"] }),
    liveHeap: values["live-heap"],
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

/** The soak's command-line flags (node:util parseArgs). */
function soakFlags() {
  return {
    minutes: { type: "string", default: "30" },
    accounts: { type: "string", default: "20" },
    seed: { type: "string" },
    speed: { type: "string", default: "2" },
    report: { type: "string" },
    "memory-series": { type: "string" },
    "live-heap": { type: "boolean", default: false },
    help: { type: "boolean", default: false },
  } as const;
}
