/**
 * The runner reports a broken rule readably (issue 4): run against the original wsmsgbroker 1.7.2
 * server, which breaks [SB-4.1-2] (a second register steals the name) and [SB-6-6] (no error is ever
 * sent), the cases fail with the step, the difference and a transcript of every frame with its time;
 * the CLI exits non-zero. A malformed case file is reported with every problem in it.
 */
import { spawn } from 'node:child_process';
import { writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { runSuite } from '../../lib/conformance/index.js';
import { startOriginal } from './original-server.js';

async function suite(url: string, grep: string, casesDir?: string) {
  const lines: string[] = [];
  const result = await runSuite({ url, profiles: ['extended'], grep, casesDir, write: (line) => lines.push(line) });
  return { result, lines, text: lines.join('\n') };
}

t.test('a broker that lets a second register steal a name fails name-taken, with a transcript', async (t) => {
  const { url } = await startOriginal(t);
  const { result, lines, text } = await suite(url, 'extended/name-taken');
  t.equal(result.failed, 1);
  t.equal(result.passed, 0);
  t.match(text, /^not ok 1 - extended\/name-taken \[SB-4\.1-2, SB-3-2\]$/m, 'the TAP line names the case and its rules');
  t.match(text, /# {3}step 8 of \d+ \(expect thief\): thief received \{"action":"registered","id":"sb[0-9a-f]{6}-001-calc"\}/);
  t.match(text, /expected \{"action":"error","code":"name_taken","id":"sb[0-9a-f]{6}-001-calc"\}/, 'what was expected, with {run} filled in');
  t.match(text, /\/action: expected "error", got "registered"/, 'the first difference');
  t.match(text, /transcript \(\{run\} = sb[0-9a-f]{6}-001;/, 'the run prefix, to reproduce by hand');
  t.match(text, /^# +\d+\.\d  thief +-> \{"action":"register","id":"sb[0-9a-f]{6}-001-calc"\}$/m, 'frames sent, with their time');
  t.match(text, /^# +\d+\.\d  thief +<- \{"action":"registered","id":"sb[0-9a-f]{6}-001-calc"\}$/m, 'frames received, with their time');
  const times = lines.filter((l) => /^# +\d+\.\d  /.test(l)).map((l) => Number(/^# +(\d+\.\d)/.exec(l)?.[1]));
  t.same(times, [...times].sort((a, b) => a - b), 'the transcript is in time order');
  t.equal(lines.at(-1), '0 passed, 1 failed');
});

t.test('a broker that never answers with errors fails no-responders on its deadline', async (t) => {
  const { url } = await startOriginal(t);
  const { result, text } = await suite(url, 'extended/no-responders');
  t.equal(result.failed, 1);
  t.match(text, /step 4 of \d+ \(expect web\): web received nothing within 500 ms; expected \{"action":"error","code":"no_responders","ack":"q1","message":"\$string"\}/);
});

t.test('a malformed case file fails with every problem named', async (t) => {
  const dir = t.testdir({});
  mkdirSync(join(dir, 'extended'));
  writeFileSync(
    join(dir, 'extended', 'broken.json'),
    JSON.stringify({ rules: ['SB-9'], peers: { a: { extended: true } }, steps: [{ send: 'b', frame: {} }, { expect: 'a', frame: { x: '$nope:1' } }] }),
  );
  const { result, text } = await suite('ws://127.0.0.1:9/', 'broken', dir);
  t.equal(result.failed, 1);
  t.match(text, /not ok 1 - extended\/broken \[\]/);
  for (const problem of ['"description" must be a non-empty string', 'bad rule id "SB-9"', 'names no declared peer ("b")', 'unknown placeholder "$nope:1"']) {
    t.ok(text.includes(problem), problem);
  }
});

t.test('switchboard spec exits 1 with the closing counts when a case fails, 2 on a usage error', async (t) => {
  const { url } = await startOriginal(t);
  const cli = (args: string[]) =>
    new Promise<{ code: number | null; stdout: string }>((resolve) => {
      const child = spawn(process.execPath, ['--import=@tapjs/typescript/import', 'lib/cli/main.ts', 'spec', ...args], {
        cwd: new URL('../../', import.meta.url),
        env: { ...process.env, TS_NODE_TRANSPILE_ONLY: '1' },
        stdio: ['ignore', 'pipe', 'ignore'],
      });
      let stdout = '';
      const deadline = setTimeout(() => child.kill(), 60_000);
      child.stdout.on('data', (chunk) => (stdout += chunk));
      child.on('close', (code) => {
        clearTimeout(deadline);
        resolve({ code, stdout });
      });
    });
  const failing = await cli([url, '--profile', 'extended', '--grep', 'name-taken']);
  t.equal(failing.code, 1);
  t.match(failing.stdout, /\n0 passed, 1 failed\n$/);
  const passing = await cli([url, '--profile', 'legacy', '--grep', 'legacy/register']);
  t.equal(passing.code, 0);
  t.match(passing.stdout, /\n1 passed, 0 failed\n$/);
  t.equal((await cli([url, '--profile', 'nonsense'])).code, 2);
});
