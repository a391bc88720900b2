/**
 * `switchboard server report|check|kick` (lib/cli/server.ts) against a real broker with its monitor
 * listener (lib/monitor), in process for most cases and as a process for the dispatch from main.ts: the
 * tables and the JSON, every exit code of check (ready, not ready during a shutdown, unreachable,
 * timeout, not a monitor), kicks by connection id and by name, tokens and permissions, usage errors.
 */
import t from 'tap';
import { createServer, type Socket } from 'node:net';
import { sha256, tokenPolicy, type Permissions } from '../../lib/broker/index.js';
import { EXIT_CODES } from '../../lib/cli/client-command.js';
import { run as server } from '../../lib/cli/server.js';
import { bytes, duration, sanitize, table } from '../../lib/cli/table.js';
import { CLOSE_CODES } from '../../lib/protocol/index.js';
import { built, freePort } from '../fixtures/broker-process.js';
import { cli, inProcess } from '../fixtures/cli.js';
import { readyClient, until, within } from '../fixtures/clients.js';
import { startMonitored } from '../fixtures/monitor.js';

function identity(id: string, token: string, permissions: Permissions) {
  return { id, tokenSha256: sha256(token).toString('hex'), permissions };
}

const POLICY = tokenPolicy([
  identity('app', 'app-token', { register: ['*'], send: ['*'], subscribe: ['*'] }),
  identity('viewer', 'viewer-token', { monitor: ['read'] }),
  identity('operator', 'operator-token', { monitor: ['read', 'write'] }),
]);

t.test('report prints the server, the connections, names and topics as tables; --json the monitor\'s views', async (t) => {
  const { broker, url, monitor } = await startMonitored(t, { durableNames: ['jobs.*'] });
  const calc = await readyClient(t, url, { name: 'calc' });
  await calc.subscribe('news.uk', () => undefined);
  const pool = await Promise.all([1, 2].map(() => readyClient(t, url, { name: { name: 'workers', shared: true } })));
  await readyClient(t, url, { name: { name: 'jobs.render', durable: true } }).then((c) => c.close());
  await until(() => broker.mailboxes.size === 1, 'the mailbox of jobs.render');

  const ran = await inProcess(server, ['report', '--monitor', monitor]);
  t.equal(ran.code, 0, ran.stderr);
  t.match(ran.stdout, new RegExp(`^switchboard \\S+ at ${url.replace(/[/.]/g, '\\$&')}, up \\d+s \\(since `), 'the server line first');
  t.match(ran.stdout, /connections 3 · names 2/);
  t.match(ran.stdout, /\nConnections: 3\nID +ADDRESS +DIALECT +IDENTITY +NAMES +SUBS +PENDING +IN FLIGHT +BUFFERED +CONNECTED\n/);
  t.match(ran.stdout, /\S{21} +127\.0\.0\.1 +extended +anonymous +calc +1 +0 +0 +0 B +\d+(ms|s) ago\n/, 'a row per connection');
  t.match(ran.stdout, /\nNames: 2\nNAME +POOL +HOLDERS +IN FLIGHT\ncalc +no +\S{21} +0\nworkers +yes \(2\) +\S{21},\S{21} +0\n/);
  t.match(ran.stdout, /\nTopics: 1\nTOPIC +SUBSCRIBERS\nnews\.uk +1\n/);
  t.match(ran.stdout, /\nMailboxes: 1\nNAME +DEPTH +BYTES +OLDEST\njobs\.render +0 +0 B +-\n/, 'shown when there is one');

  const json = await inProcess(server, ['report', '--monitor', monitor, '--json']);
  const views = JSON.parse(json.stdout);
  t.same(Object.keys(views), ['server', 'connections', 'names', 'topics', 'mailboxes']);
  t.equal(views.connections.total, 3);
  const names = await inProcess(server, ['report', 'names', '--monitor', monitor, '--json']);
  t.same(JSON.parse(names.stdout).names.map((n: { name: string }) => n.name), ['calc', 'workers'], 'one section: its view alone');

  const top = await inProcess(server, ['report', 'connections', '--monitor', monitor, '--sort', 'names', '--top', '1']);
  t.match(top.stdout, /^Connections: 3, showing 1 to 1 \(--top for more\)\n/);
  t.notMatch(top.stdout, /Names:/, 'only the section asked for');
  const held = await inProcess(server, ['report', 'connections', '--monitor', monitor, '--name', 'workers', '--json']);
  t.equal(JSON.parse(held.stdout).total, 2, '--name keeps the holders of that name');
  const topics = await inProcess(server, ['report', 'topics', '--monitor', monitor]);
  t.equal(topics.stdout, 'Topics: 1\nTOPIC    SUBSCRIBERS\nnews.uk            1\n', 'numbers to the right');
  await Promise.all(pool.map((c) => c.close()));
});

t.test('check: 0 ready, 1 not ready while the broker shuts down, 7 unreachable or not a monitor, 4 no answer in time', async (t) => {
  const { broker, url, port, monitor } = await startMonitored(t, { shutdownGraceMs: 3000 });
  const ready = await inProcess(server, ['check', '--monitor', monitor]);
  t.same([ready.code, ready.stdout], [0, `ready: ${monitor}\n`]);

  const nobody = await inProcess(server, ['check', '--monitor', `http://127.0.0.1:${await freePort()}`]);
  t.equal(nobody.code, EXIT_CODES.unreachable);
  t.match(nobody.stderr, /cannot reach the monitor at .*ECONNREFUSED/);
  const wsPort = await inProcess(server, ['check', '--monitor', `127.0.0.1:${port}`]);
  t.equal(wsPort.code, EXIT_CODES.unreachable, 'the WebSocket port is not the monitor');
  t.match(wsPort.stderr, /HTTP 426.*WebSocket port/);

  const silent = createServer(() => {});
  const sockets = new Set<Socket>();
  silent.on('connection', (socket) => sockets.add(socket));
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    for (const socket of sockets) socket.destroy();
    silent.close();
  });
  const { port: silentPort } = silent.address() as { port: number };
  const slow = await inProcess(server, ['check', '--monitor', `http://127.0.0.1:${silentPort}`, '--timeout', '200']);
  t.equal(slow.code, EXIT_CODES.timeout);
  t.match(slow.stderr, /no answer from the monitor .* within 200 ms/);

  // A request that nobody answers keeps the shutdown in its grace period: /readyz answers 503 meanwhile.
  const sleeper = await readyClient(t, url, { name: 'sleeper' });
  sleeper.handle(() => new Promise(() => {}));
  const asker = await readyClient(t, url);
  asker.request('sleeper', 1).catch(() => {});
  await until(() => broker.stats().pending === 1, 'the request is pending');
  const closing = broker.close();
  const draining = await inProcess(server, ['check', '--monitor', monitor]);
  t.same([draining.code, draining.stdout], [1, 'not ready: shutting_down\n']);
  await within(closing, 10_000, 'the broker closes');
});

t.test('kick closes a connection by id, or every holder of a name (4010); nothing to kick is exit 1', async (t) => {
  const { broker, url, monitor } = await startMonitored(t);
  await readyClient(t, url, { name: 'calc', reconnect: false });
  const closes: number[] = [];
  broker.on('disconnect', (_info, code) => closes.push(code));
  const byName = await inProcess(server, ['kick', 'calc', '--monitor', monitor]);
  t.equal(byName.code, 0, byName.stderr);
  t.match(byName.stdout, /^kicked \S{21}\n$/);
  await until(() => closes.length === 1, 'calc closed');
  t.same(closes, [CLOSE_CODES.kicked]);

  const other = await readyClient(t, url, { name: 'other', reconnect: false });
  const id = [...broker.sessions].find((s) => s.names.has('other'))!.id;
  const byId = await inProcess(server, ['kick', id, '--monitor', monitor, '--json']);
  t.same([byId.code, JSON.parse(byId.stdout)], [0, { kicked: [id] }]);
  await until(() => other.status === 'closed', 'other closed');

  const none = await inProcess(server, ['kick', 'nobody', '--monitor', monitor]);
  t.equal(none.code, EXIT_CODES.other);
  t.match(none.stderr, /nothing to kick: .*"nobody"/);
});

t.test('tokens: none or unknown 10, an identity without the permission 11; read for report, write for kick', async (t) => {
  const { url, monitor } = await startMonitored(t, { auth: POLICY });
  const app = await readyClient(t, url, { name: 'svc', token: 'app-token', reconnect: false });
  const missing = await inProcess(server, ['report', '--monitor', monitor]);
  t.equal(missing.code, EXIT_CODES.unauthorized);
  t.match(missing.stderr, /HTTP 401: unauthorized: .*SWITCHBOARD_TOKEN or --token/);
  t.equal((await inProcess(server, ['report', '--monitor', monitor, '--token', 'guess'])).code, EXIT_CODES.unauthorized);
  t.equal((await inProcess(server, ['report', '--monitor', monitor, '--token', 'app-token'])).code, EXIT_CODES.forbidden);
  t.equal((await inProcess(server, ['report', '--monitor', monitor, '--token', 'viewer-token'])).code, 0);
  t.equal((await inProcess(server, ['check', '--monitor', monitor])).code, 0, 'check needs no token');
  const refused = await inProcess(server, ['kick', 'svc', '--monitor', monitor, '--token', 'viewer-token']);
  t.equal(refused.code, EXIT_CODES.forbidden);
  t.match(refused.stderr, /"viewer".*"write"/);
  t.equal(app.status, 'ready', 'a refused kick kicks no one');

  const saved = { token: process.env.SWITCHBOARD_TOKEN, monitor: process.env.SWITCHBOARD_MONITOR_URL };
  t.teardown(() => {
    for (const [key, value] of [['SWITCHBOARD_TOKEN', saved.token], ['SWITCHBOARD_MONITOR_URL', saved.monitor]] as const) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  });
  process.env.SWITCHBOARD_TOKEN = 'operator-token';
  process.env.SWITCHBOARD_MONITOR_URL = monitor;
  const kicked = await inProcess(server, ['kick', 'svc']);
  t.equal(kicked.code, 0, `the token and the monitor from the environment: ${kicked.stderr}`);
  await until(() => app.status === 'closed', 'svc closed');
});

t.test('usage errors exit 2; --help exits 0', async (t) => {
  for (const args of [
    [],
    ['nope'],
    ['report', 'everything'],
    ['report', 'a', 'b'],
    ['report', 'names', '--sort', 'id'],
    ['check', 'extra'],
    ['kick'],
    ['kick', 'a', 'b'],
    ['check', '--timeout', '0'],
    ['check', '--monitor', 'ws://127.0.0.1:9043/'],
    ['check', '--monitor', 'http://'],
    ['report', '--bogus'],
  ]) {
    const ran = await inProcess(server, args);
    t.equal(ran.code, EXIT_CODES.usage, args.join(' '));
    t.match(ran.stderr, /usage: switchboard server report/);
  }
  const { monitor } = await startMonitored(t);
  const badSort = await inProcess(server, ['report', 'connections', '--sort', 'size', '--monitor', monitor]);
  t.equal(badSort.code, EXIT_CODES.usage, 'the monitor refused the query: 400');
  t.match(badSort.stderr, /HTTP 400: bad_request: sort must be one of/);
  const help = await inProcess(server, ['--help']);
  t.equal(help.code, 0);
  t.match(help.stdout, /exit codes: 0 ok \(check: ready\), 1 check: not ready/);
});

t.test('as a process: switchboard server check and report through main', { skip: built() }, async (t) => {
  const { monitor } = await startMonitored(t);
  const check = await cli(['server', 'check', '--monitor', monitor]);
  t.same([check.code, check.stdout], [0, `ready: ${monitor}\n`], check.stderr);
  const report = await cli(['server', 'report', 'server'], { env: { SWITCHBOARD_MONITOR_URL: monitor } });
  t.equal(report.code, 0, report.stderr);
  t.match(report.stdout, /^switchboard \S+ at ws:\/\/127\.0\.0\.1:\d+\//);
});

t.test('the text helpers: aligned tables, safe values, short durations and sizes', async (t) => {
  t.equal(table([['A', 'N'], ['x', '5'], ['long', '10']]), 'A      N\nx      5\nlong  10\n');
  t.equal(table([['IP', 'NAME'], ['127.0.0.1', 'a'], ['10.0.0.12', 'b']]), 'IP         NAME\n127.0.0.1  a\n10.0.0.12  b\n', 'an address is not a number');
  t.equal(sanitize('a\u001b[2Jb\nc'), 'a\\u001b[2Jb\\nc', 'no escape reaches the terminal');
  t.equal(table([['NAME'], ['a\nb']]), 'NAME\na\\nb\n');
  t.same([duration(850), duration(12_400), duration(184_000), duration(18_120_000), duration(273_600_000), duration(-1)], ['850ms', '12s', '3m04s', '5h02m', '3d04h', '-']);
  t.same([bytes(512), bytes(1536), bytes(12 * 1024 * 1024)], ['512 B', '1.5 KiB', '12 MiB']);
});
