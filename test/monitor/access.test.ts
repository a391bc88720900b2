/**
 * Who may use the monitor (lib/monitor/access.ts): with an auth policy, a bearer token whose identity has
 * the `monitor` permission (`read` for GET, `write` for POST); without one, loopback clients only. The
 * probes answer anyone.
 */
import t from 'tap';
import type { IncomingMessage } from 'node:http';
import { sha256, tokenPolicy, type AuthPolicy, type Permissions } from '../../lib/broker/index.js';
import { checkAccess, isLoopback } from '../../lib/monitor/access.js';
import { call, startMonitored } from '../fixtures/monitor.js';
import { Peer } from '../fixtures/peer.js';

function identity(id: string, token: string, permissions: Permissions) {
  return { id, tokenSha256: sha256(token).toString('hex'), permissions };
}

const POLICY = tokenPolicy([
  identity('app', 'app-token', { register: ['*'], send: ['*'] }),
  identity('viewer', 'viewer-token', { monitor: ['read'] }),
  identity('operator', 'operator-token', { monitor: ['read', 'write'] }),
]);

t.test('with an auth policy: no token 401, an unknown token 401, no monitor permission 403, read and write apart', async (t) => {
  const { url, monitor } = await startMonitored(t, { auth: POLICY });
  const missing = await call(monitor, '/v1/server');
  t.match(missing, { status: 401, json: { error: 'unauthorized' } });
  t.match(missing.headers.get('www-authenticate'), /^Bearer /);
  t.match(await call(monitor, '/metrics', { token: 'guess' }), { status: 401 });
  t.match(await call(monitor, '/v1/server', { headers: { authorization: 'Basic dmlld2VyOng=' } }), { status: 401 }, 'only Bearer');
  t.match(await call(monitor, '/v1/server', { token: 'app-token' }), { status: 403, json: { error: 'forbidden', message: /"app".*"read"/ } });

  for (const path of ['/metrics', '/v1/server', '/v1/connections', '/v1/names', '/v1/topics', '/v1/mailboxes']) {
    t.equal((await call(monitor, path, { token: 'viewer-token' })).status, 200, `read: ${path}`);
  }
  const peer = await Peer.connect(url);
  peer.send({ action: 'auth', token: 'app-token' });
  await peer.next((f) => f.action === 'authenticated');
  peer.send({ action: 'register', id: 'target' });
  await peer.next((f) => f.action === 'registered');
  const listed = (await call(monitor, '/v1/connections', { token: 'viewer-token' })).json;
  t.match(listed.connections, [{ identity: 'app', names: ['target'] }]);

  t.match(await call(monitor, '/v1/names/target/kick', { method: 'POST', token: 'viewer-token' }), {
    status: 403,
    json: { message: /"viewer".*"write"/ },
  });
  t.equal(peer.ws.readyState, peer.ws.OPEN, 'a refused kick kicks no one');
  t.match(await call(monitor, '/v1/names/target/kick', { method: 'POST', token: 'operator-token' }), { status: 200, json: { kicked: [String] } });
  t.equal((await peer.closed()).code, 4010);

  t.equal((await call(monitor, '/livez')).status, 200, 'probes need no token');
  t.equal((await call(monitor, '/readyz?verbose')).status, 200);
});

t.test('a reload changes who may use the monitor; a failing authorize hook denies and is reported', async (t) => {
  const { broker, monitor } = await startMonitored(t, { auth: POLICY });
  t.equal((await call(monitor, '/v1/server', { token: 'viewer-token' })).status, 200);
  broker.reload({ auth: tokenPolicy([identity('viewer', 'viewer-token', {})]) });
  t.equal((await call(monitor, '/v1/server', { token: 'viewer-token' })).status, 403, 'the reloaded policy is in force');

  const faults: Error[] = [];
  broker.on('error', (error) => faults.push(error));
  const throwing: AuthPolicy = {
    authenticate: (token) => (token === 'x' ? { id: 'x', permissions: { monitor: ['*'] } } : undefined),
    authorize: () => {
      throw new Error('policy store down');
    },
  };
  broker.reload({ auth: throwing });
  t.equal((await call(monitor, '/v1/server', { token: 'x' })).status, 403);
  t.match(faults, [{ name: 'HookError', message: /authorize hook threw/ }]);
  broker.reload({ auth: undefined });
  t.equal((await call(monitor, '/v1/server')).status, 200, 'without a policy, loopback needs no token');
});

t.test('without an auth policy only loopback clients are served', async (t) => {
  const { monitor } = await startMonitored(t);
  t.equal((await call(monitor, '/v1/server')).status, 200, 'from 127.0.0.1');
  t.ok(isLoopback('127.0.0.1') && isLoopback('127.8.9.10') && isLoopback('::1') && isLoopback('::ffff:127.0.0.1'));
  t.notOk(isLoopback('10.0.0.1') || isLoopback('::ffff:10.0.0.1') || isLoopback('fe80::1') || isLoopback('128.0.0.1') || isLoopback(undefined));
  // A request from another host cannot be made on this machine's loopback; the check itself is judged.
  const broker = { auth: undefined } as Parameters<typeof checkAccess>[0];
  const from = (remoteAddress: string) => ({ socket: { remoteAddress }, headers: { authorization: 'Bearer anything' } }) as unknown as IncomingMessage;
  t.match(await checkAccess(broker, from('192.0.2.7'), 'read'), { allowed: false, status: 403, message: /loopback clients only/ });
  t.match(await checkAccess(broker, from('::ffff:127.0.0.1'), 'write'), { allowed: true });
});
