/**
 * `switchboard serve` and `switchboard token` as a user runs them: the built command in its own process.
 */
import t from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Peer } from '../fixtures/peer.js';

const main = new URL('../../dist/cli/main.js', import.meta.url).pathname;

function serve(args: string[]) {
  const child = spawn(process.execPath, [main, 'serve', '--host', '127.0.0.1', '--port', '0', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const url = new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no listening line in 5 s: ${output}`)), 5000);
    child.stdout.on('data', () => {
      const match = /listening on (ws:\/\/\S+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match[1].replace('localhost', '127.0.0.1'));
      }
    });
  });
  return { child, url, exited, output: () => output };
}

t.test('serve runs a broker, logs lifecycle lines, and exits 0 on SIGTERM', async (t) => {
  const s = serve([]);
  t.teardown(() => s.child.kill('SIGKILL'));
  const peer = await Peer.named(await s.url, 'cli-test');
  const thief = await Peer.connect(await s.url, { extended: false });
  thief.send({ action: 'register', id: 'cli-test' });
  t.equal((await thief.closed()).code, 1008);
  const deadline = Date.now() + 2000;
  while (!/disconnect \S+ \(1008 name_taken\)/.test(s.output()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  t.match(s.output(), /refused "cli-test" to \S+: name_taken/, 'a refusal is logged with its code');
  t.match(s.output(), /disconnect \S+ \(1008 name_taken\)/, 'a disconnect is logged with its reason');
  s.child.kill('SIGTERM');
  t.equal((await peer.closed()).code, 1001, 'clients are told the broker is going away');
  const code = await Promise.race([s.exited, new Promise((r) => setTimeout(() => r('still running'), 8000))]);
  t.equal(code, 0);
  t.match(s.output(), /registered "cli-test"/);
  t.match(s.output(), /SIGTERM: shutting down/);
});

t.test('serve refuses to start with a bad auth file or bad limits, naming the problem', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sb-serve-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'empty.json'), '');
  const run = (args: string[]) => spawnSync(process.execPath, [main, 'serve', '--port', '0', ...args], { encoding: 'utf8', timeout: 10_000 });
  const empty = run(['--auth', join(dir, 'empty.json')]);
  t.equal(empty.status, 2);
  t.match(empty.stderr, /auth configuration .*empty\.json is empty/);
  const missing = run(['--config', join(dir, 'nope.json')]);
  t.equal(missing.status, 2);
  t.match(missing.stderr, /cannot read auth configuration/);
  const limits = run(['--limit', 'maxNamesPerConnection=0', '--limit', 'noSuchLimit=3']);
  t.equal(limits.status, 2);
  t.match(limits.stderr, /maxNamesPerConnection must be a positive integer.*unknown limit "noSuchLimit"/);
});

t.test('token prints a token and the hash that the auth file stores', async (t) => {
  const out = spawnSync(process.execPath, [main, 'token'], { encoding: 'utf8', timeout: 10_000 });
  t.equal(out.status, 0);
  const match = /token:\s+(\S+)\ntokenSha256: ([0-9a-f]{64})/.exec(out.stdout);
  t.ok(match, out.stdout);
  const { sha256 } = await import('../../lib/broker/index.js');
  t.equal(sha256(match![1]).toString('hex'), match![2]);
});
