/**
 * README.md runs as written: each of its code blocks runs against a real broker and prints what the
 * README says (suite.ts), and its auth file ("Security and limits"), filled with a hash from `switchboard token`, makes
 * `switchboard serve` admit and refuse what it says. Needs a build (`npm test` builds first).
 */
import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { built } from '../fixtures/broker-process.js';
import { matches } from './blocks.js';
import { CLI, eventually, finished, PROGRAM_MS, runShell, signal, start, workspace } from './runners.js';
import { readmeBlocks, testBlocks } from './suite.js';

const FILE = 'README.md';
const ws = workspace(t);

testBlocks(t, FILE, ws, ['json']);

t.test('the auth file of "Security and limits", with a hash from `switchboard token`, admits and refuses as it says', { skip: built() }, async (t) => {
  const files = readmeBlocks(FILE).filter((b) => b.notRun === undefined && b.lang === 'json');
  t.equal(files.length, 1, 'one auth file in the README');
  const [block] = files;
  t.match(block.code, '<64 hex digits>', 'its hash is a placeholder');
  const made = await finished(start(process.execPath, [CLI, 'token'], ws.dir, ws.env), PROGRAM_MS, 'switchboard token');
  const [, token, hash] = /^token:\s+(\S+)\ntokenSha256:\s+([0-9a-f]{64})\n$/.exec(made.stdout) ?? [];
  t.ok(token !== undefined, 'switchboard token prints a token and its hash', { printed: made.stdout });
  const file = join(ws.dir, 'auth.json');
  writeFileSync(file, block.code.replace('<64 hex digits>', hash));

  const serve = start(process.execPath, [CLI, 'serve', '--auth', file, '--host', '127.0.0.1', '--port', '0'], ws.dir, ws.env);
  t.teardown(() => signal(serve, 'SIGKILL'));
  const listening = () => /listening on ws:\/\/[^:]+:(\d+)\//.exec(serve.out.stdout);
  t.ok(await eventually(() => listening() !== null || serve.child.exitCode !== null, 10_000), 'serve starts with it', { output: serve.out });
  const url = `ws://127.0.0.1:${listening()?.[1]}/`;

  const session = [
    `SWITCHBOARD_TOKEN=${token} switchboard answer billing    # the billing identity may hold billing`,
    'switchboard request billing 1 --name guest-1; echo $?    # a guest may send to help only: forbidden, 11',
    `SWITCHBOARD_TOKEN=${token} switchboard request ledger 1 --name billing.cli; echo $?    # permitted: no_responders, 3`,
  ].join('\n');
  const ran = await runShell(ws, session, url, '11\n3');
  t.same(ran.problems, [], 'billing is registered with the token', { log: ran.log });
  t.ok(matches('11\n3', ran.printed), 'a guest is refused what billing may do', { printed: ran.printed, log: ran.log });

  signal(serve, 'SIGTERM');
  t.equal((await finished(serve, 10_000, 'serve')).code, 0, 'serve exits 0 on SIGTERM');
});
