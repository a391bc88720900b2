/**
 * The client across broken connections: a broker that crashes and comes back on the same port, a
 * graceful restart, failover to a second URL, the bounded queue and its deadlines, the in-flight bound,
 * giving up, and close() with operations pending.
 */
import t from 'tap';
import { Broker } from '../../lib/broker/index.js';
import type { Client, ClientStatus, SwitchboardError } from '../../lib/client/node.js';
import { drained, NOTHING_HELD, startBroker } from '../fixtures/broker.js';
import { built, freePort, spawnBroker } from '../fixtures/broker-process.js';
import { client, nextEvent, readyClient, rejection, until, within, WAIT_MS } from '../fixtures/clients.js';

const fast = { initialDelayMs: 20, factor: 1, jitter: 0 };

t.test('after a broker crash and restart on the same port: in-flight requests reject with disconnected, names come back, queued sends go out in order', { skip: built() }, async (t) => {
  const port = await freePort();
  let proc = await spawnBroker(t, port);
  // The printer retries every 20 ms, the sender every 1.5 s: the printer is back well before the sender.
  const printer = await readyClient(t, proc.url, { name: 'printer', reconnect: fast });
  const web = await readyClient(t, proc.url, { name: 'web', reconnect: { initialDelayMs: 1500, factor: 1, jitter: 0 } });
  const got: unknown[] = [];
  printer.handle((message) => {
    got.push(message);
    return message === 'hold' ? new Promise(() => {}) : message;
  });
  let rejectedAt = 0;
  const held = rejection(
    web.request('printer', 'hold', { timeout: 60_000 }).finally(() => (rejectedAt = Date.now())),
    5000,
  );
  await until(() => got.length === 1, 'the printer got the held request');

  const webDown = nextEvent(web, 'reconnecting');
  const killedAt = Date.now();
  await proc.kill();
  const error = await held;
  t.equal(error.code, 'disconnected', 'the in-flight request rejects with disconnected');
  t.ok(rejectedAt - killedAt < 4000, `at once, not at its 60 s deadline (${rejectedAt - killedAt} ms)`);
  await webDown;
  t.equal(web.status, 'reconnecting');

  const sends = [1, 2, 3, 4, 5].map((n) => web.send('printer', n));
  t.same(web.pending, { queued: 5, inFlight: 0 }, 'sends wait in the queue');
  await nextEvent(web, 'reconnecting', 5000); // a failed attempt: the next one is 1.5 s away
  const order: string[] = [];
  printer.once('ready', () => order.push('printer'));
  web.once('ready', () => order.push('web'));
  proc = await spawnBroker(t, port);
  const reports = await within(Promise.all(sends), 10_000, 'queued sends reported');
  t.same(order, ['printer', 'web'], 'the printer registered first (the test relies on it)');
  t.same(reports, Array(5).fill({ delivered: ['printer'], unknown: [] }), 'every queued send was delivered');
  await until(() => got.length === 6, 'the printer got the five sends');
  t.same(got, ['hold', 1, 2, 3, 4, 5], 'in order, and the dropped request was not sent again');
  t.same(printer.names, ['printer']);
  t.same(await web.request('printer', 'again'), { from: 'printer', message: 'again' }, 'requests work again');
});

t.test('a graceful broker restart ends in-flight requests with shutting_down; clients come back with their names', async (t) => {
  const first = new Broker({ host: '127.0.0.1', port: 0, shutdownGraceMs: 0 });
  const { port, url } = await first.listen();
  t.teardown(() => first.close());
  const svc = await readyClient(t, url, { name: 'svc', reconnect: fast });
  const web = await readyClient(t, url, { name: 'web', reconnect: fast });
  const statuses: ClientStatus[] = [];
  web.on('status', (status) => statuses.push(status));
  let holding = false;
  svc.handle((message) => {
    if (message !== 'hold') return `svc:${String(message)}`;
    holding = true;
    return new Promise(() => {});
  });
  const held = rejection(web.request('svc', 'hold'));
  await until(() => holding, 'the request reached the responder');
  await first.close();
  t.equal((await held).code, 'shutting_down', "the broker's own outcome comes before its close [SB-2-6]");

  const second = new Broker({ host: '127.0.0.1', port });
  await second.listen();
  t.teardown(() => second.close());
  await within(Promise.all([svc.ready, web.ready]), WAIT_MS, 'both clients back');
  await until(() => second.stats().names === 2, 'both names registered on the new broker');
  t.same(await web.request('svc', 1), { from: 'svc', message: 'svc:1' });
  t.same(statuses, ['reconnecting', 'ready'], 'status events');
  await web.close();
  await svc.close();
  t.same(await drained(second), NOTHING_HELD);
});

t.test('a name taken while the client was away is retried until it is free again', async (t) => {
  const first = new Broker({ host: '127.0.0.1', port: 0, shutdownGraceMs: 0 });
  const { port, url } = await first.listen();
  t.teardown(() => first.close());
  const owner = await readyClient(t, url, { name: 'owner', reconnect: { initialDelayMs: 200, factor: 1, jitter: 0 } });
  await first.close();
  const second = new Broker({ host: '127.0.0.1', port });
  t.teardown(() => second.close());
  // The squatter connects to the new broker before the owner's next attempt can.
  const errors: SwitchboardError[] = [];
  owner.on('error', (e) => errors.push(e));
  await second.listen();
  const squatter = await readyClient(t, url, { name: 'owner', reconnect: false }).catch(() => undefined);
  if (squatter === undefined) {
    t.comment('the owner was back before the squatter could take the name: nothing to check');
    return;
  }
  await until(() => errors.some((e) => e.code === 'name_taken'), 'the owner was told name_taken');
  t.not(owner.status, 'ready');
  await squatter.close();
  await within(owner.ready, WAIT_MS, 'the owner gets its name back');
  t.same(owner.names, ['owner']);
});

t.test('failover: the client moves to the next URL when its broker goes away, and skips a dead first URL', async (t) => {
  const a = await startBroker(t, { shutdownGraceMs: 0 });
  const b = await startBroker(t);
  const svc = await readyClient(t, b.url, { name: 'svc' });
  svc.handle(() => 'from b');
  const web = await readyClient(t, [a.url, b.url], { name: 'web', reconnect: fast });
  t.equal(web.url, a.url);
  await a.broker.close();
  await nextEvent(web, 'ready');
  t.equal(web.url, b.url);
  t.same(await web.request('svc', 1), { from: 'svc', message: 'from b' });

  const dead = `ws://127.0.0.1:${await freePort()}/`;
  const other = await readyClient(t, [dead, b.url], { name: 'other', reconnect: fast });
  t.equal(other.url, b.url, 'ready on the second URL');
});

t.test('operations made before ready wait in a bounded queue: past maxQueue they reject with queue_full', async (t) => {
  const dead = `ws://127.0.0.1:${await freePort()}/`;
  const c = client(t, dead, { name: 'web', maxQueue: 3, reconnect: fast });
  const queued = [c.send('x', 1), c.request('x', 2), c.send('x', 3)].map((op) => rejection(op));
  t.equal((await rejection(c.request('x', 4), 100)).code, 'queue_full', 'at once');
  t.same(c.pending, { queued: 3, inFlight: 0 });
  await c.close();
  for (const op of queued) t.equal((await op).code, 'closed', 'close() rejects what waits with closed');
});

t.test('a queued operation past its own deadline rejects with timeout and leaves the queue', async (t) => {
  const dead = `ws://127.0.0.1:${await freePort()}/`;
  const c = client(t, dead, { name: 'web', reconnect: fast });
  const started = Date.now();
  const error = await rejection(c.request('x', 1, { timeout: 100 }));
  t.equal(error.code, 'timeout');
  t.match(error.message, /waiting for the connection/);
  t.ok(Date.now() - started >= 95);
  t.equal(c.pending.queued, 0);
  t.equal((await rejection(c.send('x', 1, { timeout: 50 }))).code, 'timeout', 'sends too');
});

t.test('close() rejects every pending request with closed, in flight and queued, and frees the broker', async (t) => {
  const { broker, url } = await startBroker(t);
  const slow = await readyClient(t, url, { name: 'slow' });
  slow.handle(() => new Promise(() => {}));
  const web = await readyClient(t, url, { name: 'web', maxInFlight: 2 });
  const requests = [1, 2, 3].map((n) => rejection(web.request('slow', n)));
  await until(() => web.pending.inFlight === 2 && broker.stats().pending === 2, 'two in flight');
  t.same(web.pending, { queued: 1, inFlight: 2 }, 'maxInFlight holds the third back');
  const closedEvent = nextEvent(web, 'closed');
  await web.close();
  for (const request of requests) t.equal((await request).code, 'closed');
  t.same((await closedEvent)[0], {}, 'closed event without error');
  t.equal(web.status, 'closed');
  await slow.close();
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('maxInFlight: the queue goes out in order as in-flight requests end', async (t) => {
  const { url } = await startBroker(t);
  const svc = await readyClient(t, url, { name: 'svc' });
  const seen: unknown[] = [];
  svc.handle(async (message) => {
    seen.push(message);
    await new Promise((resolve) => setTimeout(resolve, 5));
    return message;
  });
  const web = await readyClient(t, url, { name: 'web', maxInFlight: 1 });
  const answers = await Promise.all([1, 2, 3, 4].map((n) => web.request('svc', n)));
  t.same(answers.map((a) => a.message), [1, 2, 3, 4]);
  t.same(seen, [1, 2, 3, 4], 'one at a time, in order');
});

t.test('the client gives up after reconnect.maxAttempts and rejects what waits with unreachable', async (t) => {
  const dead = `ws://127.0.0.1:${await freePort()}/`;
  const c: Client = client(t, dead, { name: 'web', reconnect: { ...fast, maxAttempts: 3 } });
  const attempts: number[] = [];
  c.on('connecting', ({ attempt }) => attempts.push(attempt));
  const queued = rejection(c.request('x', 1));
  const [info] = await nextEvent<[{ error?: SwitchboardError }]>(c, 'closed');
  t.equal(info.error?.code, 'unreachable');
  t.same(attempts, [1, 2, 3]);
  const error = await queued;
  t.equal(error.code, 'unreachable');
  t.match(error.message, /3 attempts failed in a row\); last: cannot connect/);
  t.equal(c.status, 'closed');
});

t.test('a connection attempt that is not ready within connectTimeoutMs is abandoned and retried', async (t) => {
  const { fakeBroker } = await import('../fixtures/clients.js');
  const silent = await fakeBroker(t, { register: false });
  const c = client(t, silent.url, { name: 'web', connectTimeoutMs: 100, reconnect: { ...fast, maxAttempts: 2 } });
  const reasons: string[] = [];
  c.on('reconnecting', ({ error }) => reasons.push(error?.code ?? ''));
  const [info] = await nextEvent<[{ error?: SwitchboardError }]>(c, 'closed');
  t.same(reasons, ['timeout']);
  t.match(info.error, { code: 'unreachable', message: /connectTimeoutMs/ });
});
