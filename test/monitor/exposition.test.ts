/**
 * The strict Prometheus text parser the monitor's tests read `/metrics` with (test/fixtures/prometheus.ts):
 * a test that trusts a parser must know what the parser refuses.
 */
import t from 'tap';
import { parsePrometheus, value } from '../fixtures/prometheus.js';

const GOOD = `# HELP requests_total Requests.
# TYPE requests_total counter
requests_total{outcome="a"} 3
requests_total{outcome="b\\"q\\\\\\n"} 4 1700000000000
# a comment
# HELP d_seconds Durations.
# TYPE d_seconds histogram
d_seconds_bucket{outcome="a",le="0.5"} 1
d_seconds_bucket{outcome="a",le="+Inf"} 2
d_seconds_sum{outcome="a"} 0.7
d_seconds_count{outcome="a"} 2
d_seconds_bucket{outcome="b",le="0.5"} 0
d_seconds_bucket{outcome="b",le="+Inf"} 5
d_seconds_sum{outcome="b"} 9e1
d_seconds_count{outcome="b"} 5
up NaN
`;

t.test('a well-formed exposition: families, escaped labels, every series of a labelled histogram kept apart', async (t) => {
  const families = parsePrometheus(GOOD);
  t.same([...families.keys()], ['requests_total', 'd_seconds', 'up']);
  t.equal(families.get('requests_total')?.type, 'counter');
  t.equal(families.get('up')?.type, 'untyped');
  t.equal(value(families, 'requests_total', { outcome: 'b"q\\\n' }), 4);
  t.equal(value(families, 'd_seconds_count', { outcome: 'a' }), 2);
  t.equal(value(families, 'd_seconds_sum', { outcome: 'b' }), 90);
  t.equal(value(families, 'd_seconds_bucket', { outcome: 'b', le: '+Inf' }), 5);
  t.ok(Number.isNaN(value(families, 'up')));
  t.throws(() => value(families, 'd_seconds_count'), /2 samples/, 'an ambiguous lookup fails');
});

t.test('malformed expositions are refused, each naming its line', async (t) => {
  const bad: Array<[string, string, RegExp]> = [
    ['no final line feed', 'up 1', /line feed/],
    ['an invalid metric name', '1up 1\n', /invalid metric name/],
    ['an invalid label name', 'up{1a="x"} 1\n', /invalid label name/],
    ['an unquoted label value', 'up{a=x} 1\n', /expected ="/],
    ['an unterminated label value', 'up{a="x} 1\n', /unterminated/],
    ['an invalid escape', 'up{a="\\t"} 1\n', /invalid escape/],
    ['a label twice', 'up{a="1",a="2"} 1\n', /twice/],
    ['a value that is no number', 'up one\n', /invalid value/],
    ['no value', 'up\n', /expected a value/],
    ['trailing garbage', 'up 1 2 3\n', /expected a value/],
    ['a series twice', 'up 1\nup 2\n', /appears twice/],
    ['an unknown TYPE', '# TYPE up gaugeish\nup 1\n', /unknown TYPE/],
    ['TYPE after samples', 'up 1\n# TYPE up gauge\n', /TYPE after samples/],
    ['a second HELP', '# HELP up a\n# HELP up b\nup 1\n', /second HELP/],
    ['scattered samples', 'a 1\nb 1\na{x="1"} 2\n', /not together/],
    ['a bucket without le', '# TYPE h histogram\nh_bucket 1\nh_sum 1\nh_count 1\n', /without le/],
    ['a wrong sample name in a histogram', '# TYPE h histogram\nh 1\n', /not a sample name/],
    ['buckets that are not cumulative', '# TYPE h histogram\nh_bucket{le="1"} 3\nh_bucket{le="+Inf"} 2\nh_sum 1\nh_count 2\n', /not cumulative/],
    ['no +Inf bucket', '# TYPE h histogram\nh_bucket{le="1"} 3\nh_sum 1\nh_count 3\n', /\+Inf/],
    ['+Inf unlike _count', '# TYPE h histogram\nh_bucket{le="+Inf"} 3\nh_sum 1\nh_count 4\n', /differs from _count/],
    ['a carriage return', 'up 1\r\n', /carriage return/],
  ];
  for (const [what, text, problem] of bad) t.throws(() => parsePrometheus(text), problem, what);
});
