/**
 * The monitor's probes and lifecycle (lib/monitor/server.ts): `/livez`, `/readyz` flipping to 503 from the
 * moment close() is called until the monitor itself stops last, the option's defaults and validation,
 * and a monitor address that cannot be listened on.
 */
import t from 'tap';
import { connect, createServer, type Socket } from 'node:net';
import { Broker, resolveOptions } from '../../lib/broker/index.js';
import { drained, NOTHING_HELD, startBroker } from '../fixtures/broker.js';
import { call, scrape, startMonitored } from '../fixtures/monitor.js';
import { Peer } from '../fixtures/peer.js';
import { value } from '../fixtures/prometheus.js';
import { upgrade } from '../fixtures/raw.js';

t.test('/livez and /readyz answer anyone; ?verbose lists the checks', async (t) => {
  const { monitor } = await startMonitored(t);
  t.match(await call(monitor, '/livez'), { status: 200, json: { status: 'ok' } });
  const ready = await call(monitor, '/readyz');
  t.equal(ready.status, 200);
  t.same(ready.json, { status: 'ready' });
  t.match(ready.headers.get('content-type'), /^application\/json/);
  t.same((await call(monitor, '/readyz?verbose')).json, {
    status: 'ready',
    checks: [{ name: 'shutdown', ok: true, detail: 'not shutting down' }],
  });
});

t.test('/readyz answers 503 from the moment close() is called until the monitor stops, last', async (t) => {
  const { broker, url, port, monitor } = await startMonitored(t, { shutdownGraceMs: 300 });
  const sender = await Peer.named(url, 'sender');
  const silent = await Peer.named(url, 'silent');
  // A connection that never answers the broker's close holds the shutdown open for the transport's
  // close timeout (1 s), after the pending requests have ended.
  const { socket: stubborn } = await upgrade(port, { protocol: 'switchboard.v1' });
  t.teardown(() => stubborn.destroy());
  sender.send({ action: 'send', dest: 'silent', message: 1, ack: 'r1' });
  await silent.next((f) => f.action === 'message');
  t.equal((await call(monitor, '/readyz')).status, 200);

  const closing = broker.close();
  const during = await call(monitor, '/readyz');
  t.equal(during.status, 503, 'not ready while the pending request has its grace');
  t.same(during.json, { status: 'shutting_down' });
  t.same((await call(monitor, '/readyz?verbose')).json, {
    status: 'shutting_down',
    checks: [{ name: 'shutdown', ok: false, detail: 'the broker is shutting down' }],
  });
  t.equal((await call(monitor, '/livez')).status, 200, 'still alive');
  t.match(await sender.next((f) => f.ack === 'r1'), { action: 'error', code: 'shutting_down' });
  const families = await scrape(monitor);
  t.equal(value(families, 'switchboard_requests_total', { outcome: 'shutting_down' }), 1, 'metrics are served during the shutdown');
  t.equal((await call(monitor, '/readyz')).status, 503, 'still 503 while connections close');
  await closing;
  await t.rejects(call(monitor, '/livez'), 'the monitor stopped with the broker');
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('the monitor is off by default; its option defaults to 127.0.0.1:9043 and is validated', async (t) => {
  const { broker } = await startBroker(t);
  t.equal(broker.monitorAddress, undefined);
  t.equal(resolveOptions().monitor, undefined);
  t.same(resolveOptions({ monitor: {} }).monitor, { host: '127.0.0.1', port: 9043, readonly: false });
  t.throws(() => resolveOptions({ monitor: { host: '', port: 70_000 } }), {
    name: 'TypeError',
    message: /monitor\.host must be a non-empty string; monitor\.port must be an integer 0-65535, got 70000/,
  });
});

t.test('a monitor address that cannot be listened on fails listen() and leaves the broker port free', async (t) => {
  const taken = createServer();
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => taken.close(() => resolve())));
  const monitorPort = (taken.address() as { port: number }).port;
  const free = createServer();
  await new Promise<void>((resolve) => free.listen(0, '127.0.0.1', resolve));
  const brokerPort = (free.address() as { port: number }).port;
  await new Promise<void>((resolve) => free.close(() => resolve()));

  const broker = new Broker({ host: '127.0.0.1', port: brokerPort, monitor: { port: monitorPort } });
  t.teardown(() => broker.close());
  await t.rejects(broker.listen(), { message: new RegExp(`the monitor cannot listen on 127\\.0\\.0\\.1:${monitorPort}`) });
  t.equal(broker.monitorAddress, undefined);
  const again = createServer();
  await new Promise<void>((resolve, reject) => {
    again.once('error', reject);
    again.listen(brokerPort, '127.0.0.1', resolve);
  });
  t.pass('the broker port was released');
  await new Promise<void>((resolve) => again.close(() => resolve()));
});

t.test('unknown paths are 404, wrong methods 405 with Allow, bad encodings 400', async (t) => {
  const { monitor } = await startMonitored(t);
  t.match(await call(monitor, '/nope'), { status: 404, json: { error: 'not_found' } });
  t.match(await call(monitor, '/v1/server/'), { status: 404 }, 'no trailing slash');
  t.match(await call(monitor, '/v1/topics/x/kick', { method: 'POST' }), { status: 404 });
  const wrong = await call(monitor, '/v1/server', { method: 'POST' });
  t.match(wrong, { status: 405, json: { error: 'method_not_allowed' } });
  t.equal(wrong.headers.get('allow'), 'GET');
  t.equal((await call(monitor, '/v1/names/x/kick')).headers.get('allow'), 'POST');
  t.match(await call(monitor, '/v1/names/%E0%A4%A/kick', { method: 'POST' }), { status: 400, json: { error: 'bad_request' } });
});

t.test('at most 64 monitor connections at once: the next is dropped, and served again once one leaves', async (t) => {
  const { monitor } = await startMonitored(t);
  const port = Number(new URL(monitor).port);
  const open = (): Promise<Socket> =>
    new Promise((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port }, () => resolve(socket));
      socket.once('error', reject);
    });
  const held = await Promise.all(Array.from({ length: 64 }, open));
  t.teardown(() => held.forEach((socket) => socket.destroy()));
  const extra = await open();
  const dropped = await new Promise<boolean>((resolve) => {
    extra.once('close', () => resolve(true));
    extra.write('GET /livez HTTP/1.1\r\nHost: x\r\n\r\n');
    setTimeout(() => resolve(false), 2000);
  });
  t.ok(dropped, 'the 65th connection is closed unanswered');
  held.pop()?.destroy();
  const deadline = Date.now() + 2000;
  let status: number | undefined;
  while (status !== 200 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 10));
    status = (await call(monitor, '/livez').catch(() => undefined))?.status;
  }
  t.equal(status, 200, 'served again once a connection left');
});
