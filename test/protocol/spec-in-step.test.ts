/**
 * protocol.md, the code and the tests stay in step: the error-code table is the registry, the limits
 * table is the defaults, every JSON example validates, every rule cited exists, and every MUST rule is
 * cited by the broker's code and by a test.
 */
import t from 'tap';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Compile } from 'typebox/compile';
import { BROKER_FRAMES, CLIENT_FRAMES, DEFAULT_LIMITS, ERROR_CODES, ERROR_CODE_LIST } from '../../lib/protocol/index.js';

const root = new URL('../../', import.meta.url).pathname;
const spec = readFileSync(join(root, 'protocol.md'), 'utf8');

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    return statSync(path).isDirectory() ? filesUnder(path) : path.endsWith('.ts') ? [path] : [];
  });
}

function section(heading: string): string {
  const start = spec.indexOf(`\n## ${heading}`);
  const end = spec.indexOf('\n## ', start + 1);
  return spec.slice(start, end === -1 ? undefined : end);
}

function tableRows(text: string): string[][] {
  return text
    .split('\n')
    .filter((line) => /^\| `/.test(line))
    .map((line) => line.split('|').slice(1, -1).map((cell) => cell.trim()));
}

t.test('the error-code table of protocol.md is the registry: same codes, meanings and budgets [SB-7-1]', async (t) => {
  const rows = tableRows(section('7. Errors'));
  t.same(rows.map((row) => row[0].replaceAll('`', '')), ERROR_CODE_LIST);
  for (const [code, meaning, , budget] of rows) {
    const info = ERROR_CODES[code.replaceAll('`', '') as keyof typeof ERROR_CODES];
    t.equal(meaning, info.meaning, `${code} meaning`);
    t.equal(budget, info.budget ? 'yes' : 'no', `${code} budget`);
  }
});

t.test('the limits table of protocol.md lists every limit with its default', async (t) => {
  const rows = tableRows(section('9. Limits'));
  const documented = Object.fromEntries(rows.map(([name, value]) => [name.replaceAll('`', ''), Number(value.split(' ')[0])]));
  t.same(documented, { ...DEFAULT_LIMITS });
});

t.test('every JSON example in protocol.md validates against its frame schema', async (t) => {
  const examples = [...spec.matchAll(/```json (client|broker)\n([\s\S]*?)```/g)];
  t.ok(examples.length >= 10, `found ${examples.length} examples`);
  for (const [, side, text] of examples) {
    const frame = JSON.parse(text) as { action: string };
    const frames: Record<string, unknown> = side === 'client' ? CLIENT_FRAMES : BROKER_FRAMES;
    const schema = frames[frame.action];
    t.ok(schema, `${side} action ${frame.action} exists`);
    t.ok(Compile(schema as never).Check(frame), `${side} example ${text.trim()}`);
  }
});

const ruleIds = new Set([...spec.matchAll(/^- \[(SB-[\d.]+-\d+)\]/gm)].map((m) => m[1]));
const mustRules = [...spec.matchAll(/^- \[(SB-[\d.]+-\d+)\]([\s\S]*?)(?=\n- |\n\n)/gm)]
  .filter(([, , text]) => /\bMUST\b/.test(text))
  .map(([, id]) => id);

t.test('every rule id cited in lib/ and test/ is defined in protocol.md', async (t) => {
  for (const file of [...filesUnder(join(root, 'lib')), ...filesUnder(join(root, 'test'))]) {
    for (const [, id] of readFileSync(file, 'utf8').matchAll(/\[(SB-[\d.]+-\d+)\]/g)) {
      t.ok(ruleIds.has(id), `${id} cited in ${file.slice(root.length)}`);
    }
  }
});

t.test('every MUST rule is cited by the broker or protocol code and by a broker test', async (t) => {
  t.ok(mustRules.length >= 30, `${mustRules.length} MUST rules`);
  const code = [...filesUnder(join(root, 'lib/broker')), ...filesUnder(join(root, 'lib/protocol'))]
    .map((file) => readFileSync(file, 'utf8'))
    .join('\n');
  const tests = [...filesUnder(join(root, 'test/broker')), ...filesUnder(join(root, 'test/cluster'))].map((file) => readFileSync(file, 'utf8')).join('\n');
  for (const id of mustRules) {
    t.ok(code.includes(`[${id}]`), `${id} is cited in lib/`);
    t.ok(tests.includes(`[${id}]`), `${id} is cited in test/broker or test/cluster`);
  }
});
