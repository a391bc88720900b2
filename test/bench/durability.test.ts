/**
 * The durability bench's report and options (lib/bench/durability.ts, `switchboard bench --durability`):
 * the stores in the table's order, each figure its median over the rounds, a skipped store shown with
 * its reason, and bad options refused before anything starts. Shapes only: the real run is CI's
 * `npm run bench -- --durability --quick`, and nothing here looks at how fast anything was.
 */
import t from 'tap';
import { DURABILITY_STORES, durabilityCommand, durabilityTable, medianFigures } from '../../lib/bench/durability.js';

t.test('the stores compared, in the order of the table', async (t) => {
  t.same(DURABILITY_STORES, ['memory', 'file', 'redis', 'redis-fsync']);
});

t.test('each figure is its own median over the rounds', async (t) => {
  const f = (rate32: number, p50: number, p99: number, drain: number) => ({ rate32, p50, p99, drain });
  t.same(medianFigures([f(10, 3, 9, 100), f(30, 1, 7, 300), f(20, 2, 8, 200)]), f(20, 2, 8, 200));
});

t.test('the table shows figures, and a skipped store with its reason in place of them', async (t) => {
  const lines = durabilityTable([
    { store: 'memory', note: 'm', figures: { rate32: 17324.4, p50: 0.061, p99: 0.389, drain: 58206 } },
    { store: 'redis-fsync', note: 'r', skipped: 'skipped: no redis-server | here' },
  ])
    .trim()
    .split('\n');
  t.equal(lines.length, 4);
  t.equal(lines[2], '| memory | 17,324 /s | 0.06 ms | 0.39 ms | 58,206 msg/s | m |');
  t.equal(lines[3], '| redis-fsync | skipped: no redis-server / here | | | | r |', 'a | in a reason does not break the row');
  for (const line of lines) t.equal(line.split('|').length, 8, 'every row has every column');
});

t.test('bad options are refused with the usage, before anything starts', async (t) => {
  let out = '';
  let err = '';
  const code = await durabilityCommand(['--durability', '--rounds', '0', '--fast'], (text) => (out += text), (text) => (err += text));
  t.equal(code, 2);
  t.equal(out, '');
  t.match(err, /--rounds takes a whole number from 1 to 20, not 0; unknown option --fast/);
  t.match(err, /Usage: switchboard bench --durability/);
});
