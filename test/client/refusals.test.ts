/**
 * Refusals the client must say at once, through the promises the caller awaits, rather than retry in
 * silence: a configured name another client holds or the broker will not give, a URL where no broker
 * answers the upgrade, a server that is not a switchboard broker, a runtime `register()` refused before
 * the client was ready (and the life of such a `register()` otherwise), and a control frame the broker
 * never answers.
 */
import t from 'tap';
import type { SwitchboardError } from '../../lib/client/node.js';
import { startBroker } from '../fixtures/broker.js';
import { client, fakeBroker, nextEvent, readyClient, rejection, until, within, WAIT_MS } from '../fixtures/clients.js';

const fast = { initialDelayMs: 20, factor: 1, jitter: 0 };

t.test('register() of a taken name before the client is ready rejects with name_taken, is not kept, and the client becomes ready', async (t) => {
  const { url } = await startBroker(t);
  const holder = await readyClient(t, url, { name: 'calc' });
  holder.handle(() => 'from the holder');
  const web = client(t, url, { name: 'web', reconnect: fast });
  const refused = rejection(web.register('calc'));
  t.equal(web.status, 'connecting', 'made before ready');
  t.match(await refused, { code: 'name_taken', from: 'calc' });
  await within(web.ready, WAIT_MS, 'web ready');
  t.same(web.names, ['web'], 'not kept for the next connection');
  t.same(await web.request('calc', 1), { from: 'calc', message: 'from the holder' }, 'the client is usable');
});

t.test('register() before ready of a free name resolves once the broker holds it, and it is in the ready event', async (t) => {
  const { broker, url } = await startBroker(t);
  const web = client(t, url, { name: 'web' });
  const ready = nextEvent<[{ names: string[] }]>(web, 'ready');
  await within(web.register('web-2'), WAIT_MS, 'register');
  t.same((await ready)[0].names, ['web', 'web-2']);
  t.equal(broker.stats().names, 2);
});

t.test('unregister() of a name whose register() still waits rejects that register() with aborted; the broker never holds it', async (t) => {
  const { broker, url } = await startBroker(t);
  const web = client(t, url, { name: 'web' });
  const asked = rejection(web.register('extra'));
  await web.unregister('extra');
  t.match(await asked, { code: 'aborted', from: 'extra' });
  await within(web.ready, WAIT_MS, 'web ready');
  t.same(web.names, ['web']);
  t.equal(broker.stats().names, 1);
});

t.test('a client whose configured name is taken closes with name_taken: ready, what waits and the closed event say so at once', async (t) => {
  const { url } = await startBroker(t);
  await readyClient(t, url, { name: 'calc' });
  const calc = client(t, url, { name: 'calc', reconnect: fast });
  let attempts = 0;
  calc.on('connecting', () => attempts++);
  const closed: Array<{ error?: SwitchboardError }> = [];
  calc.on('closed', (info) => closed.push(info));
  const queued = calc.request('somebody', 1).catch((error: SwitchboardError) => error);
  t.match(await rejection(calc.ready), { code: 'name_taken', message: /calc/ });
  t.match(await queued, { code: 'name_taken' }, 'what waited rejects with the same code');
  await until(() => closed.length === 1, 'the closed event');
  t.match(closed[0].error, { code: 'name_taken' });
  t.equal(calc.status, 'closed');
  t.equal(attempts, 1, 'not retried');
});

t.test('configured names the broker refuses for good (limit_exceeded, name_conflict) close the client with that code', async (t) => {
  const { url } = await startBroker(t, { limits: { maxNamesPerConnection: 1 } });
  const many = client(t, url, { names: ['a', 'b'], reconnect: fast });
  t.match(await rejection(many.ready), { code: 'limit_exceeded' });
  t.equal(many.status, 'closed');
  await readyClient(t, url, { name: 'render' });
  const member = client(t, url, { names: [{ name: 'render', shared: true }], reconnect: fast });
  t.match(await rejection(member.ready), { code: 'name_conflict' });
  t.equal(member.status, 'closed');
});

t.test('a URL where the broker does not serve (HTTP 404) closes the client with unreachable, saying 404, without retrying', async (t) => {
  const { port } = await startBroker(t, { path: '/rpc' });
  const c = client(t, `ws://127.0.0.1:${port}/elsewhere`, { name: 'web', reconnect: fast });
  let attempts = 0;
  c.on('connecting', () => attempts++);
  const queued = c.send('x', 1).catch((error: SwitchboardError) => error);
  const error = await rejection(c.ready);
  t.match(error, { code: 'unreachable', message: /404/ });
  t.match(await queued, { code: 'unreachable' });
  t.equal(c.status, 'closed');
  t.equal(attempts, 1, 'not retried');
});

t.test('a server that is not a switchboard broker (no switchboard.v1) closes the client with protocol_error', async (t) => {
  const other = await fakeBroker(t, { subprotocol: false });
  const c = client(t, other.url, { name: 'web', reconnect: fast });
  t.match(await rejection(c.ready), { code: 'protocol_error', message: /switchboard\.v1/ });
  t.equal(c.status, 'closed');
});

t.test('a control frame the broker never answers rejects with timeout after connectTimeoutMs; the client goes on', async (t) => {
  // internal_error carries no id: nothing ties it to the register or subscribe it refuses.
  const fake = await fakeBroker(t, {
    register: false,
    onFrame(ws, frame) {
      if (frame.action === 'register' && frame.id === 'web') ws.send(JSON.stringify({ action: 'registered', id: 'web' }));
      else if (frame.action === 'register' || frame.action === 'subscribe') {
        ws.send(JSON.stringify({ action: 'error', code: 'internal_error', message: 'the broker failed' }));
      }
    },
  });
  const c = await readyClient(t, fake.url, { name: 'web', connectTimeoutMs: 200 });
  c.on('error', () => {}); // the id-less internal_error is also an error event
  const started = Date.now();
  t.match(await rejection(c.register('other')), { code: 'timeout', from: 'other' });
  t.ok(Date.now() - started >= 190, 'at the deadline');
  t.match(await rejection(c.subscribe('news', () => {})), { code: 'timeout' });
  t.same(c.names, ['web']);
  t.same(c.topics, []);
  t.equal(c.status, 'ready');
});

t.test('control replies are matched by ref, not by order: interleaved registers and subscribes, one refused [SB-4.0-5]', async (t) => {
  const { url } = await startBroker(t);
  await readyClient(t, url, { name: 'taken' });
  const web = await readyClient(t, url, { name: 'web' });
  const calls = [
    web.register('n1'),
    web.subscribe('news', () => {}),
    web.register('taken'),
    web.register('n2', { shared: true }),
    web.subscribe('sport', () => {}),
  ].map((call) => call.then(() => 'ok', (error: SwitchboardError) => error.code));
  t.same(await within(Promise.all(calls), WAIT_MS, 'every reply'), ['ok', 'ok', 'name_taken', 'ok', 'ok']);
  t.same(web.names.sort(), ['n1', 'n2', 'web']);
});

t.test('a broker that answers control frames out of order, echoing refs, still settles each call with its own reply', async (t) => {
  // No real broker answers out of order on one connection; a cluster may. This fake holds the replies
  // to four control frames and sends them back in reverse, each with the ref it was given.
  const held: Array<() => void> = [];
  const fake = await fakeBroker(t, {
    register: false,
    onFrame(ws, frame) {
      const ref = frame.ref as string;
      if (frame.action === 'register' && frame.id === 'web') {
        ws.send(JSON.stringify({ action: 'registered', id: 'web', ref }));
      } else if (frame.action === 'register' || frame.action === 'subscribe') {
        const reply =
          frame.id === 'refused'
            ? { action: 'error', code: 'name_taken', message: 'held', id: frame.id, ref }
            : frame.action === 'register'
              ? { action: 'registered', id: frame.id, ref }
              : { action: 'subscribed', topic: frame.topic, ref };
        held.push(() => ws.send(JSON.stringify(reply)));
        if (held.length === 4) for (const send of held.splice(0).reverse()) send();
      }
    },
  });
  const web = await readyClient(t, fake.url, { name: 'web' });
  const calls = [web.register('a'), web.register('refused'), web.subscribe('news', () => {}), web.register('b')].map((call) =>
    call.then(() => 'ok', (error: SwitchboardError) => error.code),
  );
  t.same(await within(Promise.all(calls), WAIT_MS, 'every reply'), ['ok', 'name_taken', 'ok', 'ok']);
  t.ok(fake.frames.filter((f) => f.action !== 'register' || f.id !== 'web').every((f) => typeof f.ref === 'string'), 'every control frame had a ref');
});
