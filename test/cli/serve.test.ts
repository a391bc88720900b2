/**
 * `switchboard serve` and `switchboard token` as a user runs them: the built command in its own process,
 * its JSON log lines read back; SIGHUP reloads with a good and with a bad auth file.
 */
import t from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sha256 } from '../../lib/broker/index.js';
import { Peer, type Frame } from '../fixtures/peer.js';

const main = new URL('../../dist/cli/main.js', import.meta.url).pathname;

type Line = Record<string, unknown> & { msg: string; level: number };

function serve(args: string[], env: NodeJS.ProcessEnv = {}) {
  const child = spawn(process.execPath, [main, 'serve', '--host', '127.0.0.1', '--port', '0', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  /** The JSON lines logged so far. */
  const lines = (): Line[] =>
    stdout
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Line);
  /** The first line that matches, waiting for it (deadline 5 s). */
  const line = async (match: (l: Line) => boolean, what: string): Promise<Line> => {
    const deadline = Date.now() + 5000;
    for (;;) {
      const found = lines().find(match);
      if (found !== undefined) return found;
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`no ${what} line in 5 s:\n${stdout}${stderr}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  const url = line((l) => l.msg.startsWith('listening on'), 'listening').then((l) => String(l.url).replace('localhost', '127.0.0.1'));
  return { child, url, exited, lines, line, output: () => stdout + stderr };
}

t.test('serve runs a broker, logs lifecycle lines as JSON with a child logger per connection, and exits 0 on SIGTERM', async (t) => {
  const s = serve([]);
  t.teardown(() => s.child.kill('SIGKILL'));
  const peer = await Peer.named(await s.url, 'cli-test');
  const thief = await Peer.connect(await s.url, { extended: false });
  thief.send({ action: 'register', id: 'cli-test' });
  t.equal((await thief.closed()).code, 1008);
  const refused = await s.line((l) => l.msg === 'register refused', 'register refused');
  t.match(refused, { level: 30, name: 'cli-test', code: 'name_taken', dialect: 'legacy', address: String }, 'a refusal is logged with its code');
  const closed = await s.line((l) => l.msg === 'closed' && l.conn === refused.conn, 'closed');
  t.match(closed, { code: 1008, reason: 'name_taken', durationMs: Number }, 'a close is logged with its code, reason and duration');
  const registered = await s.line((l) => l.msg === 'registered', 'registered');
  t.match(registered, { name: 'cli-test', dialect: 'extended', identity: 'anonymous', conn: String });
  t.ok(
    s.lines().some((l) => l.msg === 'connection' && l.conn === registered.conn && l.address === '127.0.0.1'),
    'the connection line carries its id and address',
  );
  s.child.kill('SIGTERM');
  t.equal((await peer.closed()).code, 1001, 'clients are told the broker is going away');
  const code = await Promise.race([s.exited, new Promise((r) => setTimeout(() => r('still running'), 8000))]);
  t.equal(code, 0);
  t.match(s.lines().find((l) => l.msg === 'shutting down'), { signal: 'SIGTERM', connections: 1, names: 1 });
  t.match(s.lines().find((l) => l.msg === 'shut down'), { connectionsClosed: 1, requestsEnded: 0, durationMs: Number });
  t.notOk(
    s.lines().some((l) => l.msg === 'closed' && l.conn === registered.conn && l.level >= 30),
    'closes during the shutdown are summed up, not logged one by one at info',
  );
});

t.test('serve refuses to start with a bad auth file or bad limits, naming every problem', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sb-serve-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'empty.json'), '');
  const run = (args: string[]) => spawnSync(process.execPath, [main, 'serve', '--port', '0', ...args], { encoding: 'utf8', timeout: 10_000 });
  const empty = run(['--auth', join(dir, 'empty.json')]);
  t.equal(empty.status, 2);
  t.match(empty.stderr, /auth configuration .*empty\.json is empty/);
  const missing = run(['--auth', join(dir, 'nope.json')]);
  t.equal(missing.status, 2);
  t.match(missing.stderr, /cannot read auth configuration/);
  const noFile = run(['-c', join(dir, 'nope.yaml')]);
  t.equal(noFile.status, 2);
  t.match(noFile.stderr, /cannot read configuration file .*nope\.yaml/);
  const limits = run(['--limit', 'maxNamesPerConnection=0', '--limit', 'noSuchLimit=3', '--auth', join(dir, 'empty.json')]);
  t.equal(limits.status, 2);
  t.match(limits.stderr, /^switchboard serve: invalid configuration:\n/);
  t.match(limits.stderr, /\n  - --limit maxNamesPerConnection: must be >= 1\n/);
  t.match(limits.stderr, /\n  - --limit noSuchLimit: unknown limit\n/);
  t.match(limits.stderr, /\n  - auth configuration .*empty\.json is empty\n/, 'every problem at once');
});

t.test('SIGHUP reloads the auth file and the limits; a bad file keeps the old ones and says why', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sb-hup-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const everything = { register: ['*'], send: ['*'], subscribe: ['*'], publish: ['*'] };
  const authFile = (id: string, token: string) =>
    writeFileSync(join(dir, 'auth.json'), JSON.stringify({ identities: [{ id, tokenSha256: sha256(token).toString('hex'), permissions: everything }] }));
  const configFile = (limits: Record<string, number>) => writeFileSync(join(dir, 'switchboard.yaml'), `auth: auth.json\nlimits:\n${Object.entries(limits).map(([k, v]) => `  ${k}: ${v}\n`).join('')}`);
  authFile('alpha', 'old-token');
  configFile({ maxNamesPerConnection: 3 });
  const s = serve(['-c', join(dir, 'switchboard.yaml')]);
  t.teardown(() => s.child.kill('SIGKILL'));
  const url = await s.url;

  /** Authenticate with `token`: the identity's id, or the error code. */
  const auth = async (token: string): Promise<{ peer: Peer; answer: Frame }> => {
    const peer = await Peer.connect(url);
    peer.send({ action: 'auth', token });
    const answer = await peer.next((f) => f.action === 'authenticated' || f.action === 'error');
    return { peer, answer };
  };
  /** How many of `count` names a connection authenticated with `token` may register. */
  let made = 0;
  const names = async (token: string, count: number): Promise<number> => {
    const { peer } = await auth(token);
    let held = 0;
    for (let i = 0; i < count; i++) {
      peer.send({ action: 'register', id: `name-${++made}` });
      const answer = await peer.next((f) => f.action === 'registered' || f.action === 'error');
      if (answer.action === 'registered') held++;
    }
    await peer.close();
    return held;
  };
  const reloads = () => s.lines().filter((l) => l.msg === 'reloaded' || l.msg.startsWith('reload failed')).length;
  const hangUp = async (what: string) => {
    const before = reloads();
    s.child.kill('SIGHUP');
    await s.line(() => reloads() > before, what);
    return s.lines().filter((l) => l.msg === 'reloaded' || l.msg.startsWith('reload failed'))[before];
  };

  t.match((await auth('old-token')).answer, { action: 'authenticated', identity: 'alpha' });
  t.match((await auth('new-token')).answer, { action: 'error', code: 'unauthorized' });
  t.equal(await names('old-token', 3), 3, 'three names per connection at first');
  const kept = await auth('old-token'); // stays open across the reload

  authFile('beta', 'new-token');
  configFile({ maxNamesPerConnection: 1 });
  const good = await hangUp('reloaded');
  t.match(good, { msg: 'reloaded', level: 30, limitsChanged: ['maxNamesPerConnection'] }, 'the reload is logged with what changed');
  t.match((await auth('new-token')).answer, { action: 'authenticated', identity: 'beta' }, 'the new token is accepted');
  t.match((await auth('old-token')).answer, { action: 'error', code: 'unauthorized' }, 'the old token is refused');
  t.equal(await names('new-token', 3), 1, 'the new limit holds for new connections');
  kept.peer.send({ action: 'register', id: 'kept-1' });
  kept.peer.send({ action: 'register', id: 'kept-2' });
  t.match(await kept.peer.next((f) => f.id === 'kept-1'), { action: 'registered' }, 'an open connection keeps its identity');
  t.match(await kept.peer.next((f) => f.id === 'kept-2'), { action: 'error', code: 'limit_exceeded' }, 'and meets the new limit at once');

  writeFileSync(join(dir, 'auth.json'), '{ "identities": [ broken');
  configFile({ maxNamesPerConnection: 5 });
  const bad = await hangUp('reload failed');
  t.match(bad, { level: 50, msg: /kept the previous auth and limits/, problems: [/auth configuration .*auth\.json is not valid JSON/] }, 'a bad file is logged with why');
  t.match((await auth('new-token')).answer, { action: 'authenticated', identity: 'beta' }, 'the previous auth stays');
  t.match((await auth('old-token')).answer, { action: 'error', code: 'unauthorized' });
  t.equal(await names('new-token', 3), 1, 'and so do the previous limits: nothing of a bad reload is applied');

  authFile('beta', 'new-token');
  configFile({ heartbeatMs: 1000 });
  t.match(await hangUp('reload failed'), { level: 50, problems: [/heartbeatMs is fixed at start/] }, 'a limit fixed at start is refused, not ignored');

  t.notOk(/old-token|new-token/.test(s.output()), 'no token reaches the log');
  await kept.peer.close();
  s.child.kill('SIGTERM');
  t.equal(await Promise.race([s.exited, new Promise((r) => setTimeout(() => r('still running'), 8000))]), 0);
});

t.test('token prints a token and the hash that the auth file stores', async (t) => {
  const out = spawnSync(process.execPath, [main, 'token'], { encoding: 'utf8', timeout: 10_000 });
  t.equal(out.status, 0);
  const match = /token:\s+(\S+)\ntokenSha256: ([0-9a-f]{64})/.exec(out.stdout);
  t.ok(match, out.stdout);
  t.equal(sha256(match![1]).toString('hex'), match![2]);
});
