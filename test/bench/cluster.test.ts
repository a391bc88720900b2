/**
 * The cluster bench's report and options (lib/bench/cluster-report.ts, `switchboard bench --cluster`):
 * medians over rounds, skipped systems shown with their reason, issue 14's targets said met, not met or
 * not judged, and bad options refused before anything starts. Shapes only: the real run is CI's
 * `npm run bench -- --cluster --quick`, and nothing here looks at how fast anything was.
 */
import t from 'tap';
import { medianOf, table, targetLines, targets, type Figures, type Row } from '../../lib/bench/cluster-report.js';
import { CLUSTER_SYSTEMS, clusterCommand } from '../../lib/bench/cluster.js';

const figures = (rate32: number, p50 = 0.4, p99 = 2, noRespP50 = 0.2, noRespP99 = 1, cpuUs = 50, redisUs = 0): Figures => ({
  rate32,
  p50,
  p99,
  noRespP50,
  noRespP99,
  cpuUs,
  redisUs,
});
const row = (system: string, f: Figures): Row => ({ system, note: 'n', rounds: 3, figures: f });

t.test('the systems compared, in the order of the table', async (t) => {
  t.same(CLUSTER_SYSTEMS, ['switchboard', 'switchboard-cluster', 'switchboard-cluster-single', 'socketio-cluster', 'nats-cluster']);
});

t.test('each figure is its own median over the rounds', async (t) => {
  t.same(medianOf([figures(10, 1, 9), figures(30, 3, 7), figures(20, 2, 8)]), figures(20, 2, 8));
  t.same(medianOf([figures(10), figures(20)]).rate32, 15);
});

t.test('the table shows figures, and a skipped system with its reason in place of them', async (t) => {
  const text = table([
    row('switchboard-cluster', figures(12345.6, 0.456, 2.5, 0.21, 0.9, 80.4, 20.6)),
    row('switchboard', figures(20000, 0.1, 0.4, 0.1, 0.3, 30)),
    { system: 'nats-cluster', note: 'two nats-server', rounds: 0, skipped: 'skipped: nats-server is not installed | really' },
  ]);
  const lines = text.trim().split('\n');
  t.equal(lines.length, 5);
  t.equal(lines[2], '| switchboard-cluster | 12,346 req/s | 80 µs (Redis 21) | 0.46 ms | 2.50 ms | 0.21 ms | 0.90 ms | n |');
  t.equal(lines[3], '| switchboard | 20,000 req/s | 30 µs | 0.10 ms | 0.40 ms | 0.10 ms | 0.30 ms | n |', 'no Redis share without Redis');
  t.equal(lines[4], '| nats-cluster | skipped: nats-server is not installed / really | | | | | | two nats-server |', 'a | in a reason does not break the row');
  for (const line of lines) t.equal(line.split('|').length, 10, 'every row has every column');
});

t.test("issue 14's targets: met, not met, and not judged when a system was not measured", async (t) => {
  const rows = [
    row('switchboard', figures(10_000)),
    row('switchboard-cluster', figures(9_000, 0.5, 3.5, 0.2)),
    row('switchboard-cluster-single', figures(7_000)),
    row('socketio-cluster', figures(3_000)),
    { system: 'nats-cluster', note: '', rounds: 0, skipped: 'skipped: not installed' },
  ];
  const verdicts = targets(rows);
  t.same(
    verdicts.map((v) => [v.met, v.measured]),
    [
      [true, '3.00x'],
      [undefined, 'not measured'],
      [true, '0.50 ms'],
      [false, '3.50 ms'],
      [true, '0.20 ms'],
      [false, '0.70x'],
    ],
  );
  const text = targetLines(verdicts);
  t.match(text, /- cross-node 64 B, 32 in flight >= 2x socketio-cluster: 3\.00x, met\n/);
  t.match(text, /- cross-node 64 B, 32 in flight >= nats-cluster: not measured, not judged\n/);
  t.match(text, /- one node with --cluster >= 0\.8x the embedded broker: 0\.70x, NOT met\n/);
});

t.test('bad options are refused with every problem, and --help answers, before anything starts', async (t) => {
  let out = '';
  let err = '';
  const code = await clusterCommand(['--cluster', '--rounds', '0', '--seconds', 'x', '--nope'], (text) => (out += text), (text) => (err += text));
  t.equal(code, 2);
  t.equal(out, '');
  t.match(err, /--rounds takes a whole number[\s\S]*--seconds takes seconds[\s\S]*unknown option --nope[\s\S]*Usage:/);
  err = '';
  t.equal(await clusterCommand(['--cluster', '--help'], (text) => (out += text), (text) => (err += text)), 0);
  t.match(out, /^Usage: switchboard bench --cluster/);
  t.equal(err, '');
});
