/**
 * The configuration of `switchboard serve` (lib/config): a file (JSON or YAML), the environment and the
 * flags, flags > environment > file, one schema, every problem at once; `switchboard config print`.
 */
import t, { type Test } from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sha256 } from '../../lib/broker/index.js';
import { ConfigError, loadConfig, type FlagValues } from '../../lib/config/load.js';
import { DEFAULT_LIMITS } from '../../lib/protocol/index.js';
import { cli } from '../fixtures/cli.js';

function workspace(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'sb-config-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const AUTH = { identities: [{ id: 'alpha', tokenSha256: sha256('secret-token').toString('hex'), permissions: { register: ['*'] } }] };

function problemsOf(flags: FlagValues, env: Record<string, string> = {}, cwd?: string): readonly string[] {
  try {
    loadConfig({ flags, env, cwd });
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

t.test('flags win over the environment, which wins over the file, setting by setting', async (t) => {
  const dir = workspace(t);
  writeFileSync(join(dir, 'sb.yaml'), 'host: 127.0.0.1\nport: 9100\npath: /file\nlimits:\n  maxDepth: 10\n  maxDestinations: 11\n  maxNamesPerConnection: 12\nlog:\n  level: debug\n');
  const env = { SWITCHBOARD_PORT: '9200', SWITCHBOARD_PATH: '/env', SWITCHBOARD_LIMIT_MAX_DESTINATIONS: '21', SWITCHBOARD_LIMIT_MAX_NAMES_PER_CONNECTION: '22' };
  const { config, options, file } = loadConfig({ flags: { config: join(dir, 'sb.yaml'), port: '9300', limit: ['maxNamesPerConnection=32'] }, env });
  t.equal(file, join(dir, 'sb.yaml'));
  t.match(config, { host: '127.0.0.1', port: 9300, path: '/env', log: { level: 'debug', format: 'auto' } });
  t.match(config.limits, { maxDepth: 10, maxDestinations: 21, maxNamesPerConnection: 32, maxPendingTotal: DEFAULT_LIMITS.maxPendingTotal });
  t.same(options.limits, { maxDepth: 10, maxDestinations: 21, maxNamesPerConnection: 32 }, 'the broker gets only what was set');
  t.same(loadConfig({ flags: {}, env: {} }).config.port, 9042, 'defaults are the broker defaults');
});

t.test('every problem of every source is reported at once, each named as its source spells it', async (t) => {
  const dir = workspace(t);
  writeFileSync(join(dir, 'sb.json'), '{"port":"x","limits":{"nope":1},"log":{"level":"loud"},"colour":"blue","__proto__":{"polluted":true}}');
  const problems = problemsOf(
    { config: join(dir, 'sb.json'), limit: ['maxDepth=0', 'oops'], monitor: 'nowhere', 'log-format': 'fancy', 'tls-cert': join(dir, 'cert.pem') },
    { SWITCHBOARD_PORT: 'many', SWITCHBOARD_LIMIT_NO_SUCH: '3', SWITCHBOARD_AUTH: join(dir, 'missing.json') },
  );
  const file = join(dir, 'sb.json');
  const expected = [
    `${file}: port: must be integer`,
    `${file}: limits.nope: unknown limit`,
    `${file}: log.level: must be one of trace, debug, info, warn, error, fatal, silent`,
    `${file}: colour: unknown setting`,
    `${file}: __proto__: unknown setting`,
    'SWITCHBOARD_PORT: must be integer',
    'SWITCHBOARD_LIMIT_NO_SUCH: unknown limit',
    '--limit takes NAME=VALUE, got "oops"',
    '--limit maxDepth: must be >= 1',
    '--monitor: expected HOST:PORT or PORT, got "nowhere"',
    '--log-format: must be one of json, pretty, auto',
    'tls needs both cert and key (--tls-cert and --tls-key)',
  ];
  t.same(problems.filter((p) => !expected.includes(p)), [`cannot read auth configuration ${join(dir, 'missing.json')}: ENOENT: no such file or directory, open '${join(dir, 'missing.json')}'`]);
  t.same(expected.filter((p) => !problems.includes(p)), [], 'every problem is named');
  t.equal(({} as Record<string, unknown>).polluted, undefined, 'a __proto__ key pollutes nothing');
});

t.test('the broker checks what the schema cannot: limits against each other, socketPath against port', async (t) => {
  t.same(problemsOf({ limit: ['defaultTimeoutMs=10', 'maxTimeoutMs=5'] }), ['limit defaultTimeoutMs must not exceed maxTimeoutMs']);
  t.same(problemsOf({}, { SWITCHBOARD_SOCKET_PATH: '/tmp/sb.sock', SWITCHBOARD_PORT: '1' }), ['socketPath excludes host and port']);
});

t.test('paths in a file are relative to the file; in flags and the environment, to the working directory', async (t) => {
  const dir = workspace(t);
  writeFileSync(join(dir, 'auth.json'), JSON.stringify(AUTH));
  writeFileSync(join(dir, 'sb.yaml'), 'auth: auth.json\n');
  const fromFile = loadConfig({ flags: { config: join(dir, 'sb.yaml') }, env: {}, cwd: '/' });
  t.equal(fromFile.config.auth, join(dir, 'auth.json'));
  t.ok(fromFile.options.auth?.authenticate, 'the auth file became a policy');
  const fromEnv = loadConfig({ flags: {}, env: { SWITCHBOARD_AUTH: 'auth.json', SWITCHBOARD_ALLOWED_ORIGINS: 'https://a.example, https://b.example' }, cwd: dir });
  t.equal(fromEnv.config.auth, join(dir, 'auth.json'));
  t.same(fromEnv.config.allowedOrigins, ['https://a.example', 'https://b.example']);
  const monitor = loadConfig({ flags: { monitor: '[::1]:9101' }, env: { SWITCHBOARD_MONITOR: '9999' } });
  t.same(monitor.options.monitor, { host: '::1', port: 9101 });
  t.same(loadConfig({ flags: {}, env: { SWITCHBOARD_MONITOR: '9999' } }).config.monitor, { host: '127.0.0.1', port: 9999 });
});

t.test('--config naming an auth file (its old meaning) still works, with a warning', async (t) => {
  const dir = workspace(t);
  writeFileSync(join(dir, 'auth.json'), JSON.stringify(AUTH));
  const loaded = loadConfig({ flags: { config: join(dir, 'auth.json') }, env: {} });
  t.equal(loaded.config.auth, join(dir, 'auth.json'));
  t.match(loaded.warnings, [/is an auth file: give it with --auth/]);
});

t.test('config print shows the effective configuration as JSON, files by path, never a token or its hash', async (t) => {
  const dir = workspace(t);
  writeFileSync(join(dir, 'auth.json'), JSON.stringify(AUTH));
  writeFileSync(join(dir, 'sb.yaml'), 'auth: auth.json\nlimits:\n  maxDepth: 10\n');
  const printed = await cli(['config', 'print', '-c', join(dir, 'sb.yaml'), '--port', '9300', '--log-level', 'warn']);
  t.equal(printed.code, 0, printed.stderr);
  const config = JSON.parse(printed.stdout) as Record<string, unknown>;
  t.match(config, { port: 9300, path: '/', auth: join(dir, 'auth.json'), limits: { maxDepth: 10 }, log: { level: 'warn', format: 'auto' } });
  t.notOk(printed.stdout.includes(AUTH.identities[0].tokenSha256), 'the hash stays in the auth file');
  const bad = await cli(['config', 'print', '--port', 'x', '--limit', 'nope=1']);
  t.equal(bad.code, 2);
  t.match(bad.stderr, /^switchboard config print: invalid configuration:\n  - --port: must be integer\n  - --limit nope: unknown limit\n$/);
  t.equal((await cli(['config'])).code, 2, 'config without an action is a usage error');
});
