/**
 * The benchmark harness (lib/bench, `switchboard bench`): its options, statistics, profile reading and
 * report shape, and one short real run on the JSON relay and switchboard. Shapes only: a benchmark is
 * not a test, so nothing here looks at how fast anything was.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { parseOptions } from '../../lib/bench/options.js';
import { makePayload } from '../../lib/bench/load/payload.js';
import { selfTimes, type CpuProfile } from '../../lib/bench/profile.js';
import { markdown, report, targets } from '../../lib/bench/report.js';
import { medianFigures, type BenchResults, type TrafficRun } from '../../lib/bench/run.js';
import { median, summarize } from '../../lib/bench/stats.js';
import { collect, type Ran } from '../fixtures/cli.js';

const ROOT = new URL('../../', import.meta.url).pathname;
const CLI = join(ROOT, 'dist/cli/main.js');

t.test('options: defaults, --quick, overrides, and every problem reported at once', async (t) => {
  const parsed = parseOptions([], new Date('2030-01-02T03:04:05.678Z'));
  t.equal(parsed.help, false);
  if (parsed.help) return;
  const o = parsed.options;
  t.same([o.requesters, o.responders, o.durationS, o.runs], [4, 4, 8, 3]);
  t.same(o.systems, ['relay-inplace', 'relay-prefix', 'relay-json', 'switchboard', 'switchboard-raw', 'wsmsgbroker', 'nats', 'socketio']);
  t.same(o.scenarios.map((s) => s.id), ['small', 'large', 'serial', 'serial-large', 'two-dest', 'gather', 'idle']);
  t.equal(o.jsonPath, 'bench-results/2030-01-02T03-04-05-678Z.json');
  t.match(o.scenarios.find((s) => s.id === 'idle'), { kind: 'idle', connections: 10_000 });
  t.match(o.scenarios.find((s) => s.id === 'gather'), { kind: 'traffic', dests: 2, gather: true });
  t.match(o.scenarios.find((s) => s.id === 'two-dest'), { kind: 'traffic', dests: 2, gather: false });

  const quick = parseOptions(['--quick', '--scenarios', 'small,idle', '--payload', '100', '--in-flight', '8']);
  if (quick.help) return t.fail('not help');
  t.same([quick.options.durationS, quick.options.runs], [1.5, 1]);
  t.match(quick.options.scenarios[0], { kind: 'traffic', payloadBytes: 100, inFlight: 8 });
  t.match(quick.options.scenarios[1], { kind: 'idle', connections: 2000 });

  t.same(parseOptions(['--help']), { help: true });
  t.throws(() => parseOptions(['--systems', 'redis', '--runs', '0', '--duration', 'x', '--responders', '1']), {
    message: /redis[\s\S]*--duration[\s\S]*--runs[\s\S]*two-dest/,
  });
  t.throws(() => parseOptions(['--nonsense']));
});

t.test('payloads are exactly the size asked for, in either shape', async (t) => {
  for (const bytes of [21, 64, 4096, 65_536]) {
    t.equal(JSON.stringify(makePayload(bytes, 'records')).length, bytes, `records, ${bytes} B`);
    t.equal(JSON.stringify(makePayload(bytes, 'string')).length, bytes, `string, ${bytes} B`);
  }
});

t.test('statistics: nearest-rank percentiles and medians', async (t) => {
  const samples = Float64Array.from({ length: 100 }, (_, i) => 100 - i);
  t.same(summarize(samples), { p50: 50, p99: 99, max: 100, mean: 50.5 });
  t.same(summarize(new Float64Array(0)), { p50: 0, p99: 0, max: 0, mean: 0 });
  t.equal(median([3, 1, 2]), 2);
  t.equal(median([4, 1, 3, 2]), 2.5);
  t.ok(Number.isNaN(median([])));
});

t.test('a CPU profile is read as self time per function, idle left out, optionally within a window', async (t) => {
  const frame = (functionName: string, url = '') => ({ functionName, url, lineNumber: 0 });
  const profile: CpuProfile = {
    nodes: [
      { id: 1, callFrame: frame('(idle)') },
      { id: 2, callFrame: frame('decode', 'file:///x/dist/protocol/codec.js') },
      { id: 3, callFrame: frame('writev') },
    ],
    startTime: 1000,
    samples: [1, 2, 3, 2, 3, 3],
    timeDeltas: [100, 100, 100, 100, 100, 100],
  };
  const all = selfTimes(profile);
  t.same(all.functions.map((f) => [f.name, f.where, f.ms]), [
    ['writev', '', 0.3],
    ['decode', 'dist/protocol/codec.js:1', 0.2],
  ]);
  t.equal(all.busyMs, 0.5);
  const window = selfTimes(profile, { startUs: 1250, endUs: 1450 });
  t.same(window.functions.map((f) => [f.name, f.ms]), [['writev', 0.1], ['decode', 0.1]]);
});

function fakeRun(requestsPerSecond: number, cpu: number): TrafficRun {
  return {
    requestsPerSecond,
    p50Ms: 1,
    p99Ms: 2,
    maxMs: 3,
    brokerCpuUsPerRequest: cpu,
    brokerCpuPercent: 90,
    loadCpuPercent: 95,
    brokerRssBytes: 64 * 2 ** 20,
    errors: 0,
    completed: 1000,
    windowMs: 1000,
    latency: { p50: 1, p99: 2, max: 3, mean: 1 },
    brokerPeakRssBytes: 64 * 2 ** 20,
    lastError: '',
  };
}

t.test('the report has one table per scenario, ratios to the JSON relay, skips and targets', async (t) => {
  const parsed = parseOptions(['--scenarios', 'small,gather', '--runs', '3']);
  if (parsed.help) return t.fail('not help');
  const traffic = (system: 'relay-json' | 'switchboard', runs: TrafficRun[]) => ({
    kind: 'traffic' as const,
    scenario: 'small',
    system,
    driver: 'raw ws',
    runs,
    median: medianFigures(runs),
  });
  const results: BenchResults = {
    meta: {
      date: '2030-01-01T00:00:00.000Z',
      command: 'switchboard bench',
      commit: undefined,
      node: 'v20',
      cpus: '2 × test',
      memoryGiB: 1,
      loadAverageStart: [0.5],
      loadAverageEnd: [0.7],
      fileLimits: { soft: 1024, hard: 1024 },
      options: { ...parsed.options, scenarios: [...parsed.options.scenarios] },
      baseline: 'relay-json',
      elapsedSeconds: 10,
    },
    results: [
      traffic('relay-json', [fakeRun(100, 20), fakeRun(300, 20), fakeRun(200, 20)]),
      traffic('switchboard', [fakeRun(100, 40), fakeRun(100, 40), fakeRun(100, 40)]),
    ],
    skipped: [
      { system: 'nats', reason: 'nats-server is not on the PATH' },
      { scenario: 'gather', system: 'switchboard', reason: 'not yet' },
    ],
    profiles: [],
  };
  t.equal(results.results[0].kind === 'traffic' && results.results[0].median?.requestsPerSecond, 200, 'median of the runs');
  const text = report(results);
  t.match(text, /^small: 64 B, 32 in flight/m);
  t.match(text, /^relay-json\s+200\s+×1\.00/m);
  t.match(text, /^switchboard\s+100\s+×0\.50/m);
  t.match(text, /skipped: nats: nats-server is not on the PATH/);
  t.match(text, /skipped: switchboard in gather: not yet/);
  t.match(targets(results), [
    { target: /switchboard req\/s ≥ 2\.5 × relay-json/, measured: '×0.50', met: false, unsteady: true },
    { target: /switchboard req\/s ≥ 3 × NATS/, measured: 'not measured in this run', met: undefined },
  ]);
  t.match(text, /unsteady: relay-json ranged 100 to 300 req\/s and 2\.00 to 2\.00 ms p99 over its 3 runs/, "the floor's own spread flags the scenario");
  t.match(text, /not met  small: switchboard req\/s ≥ 2\.5 × relay-json: ×0\.50 \(unsteady: see its table\)/);
  t.match(markdown(results), /^Unsteady: relay-json ranged 100 to 300 req\/s/m);

  const steady = { ...results, results: [traffic('relay-json', [fakeRun(200, 20), fakeRun(210, 20), fakeRun(190, 20)]), results.results[1]] };
  t.notMatch(report(steady), /unsteady/, 'a floor within its spread leaves the scenario unflagged');
  t.match(targets(steady)[0], { unsteady: false });
});

/** Run `node ...args` to its end; it is killed after `ms`. */
async function runNode(args: string[], ms: number): Promise<Ran> {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const timer = setTimeout(() => child.kill('SIGKILL'), ms);
  try {
    return await collect(child);
  } finally {
    clearTimeout(timer);
  }
}

const unbuilt = existsSync(CLI) && existsSync(join(ROOT, 'dist/bench/run.js')) ? false : 'dist/ is missing: run `npm run build`';

t.test('a one-second run on the JSON relay and switchboard prints the table and writes the JSON', { skip: unbuilt }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-bench-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const json = join(dir, 'results.json');
  const args = [CLI, 'bench', '--systems', 'relay-json,switchboard', '--scenarios', 'small,gather', '--duration', '1', '--warmup', '0.2', '--runs', '1', '--json', json];
  const { code, stdout, stderr } = await runNode(args, 60_000);
  t.equal(code, 0, `exit code (stderr: ${stderr.slice(-2000)})`);
  t.match(stderr, /small: 64 B/, 'progress while running');
  t.match(stderr, /run 1\/1 relay-json .* req\/s/);
  t.match(stdout, /^system\s+req\/s\s+×\s+p50 ms/m, 'the table header');
  t.match(stdout, /^relay-json\s+[\d,]+\s+×1\.00/m);
  t.match(stdout, /^switchboard\s+[\d,]+\s+×\d/m);
  t.match(stdout, /^gather: 64 B, 32 in flight per requester, two destinations, every answer gathered/m);
  t.notMatch(stdout, /skipped: switchboard in gather/, 'the client gathers');
  t.match(stdout, /switchboard .* \(load: lib\/client\)/, 'says what drove switchboard');

  const results = JSON.parse(readFileSync(json, 'utf8')) as BenchResults;
  t.match(results.meta, { baseline: 'relay-json', node: String, cpus: String, options: { runs: 1 } });
  t.same(results.results.map((r) => `${r.scenario} ${r.system}`), ['small relay-json', 'small switchboard', 'gather relay-json', 'gather switchboard']);
  for (const result of results.results) {
    if (result.kind !== 'traffic') {
      t.fail('traffic only');
      continue;
    }
    t.equal(result.failure, undefined, `${result.system} ran`);
    t.equal(result.runs.length, 1);
    t.match(result.median, {
      requestsPerSecond: Number,
      p50Ms: Number,
      p99Ms: Number,
      maxMs: Number,
      brokerCpuUsPerRequest: Number,
      brokerRssBytes: Number,
    });
    t.ok(result.runs[0].completed > 0, `${result.system}: requests completed`);
  }
  t.same(results.skipped, []);
});

t.test("the client-cost measure runs both clients and prints lib/client's own cost per request", { skip: unbuilt }, async (t) => {
  const script = join(ROOT, 'dist/bench/client-cost.js');
  const { code, stdout, stderr } = await runNode([script, '--requests', '2000', '--rounds', '1', '--in-flight', '8'], 30_000);
  t.equal(code, 0, `exit code (stderr: ${stderr.slice(-2000)})`);
  t.match(stdout, /^client cost: 2000 requests per round, 8 in flight, 64 B messages, median of 1 rounds$/m);
  t.match(stdout, /^ {2}raw client .* [\d.]+ µs CPU per request/m);
  t.match(stdout, /^ {2}lib\/client .* [\d.]+ µs CPU per request/m);
  t.match(stdout, /^ {2}lib\/client's own cost +-?[\d.]+ µs per request, both ends$/m);

  const refused = spawn(process.execPath, [script, '--requests', '0'], { stdio: ['ignore', 'ignore', 'pipe'] });
  t.equal(await new Promise<number | null>((resolve) => refused.once('exit', resolve)), 2, 'a bad argument exits 2');
});

t.test('compare runs one scenario alternately from two builds and prints the medians of each', { skip: unbuilt }, async (t) => {
  const script = join(ROOT, 'dist/bench/compare.js');
  const dist = join(ROOT, 'dist');
  const args = [script, '--before', dist, '--after', dist, '--rounds', '2', '--', '--scenarios', 'serial', '--duration', '0.5', '--warmup', '0.2'];
  const { code, stdout, stderr } = await runNode(args, 90_000);
  t.equal(code, 0, `exit code (stderr: ${stderr.slice(-2000)})`);
  t.match(stdout, /^before round 1: .* req\/s .* broker [\d.]+ µs\/req/m);
  t.match(stdout, /^after +round 2: .* req\/s/m, 'the rounds alternate which build goes first');
  t.match(stdout, /^serial \(64 B, 1 in flight per requester, one destination\), switchboard, median of 2 alternating rounds:$/m);
  t.match(stdout, /^ {2}before +[\d,]+ req\/s .* \(runs: [\d.]+, [\d.]+\)/m);
  t.match(stdout, /^ {2}after +[\d,]+ req\/s/m);
  const usage = spawn(process.execPath, [script], { stdio: ['ignore', 'ignore', 'pipe'] });
  t.equal(await new Promise<number | null>((resolve) => usage.once('exit', resolve)), 2, 'without --before it exits 2');
});
