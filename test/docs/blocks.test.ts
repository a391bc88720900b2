/**
 * The docs test's reading of a README (blocks.ts, runners.ts `commands`): which comments belong to which
 * block, what an expectation matches, how a shell block splits into commands; and that a ts block runs
 * (the READMEs have none yet).
 */
import t from 'tap';
import { built } from '../fixtures/broker-process.js';
import { addressed, blocks, matches } from './blocks.js';
import { commands, runProgram, workspace } from './runners.js';

const SAMPLE = [
  '# Title',
  '<!-- not run: needs the network -->',
  '```sh',
  'npm install',
  '```',
  '',
  '<!-- broker: {"path":"/foo"} -->',
  '<!-- with: calc -->',
  '',
  '```js',
  "console.log('a')",
  '```',
  '<!-- expect:',
  'a',
  'b …',
  '-->',
  '',
  '```js',
  'x',
  '```',
  '<!-- expect: one line -->',
  '',
  '  ```json',
  '  { "indented": true }',
  '  ```',
].join('\n');

t.test('comments before a block direct it, the comment after it says what it prints', async (t) => {
  const found = blocks('SAMPLE.md', SAMPLE);
  t.match(found, [
    { line: 3, lang: 'sh', notRun: 'needs the network', expect: undefined, with: [] },
    { line: 10, lang: 'js', code: "console.log('a')\n", broker: { path: '/foo' }, with: ['calc'], expect: 'a\nb …' },
    { line: 18, lang: 'js', notRun: undefined, broker: undefined, expect: 'one line' },
    { line: 23, lang: 'json', code: '{ "indented": true }\n', expect: undefined },
  ]);
  t.equal(found.length, 4);
});

t.test('an unknown directive, or a block or expectation that never ends, is an error naming its line', async (t) => {
  t.throws(() => blocks('X.md', '<!-- no run: typo -->\n```sh\nls\n```\n'), /X\.md:1: unknown directive "no run"/);
  t.throws(() => blocks('X.md', '<!-- not run: -->\n```sh\nls\n```\n'), /X\.md:1: "not run" needs a value/);
  t.throws(() => blocks('X.md', 'text\n```sh\nls\n'), /X\.md:2: a code block that never ends/);
  t.throws(() => blocks('X.md', '```sh\nls\n```\n<!-- expect:\nx\n'), /X\.md:4: an expect comment that never ends/);
});

t.test('an expectation matches the whole output, with … standing for any text within one line', async (t) => {
  t.ok(matches('calc 3', 'calc 3\n'), 'trailing space and newlines do not count');
  t.notOk(matches('calc 3', 'calc 3\ncalc 4'), 'more output than promised fails');
  t.notOk(matches('calc 3', 'calc 30'), 'a line must match to its end');
  t.ok(matches('token: …\nhash: …', 'token: abc\nhash: 0f0f'), '… stands for a token and a hash');
  t.notOk(matches('token: …', 'token: abc\nhash: 0f0f'), '… does not cross lines');
  t.ok(matches('{ a: [ 1 ] } (x)', '{ a: [ 1 ] } (x)'), 'regular-expression characters are literal');
});

t.test("the documented address becomes the test broker's, in URLs and in wsmsgbroker's arguments", async (t) => {
  t.equal(addressed("new Client('ws://localhost:9042/')", 4321), "new Client('ws://127.0.0.1:4321/')");
  t.equal(addressed("new WSMsgBroker('c', 'localhost', 9042, 'foo')", 4321), "new WSMsgBroker('c', '127.0.0.1', 4321, 'foo')");
  t.equal(addressed('localhost:90421', 4321), 'localhost:90421', 'only that port');
});

t.test('a shell block is its commands: comments and blank lines dropped, continuations joined', async (t) => {
  t.same(commands('# intro\nswitchboard answer calc   # terminal 1\n\n   # more\nswitchboard request calc \\\n  1; echo $?\n'), [
    'switchboard answer calc   # terminal 1',
    'switchboard request calc    1; echo $?',
  ]);
});

t.test('a ts block runs as a TypeScript program that imports switchboard by its name', { skip: built() }, async (t) => {
  const program = "import { Client, type ClientOptions } from 'switchboard/client';\nconst options: ClientOptions = { name: 'typed' };\nconsole.log(typeof Client, options.name);\n";
  const ran = await runProgram(workspace(t), 'typed', 'ts', program);
  t.equal(ran.code, 0, 'exits 0', { stderr: ran.stderr });
  t.ok(matches('function typed', ran.stdout), 'prints what it should', { printed: ran.stdout });
});
