/**
 * The embedding process as a peer: broker.peer(), broker.send, broker.request, broker.publish
 * (protocol.md section 4.9).
 */
import t from 'tap';
import { PeerError } from '../../lib/broker/index.js';
import { drained, NOTHING_HELD, startBroker } from '../fixtures/broker.js';
import { Peer, type Frame } from '../fixtures/peer.js';

const isMessage = (f: Frame) => f.action === 'message';

t.test('the broker requests, sends and publishes as its own named peer [SB-4.9-1]', async (t) => {
  const { broker, url } = await startBroker(t);
  const calc = await Peer.named(url, 'calc');
  calc.send({ action: 'subscribe', topic: 'news' });
  await calc.next((f) => f.action === 'subscribed');
  calc.ws.on('message', (data) => {
    const f = JSON.parse(data.toString());
    if (f.action === 'message' && f.ack) calc.send({ action: 'answer', ack: f.ack, message: (f.message as number[]).reduce((a, b) => a + b) });
  });
  t.same(await broker.request('calc', [1, 2, 3]), { from: 'calc', message: 6 });
  t.same(await broker.send(['calc', 'nobody'], 'hello'), { delivered: ['calc'], unknown: ['nobody'], queued: [] });
  t.match(await calc.next((f) => f.action === 'message' && f.message === 'hello'), { from: 'broker' });
  t.equal(await broker.publish('news.uk', 'headline'), 1);
  t.match(await calc.next((f) => f.action === 'message' && f.topic === 'news.uk'), { from: 'broker', context: 'news' });
  const failure = await broker.request('nobody', 1).catch((error: unknown) => error);
  t.ok(failure instanceof PeerError);
  t.equal((failure as PeerError).code, 'no_responders');
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
