/**
 * Before and after in one session (issue 19): the same scenario and system run alternately from two
 * builds, each through its own bench (its broker driver, its load generator, its lib/client), so that a
 * busy moment of the machine touches both alike; then the medians of each. Keep a copy of the old build
 * (`npx tsc -p . --outDir /tmp/old/dist`, with a package.json of `{"type":"module"}` and a node_modules
 * link beside it) and compare it with dist/:
 *
 *   node dist/bench/compare.js --before /tmp/old/dist --after dist --rounds 4 -- --scenarios serial --duration 6
 *
 * Every option after `--` goes to both benches (see `switchboard bench --help`); the first scenario named
 * there is the one run. Rounds alternate which build goes first.
 */
import { parseArgs } from 'node:util';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { BenchOptions } from './options.js';
import type { ProfileNote, TrafficRun } from './traffic.js';
import type { SystemId, TrafficScenario } from './scenarios.js';
import { median } from './stats.js';

interface Build {
  label: string;
  options: BenchOptions;
  trafficRun(options: BenchOptions, scenario: TrafficScenario, system: SystemId, run: number, profiles: ProfileNote[]): Promise<{ run: TrafficRun }>;
  killAll(): void;
  runs: TrafficRun[];
}

async function load(label: string, dist: string, argv: string[]): Promise<Build> {
  const url = (file: string) => pathToFileURL(resolve(dist, file)).href;
  const { parseOptions } = (await import(url('bench/options.js'))) as typeof import('./options.js');
  const { trafficRun } = (await import(url('bench/traffic.js'))) as typeof import('./traffic.js');
  const { killAll } = (await import(url('bench/proc.js'))) as typeof import('./proc.js');
  const parsed = parseOptions(argv);
  if (parsed.help) throw new Error('--help is not a comparison');
  return { label, options: parsed.options, trafficRun, killAll, runs: [] };
}

const { values, positionals } = parseArgs({
  options: { before: { type: 'string' }, after: { type: 'string', default: 'dist' }, rounds: { type: 'string', default: '4' }, system: { type: 'string', default: 'switchboard' } },
  allowPositionals: true,
});
if (values.before === undefined) {
  process.stderr.write('usage: node dist/bench/compare.js --before DIR [--after DIR] [--rounds N] [--system ID] -- [bench options]\n');
  process.exit(2);
}
const system = values.system as SystemId;
const builds = [await load('before', values.before, positionals), await load('after', values.after, positionals)];
const scenario = builds[0].options.scenarios.find((s): s is TrafficScenario => s.kind === 'traffic');
if (scenario === undefined) throw new Error('name a traffic scenario (--scenarios)');
const n = (value: number, digits = 0) => value.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
try {
  for (let round = 1; round <= Number(values.rounds); round++) {
    for (const build of round % 2 === 1 ? builds : [...builds].reverse()) {
      const { run } = await build.trafficRun(build.options, scenario, system, round, []);
      build.runs.push(run);
      process.stdout.write(
        `${build.label.padEnd(6)} round ${round}: ${n(run.requestsPerSecond).padStart(7)} req/s  p50 ${n(run.p50Ms, 2)} ms  p99 ${n(run.p99Ms, 2)} ms  ` +
          `broker ${n(run.brokerCpuUsPerRequest, 1)} µs/req  RSS ${n(run.brokerRssBytes / 2 ** 20)} MiB\n`,
      );
    }
  }
} finally {
  for (const build of builds) build.killAll();
}
process.stdout.write(`\n${scenario.id} (${scenario.title}), ${system}, median of ${values.rounds} alternating rounds:\n`);
for (const { label, runs } of builds) {
  const of = (key: keyof TrafficRun) => median(runs.map((run) => run[key] as number));
  process.stdout.write(
    `  ${label.padEnd(6)} ${n(of('requestsPerSecond')).padStart(7)} req/s  p99 ${n(of('p99Ms'), 2)} ms  broker ${n(of('brokerCpuUsPerRequest'), 1)} µs/req ` +
      `(runs: ${runs.map((run) => n(run.brokerCpuUsPerRequest, 1)).join(', ')})  RSS ${n(of('brokerRssBytes') / 2 ** 20)} MiB\n`,
  );
}
process.exit(0);
