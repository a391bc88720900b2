/**
 * The embedding process as a peer: broker.peer(), broker.send, broker.request, broker.gather,
 * broker.publish (protocol.md section 4.9). The peer is a lib/client Client over an in-process socket.
 */
import t from 'tap';
import { SwitchboardError } from '../../lib/client/errors.js';
import { drained, NOTHING_HELD, startBroker } from '../fixtures/broker.js';
import { Peer, type Frame } from '../fixtures/peer.js';

const answering = (peer: Peer, answer: (message: unknown) => unknown) =>
  peer.ws.on('message', (data) => {
    const f = JSON.parse(data.toString()) as Frame;
    if (f.action === 'message' && f.ack) peer.send({ action: 'answer', ack: f.ack, message: answer(f.message) });
  });

t.test('the broker requests, sends and publishes as its own named peer [SB-4.9-1]', async (t) => {
  const { broker, url } = await startBroker(t);
  const calc = await Peer.named(url, 'calc');
  calc.send({ action: 'subscribe', topic: 'news' });
  await calc.next((f) => f.action === 'subscribed');
  answering(calc, (message) => (message as number[]).reduce((a, b) => a + b));
  t.same(await broker.request('calc', [1, 2, 3]), { from: 'calc', message: 6 });
  t.match(await broker.send(['calc', 'nobody'], 'hello'), { delivered: ['calc'], unknown: ['nobody'] });
  t.match(await calc.next((f) => f.action === 'message' && f.message === 'hello'), { from: 'broker' });
  t.equal(await broker.publish('news.uk', 'headline'), 1);
  t.match(await calc.next((f) => f.action === 'message' && f.topic === 'news.uk'), { from: 'broker', context: 'news' });
  t.same(await broker.gather(['calc'], [2, 2]), [{ from: 'calc', message: 4 }]);
  const failure = await broker.request('nobody', 1).catch((error: unknown) => error);
  t.ok(failure instanceof SwitchboardError, 'failures are the client library\'s one error class');
  t.equal((failure as SwitchboardError).code, 'no_responders');
  await calc.close();
  t.same(await drained(broker, 2000, { ...NOTHING_HELD, connections: 1, names: 1 }), { ...NOTHING_HELD, connections: 1, names: 1 });
});

t.test('a broker peer answers requests from clients with its handler, errors included [SB-4.9-1]', async (t) => {
  const { broker, url } = await startBroker(t);
  const clock = await broker.peer('clock');
  clock.handle((message) => {
    if (message === 'fail') throw Object.assign(new Error('no time today'), { code: 'no_time' });
    return { now: 42 };
  });
  const a = await Peer.named(url, 'a');
  a.send({ action: 'send', dest: 'clock', message: 'now?', ack: 'r1' });
  t.same(await a.next(), { action: 'answer', ack: 'r1', from: 'clock', message: { now: 42 } });
  a.send({ action: 'send', dest: 'clock', message: 'fail', ack: 'r2' });
  t.same(await a.next(), { action: 'answer', ack: 'r2', from: 'clock', error: { code: 'no_time', message: 'no time today' } });
  const taken = await broker.peer('a').catch((error: unknown) => error);
  t.match(taken, { code: 'name_taken' }, 'a broker peer cannot take a name a client holds');
  await a.close();
  await broker.close();
  t.same(await drained(broker), NOTHING_HELD, 'closing the broker ends its own peers too');
});

t.test('a broker peer whose handler answers what JSON cannot carry answers an error, and the broker goes on', async (t) => {
  const { broker, url } = await startBroker(t);
  const odd = await broker.peer('odd');
  odd.handle((message) => {
    if (message === 'bigint') return 10n;
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    return cycle;
  });
  const a = await Peer.named(url, 'a');
  for (const [ack, message] of [['r1', 'bigint'], ['r2', 'cycle']]) {
    a.send({ action: 'send', dest: 'odd', message, ack });
    const outcome = await a.next((f) => f.ack === ack);
    t.match(outcome, { action: 'answer', ack, from: 'odd', error: { code: String } }, `${message}: an error answer`);
  }
  t.same(await broker.request('a', 'still up?', { timeout: 200 }).catch((error: SwitchboardError) => error.code), 'timeout');
  await a.close();
});

t.test('an idle broker peer keeps its name across heartbeats: it is never dropped for not answering pings [SB-2-7]', async (t) => {
  const { broker, url } = await startBroker(t, { limits: { heartbeatMs: 50 } });
  const clock = await broker.peer('clock');
  clock.handle(() => 'tick');
  await new Promise((resolve) => setTimeout(resolve, 300));
  const a = await Peer.named(url, 'a');
  a.send({ action: 'send', dest: 'clock', message: 'now?', ack: 'r1' });
  t.same(await a.next(), { action: 'answer', ack: 'r1', from: 'clock', message: 'tick' });
  t.equal(clock.status, 'ready');
  await a.close();
});

t.test('the broker\'s own calls refused as bad frames do not spend a budget: every later call still settles [SB-7-3]', async (t) => {
  const { broker, url } = await startBroker(t, { limits: { badFrameBudget: 2 } });
  const b = await Peer.named(url, 'b');
  answering(b, () => 'ok');
  for (let i = 0; i < 25; i++) {
    // An invalid destination is refused (by the client or the broker): it never hangs, and never costs the peer.
    const refused = await broker.send('not a name!', i).catch((error: SwitchboardError) => error.code);
    t.equal(typeof refused, 'string');
  }
  t.same(await broker.request('b', 'after'), { from: 'b', message: 'ok' });
  await b.close();
});

t.test('the broker makes its own peer again when its session ends, so its calls never hang', async (t) => {
  const { broker, url } = await startBroker(t);
  const b = await Peer.named(url, 'b');
  answering(b, (message) => message);
  t.same(await broker.request('b', 1), { from: 'b', message: 1 });
  // End its session the way a fault would: the broker closes the connection that holds its name.
  const entry = broker.names.entry('broker');
  t.equal(entry?.shared, false, 'the broker peer holds its name');
  if (entry?.shared === false) entry.holder.close(1011, 'a fault');
  const again = await Promise.race([
    broker.request('b', 2),
    new Promise((resolve) => setTimeout(() => resolve('hung'), 5000)),
  ]);
  t.same(again, { from: 'b', message: 2 });
  await b.close();
});
