/**
 * Acting on the monitor (lib/monitor/server.ts): a read-only monitor refuses every kick (403) and tells
 * the dashboard so through `/v1/access`; `--monitor-readonly`, SWITCHBOARD_MONITOR_READONLY and
 * `monitor.readonly` in the file make one (lib/config); a POST a browser sends from another origin is
 * refused whoever sends it.
 */
import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sha256, tokenPolicy } from '../../lib/broker/index.js';
import { ConfigError, loadConfig, type FlagValues } from '../../lib/config/load.js';
import { call, startMonitored } from '../fixtures/monitor.js';
import { Peer } from '../fixtures/peer.js';

t.test('a read-only monitor refuses kicks with 403, by connection and by name, and says so at /v1/access', async (t) => {
  const { url, monitor, broker } = await startMonitored(t, { monitor: { host: '127.0.0.1', port: 0, readonly: true } });
  const peer = await Peer.named(url, 'target');
  const [session] = broker.sessions;
  t.same((await call(monitor, '/v1/access')).json, { auth: false, readonly: true, write: false, identity: null });
  t.match(await call(monitor, `/v1/connections/${session.id}/kick`, { method: 'POST' }), { status: 403, json: { error: 'forbidden', message: /read-only/ } });
  t.match(await call(monitor, '/v1/names/target/kick', { method: 'POST' }), { status: 403, json: { error: 'forbidden', message: /read-only/ } });
  t.match(await call(monitor, '/v1/names/target/kick'), { status: 405 }, 'the method is checked first');
  t.equal((await call(monitor, '/v1/connections')).status, 200, 'reading is not acting');
  t.equal(peer.ws.readyState, peer.ws.OPEN, 'nobody was kicked');
  await peer.close();
});

t.test('/v1/access tells the dashboard what the caller may do', async (t) => {
  const open = await startMonitored(t);
  t.same((await call(open.monitor, '/v1/access')).json, { auth: false, readonly: false, write: true, identity: null }, 'loopback, no auth policy');
  const identity = (id: string, token: string, monitor: string[]) => ({ id, tokenSha256: sha256(token).toString('hex'), permissions: { monitor } });
  const guarded = await startMonitored(t, { auth: tokenPolicy([identity('viewer', 'viewer-token', ['read']), identity('operator', 'operator-token', ['read', 'write'])]) });
  t.match(await call(guarded.monitor, '/v1/access'), { status: 401 });
  t.same((await call(guarded.monitor, '/v1/access', { token: 'viewer-token' })).json, { auth: true, readonly: false, write: false, identity: 'viewer' });
  t.same((await call(guarded.monitor, '/v1/access', { token: 'operator-token' })).json, { auth: true, readonly: false, write: true, identity: 'operator' });
});

t.test('a POST from a page of another origin is refused; from the monitor\'s own page or without Origin it is not', async (t) => {
  const { url, monitor, broker } = await startMonitored(t);
  const peer = await Peer.named(url, 'target');
  const kick = (origin?: string) => call(monitor, '/v1/names/target/kick', { method: 'POST', headers: origin === undefined ? {} : { origin } });
  t.match(await kick('http://evil.example'), { status: 403, json: { message: /another origin/ } });
  t.match(await kick('null'), { status: 403 }, 'an opaque origin');
  t.equal(broker.sessions.size, 1, 'nobody was kicked');
  t.match(await kick(monitor), { status: 200, json: { kicked: [String] } }, 'the monitor\'s own origin');
  t.equal((await peer.closed()).code, 4010);
});

function configOf(flags: FlagValues, env: Record<string, string> = {}): ReturnType<typeof loadConfig> | readonly string[] {
  try {
    return loadConfig({ flags, env });
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
}

t.test('--monitor-readonly, SWITCHBOARD_MONITOR_READONLY and monitor.readonly in the file', async (t) => {
  t.match(configOf({ monitor: '127.0.0.1:9100', 'monitor-readonly': true }), {
    options: { monitor: { host: '127.0.0.1', port: 9100, readonly: true } },
    config: { monitor: { host: '127.0.0.1', port: 9100, readonly: true } },
  });
  t.match(configOf({}, { SWITCHBOARD_MONITOR: '9100', SWITCHBOARD_MONITOR_READONLY: 'true' }), { options: { monitor: { port: 9100, readonly: true } } });
  t.match(configOf({}, { SWITCHBOARD_MONITOR: '9100', SWITCHBOARD_MONITOR_READONLY: '0' }), { options: { monitor: { port: 9100, readonly: false } } });
  t.same((configOf({ monitor: '9100' }) as ReturnType<typeof loadConfig>).config.monitor, { host: '127.0.0.1', port: 9100 }, 'shown only when on');
  t.same(configOf({ monitor: '9100' }, { SWITCHBOARD_MONITOR_READONLY: 'maybe' }), ['SWITCHBOARD_MONITOR_READONLY: expected true or false, got "maybe"']);
  t.same(configOf({ 'monitor-readonly': true }), [
    '--monitor-readonly (SWITCHBOARD_MONITOR_READONLY) needs a monitor: give --monitor HOST:PORT, SWITCHBOARD_MONITOR or monitor in the file',
  ]);
  t.same((configOf({}, { SWITCHBOARD_MONITOR_READONLY: 'false' }) as ReturnType<typeof loadConfig>).config.monitor, undefined, 'false alone turns nothing on');

  const dir = mkdtempSync(join(tmpdir(), 'sb-readonly-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'sb.yaml'), 'monitor: { readonly: true }\n');
  t.match(configOf({ config: join(dir, 'sb.yaml') }), { options: { monitor: { readonly: true } }, config: { monitor: { host: '127.0.0.1', port: 9043, readonly: true } } }, 'the file turns the monitor on, read-only');
  writeFileSync(join(dir, 'sb.yaml'), 'monitor: { port: 9100, readonly: "yes" }\n');
  t.match(configOf({ config: join(dir, 'sb.yaml') }), [/sb\.yaml: monitor\.readonly: must be boolean/]);
});
