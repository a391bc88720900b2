/**
 * The orchestrator of `switchboard bench` (issue 7): for each scenario, each run and each system, start
 * the broker in its own process, start the load generator in another, measure, stop both (traffic.ts,
 * idle.ts). Runs of one scenario are interleaved across systems, so that the machine's drift touches every
 * system alike. Progress goes to stderr as it happens; the report (report.ts) and the raw JSON at the end.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { dirname } from 'node:path';
import { performance } from 'node:perf_hooks';
import { unavailable } from './brokers.js';
import { idleRun, type IdleResult } from './idle.js';
import type { BenchOptions } from './options.js';
import { fileLimits, killAll } from './proc.js';
import { cannotRun, type SystemId } from './scenarios.js';
import { medianFigures, trafficRun, type ProfileNote, type TrafficResult, type TrafficRun } from './traffic.js';

export type { IdleResult } from './idle.js';
export { medianFigures, type TrafficFigures, type TrafficResult, type TrafficRun } from './traffic.js';

export interface Skipped {
  scenario?: string;
  system?: SystemId;
  reason: string;
}

export interface BenchResults {
  meta: {
    date: string;
    command: string;
    /** The git commit of the tree that ran, `+changes` when lib/ differs from it; undefined outside git. */
    commit: string | undefined;
    node: string;
    cpus: string;
    memoryGiB: number;
    loadAverageStart: number[];
    loadAverageEnd: number[];
    fileLimits: { soft: number; hard: number };
    options: Omit<BenchOptions, 'scenarios'> & { scenarios: unknown[] };
    baseline: SystemId;
    elapsedSeconds: number;
  };
  results: Array<TrafficResult | IdleResult>;
  skipped: Skipped[];
  profiles: ProfileNote[];
}

export const BASELINE: SystemId = 'relay-json';

type Progress = (line: string) => void;

export async function runBench(options: BenchOptions, command: string, progress: Progress): Promise<BenchResults> {
  const started = performance.now();
  const onSignal = () => {
    killAll();
    process.exit(130);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  process.once('exit', killAll);
  const results: BenchResults = {
    meta: {
      date: new Date().toISOString(),
      command,
      commit: gitCommit(),
      node: process.version,
      cpus: `${cpus().length} × ${cpus()[0]?.model ?? 'unknown'}`,
      memoryGiB: Math.round(totalmem() / 2 ** 30),
      loadAverageStart: loadavg(),
      loadAverageEnd: [],
      fileLimits: fileLimits(),
      options: { ...options, scenarios: [...options.scenarios] },
      baseline: BASELINE,
      elapsedSeconds: 0,
    },
    results: [],
    skipped: [],
    profiles: [],
  };
  try {
    const systems: SystemId[] = [];
    for (const system of options.systems) {
      const reason = unavailable(system);
      if (reason === undefined) systems.push(system);
      else {
        results.skipped.push({ system, reason });
        progress(`${system}: skipped (${reason})`);
      }
    }
    const steps = countSteps(options, systems);
    let step = 0;
    for (const scenario of options.scenarios) {
      progress(`${scenario.id}: ${scenario.title}`);
      const able: SystemId[] = [];
      for (const system of systems) {
        const reason = cannotRun(system, scenario);
        if (reason === undefined) able.push(system);
        else {
          results.skipped.push({ scenario: scenario.id, system, reason });
          progress(`  ${system}: skipped (${reason})`);
        }
      }
      if (scenario.kind === 'idle') {
        for (const system of able) {
          step++;
          const result = await idleRun(options, scenario, system, (line) => progress(`  [${step}/${steps}] ${line}`));
          results.results.push(result);
        }
        continue;
      }
      const byScenario = new Map<SystemId, TrafficResult>();
      for (const system of able) {
        const result: TrafficResult = { kind: 'traffic', scenario: scenario.id, system, driver: '', runs: [], median: undefined };
        byScenario.set(system, result);
        results.results.push(result);
      }
      for (let run = 1; run <= options.runs; run++) {
        for (const system of able) {
          step++;
          const result = byScenario.get(system)!;
          const label = `  [${step}/${steps}] run ${run}/${options.runs} ${system.padEnd(16)}`;
          if (result.failure !== undefined) {
            progress(`${label} skipped: an earlier run failed`);
            continue;
          }
          try {
            const { run: figures, driver } = await trafficRun(options, scenario, system, run, results.profiles);
            result.driver = driver;
            result.runs.push(figures);
            progress(`${label} ${describeRun(figures)}`);
          } catch (error) {
            result.failure = error instanceof Error ? error.message : String(error);
            progress(`${label} FAILED: ${result.failure}`);
          }
        }
      }
      for (const result of byScenario.values()) result.median = medianFigures(result.runs);
    }
  } finally {
    killAll();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.off('exit', killAll);
  }
  results.meta.loadAverageEnd = loadavg();
  results.meta.elapsedSeconds = (performance.now() - started) / 1000;
  mkdirSync(dirname(options.jsonPath), { recursive: true });
  writeFileSync(options.jsonPath, `${JSON.stringify(results, null, 2)}\n`);
  return results;
}

/** Read-only git plumbing: the commit, and whether lib/ has changes on top of it. */
function gitCommit(): string | undefined {
  try {
    const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    let changed = false;
    try {
      execFileSync('git', ['diff-index', '--quiet', 'HEAD', '--', 'lib'], { stdio: 'ignore' });
    } catch {
      changed = true;
    }
    return changed ? `${commit}+changes` : commit;
  } catch {
    return undefined;
  }
}

function countSteps(options: BenchOptions, systems: readonly SystemId[]): number {
  let steps = 0;
  for (const scenario of options.scenarios) {
    const able = systems.filter((system) => cannotRun(system, scenario) === undefined).length;
    steps += scenario.kind === 'traffic' ? able * options.runs : able;
  }
  return steps;
}

function describeRun(run: TrafficRun): string {
  const n = (value: number, digits = 0) => value.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
  return (
    `${n(run.requestsPerSecond).padStart(8)} req/s  p50 ${n(run.p50Ms, 2)} ms  p99 ${n(run.p99Ms, 2)} ms  ` +
    `broker ${n(run.brokerCpuUsPerRequest, 1)} µs/req (${n(run.brokerCpuPercent)}% cpu)  load ${n(run.loadCpuPercent)}% cpu` +
    (run.errors > 0 ? `  errors ${run.errors} (${run.lastError.slice(0, 80)})` : '')
  );
}
