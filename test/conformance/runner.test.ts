/**
 * The runner reports a broken rule readably (issue 4): run against the original wsmsgbroker 1.7.2
 * server, which breaks [SB-4.1-2] (a second register steals the name) and [SB-6-6] (no error is ever
 * sent), the cases fail with the step, the difference and a transcript of every frame with its time;
 * the CLI exits non-zero. A malformed case file is reported with every problem in it. Against several
 * URLs (issue 14), each case's peers are spread over them, and the transcript says where each connected.
 */
import { spawn } from 'node:child_process';
import { writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { runSuite } from '../../lib/conformance/index.js';
import type { Broker } from '../../lib/broker/index.js';
import { startBroker } from '../fixtures/broker.js';
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

// Two independent brokers are no cluster: these tests assert where each peer connected, not what peers
// on different brokers could say to each other.
t.test('with several URLs, the i-th peer a case declares connects to the (i mod n)-th URL, and a failure says where', async (t) => {
  const [a, b] = [await startBroker(t), await startBroker(t)];
  const registeredOn = (broker: Broker) => {
    const names: string[] = [];
    broker.on('registered', (name) => names.push(name));
    return names;
  };
  const [onA, onB] = [registeredOn(a.broker), registeredOn(b.broker)];
  const lines: string[] = [];
  // Its peers web, w1, w2 register first, then web sends to w1 and w2: w1 is on the other broker.
  const result = await runSuite({ urls: [a.url, b.url], profiles: ['extended'], grep: 'extended/answer-unknown-ack', write: (line) => lines.push(line) });
  const run = result.results[0].run;
  t.same(onA, [`${run}-web`, `${run}-w2`], 'the first and third peers registered on the first broker');
  t.same(onB, [`${run}-w1`], 'the second peer registered on the second broker');
  t.ok(lines[1].includes(` against ${a.url} ${b.url} `), 'the TAP header lists every URL');
  t.equal(result.failed, 1, 'two brokers that are not one cluster fail the case');
  for (const [peer, url] of [['web', a.url], ['w1', b.url], ['w2', a.url]]) {
    t.ok(lines.some((line) => line.endsWith(`peer ${peer} connects to ${url}`)), `the failure's transcript says ${peer} connected to ${url}`);
  }
});

t.test('with several URLs, handshake steps go to the first one', async (t) => {
  const { url } = await startBroker(t);
  const lines: string[] = [];
  const result = await runSuite({ urls: [url, 'ws://127.0.0.1:9/'], profiles: ['extended'], grep: 'extended/handshake-wrong-path', write: (line) => lines.push(line) });
  if (result.passed !== 1) t.comment(lines.join('\n'));
  t.equal(result.passed, 1, 'the case passes though the second URL refuses every connection');
});

t.test('runSuite rejects without a URL', async (t) => {
  await t.rejects(runSuite({ urls: [], profiles: ['legacy'], write: () => undefined }), TypeError);
});
