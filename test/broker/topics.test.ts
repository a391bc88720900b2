/**
 * Topics, publish, broadcast and events (protocol.md sections 3, 4.6, 4.7, 4.8).
 */
import t from 'tap';
import { drained, NOTHING_HELD, startBroker } from '../fixtures/broker.js';
import { Peer, type Frame } from '../fixtures/peer.js';

const isMessage = (f: Frame) => f.action === 'message';

async function subscriber(url: string, name: string, ...topics: string[]): Promise<Peer> {
  const peer = await Peer.named(url, name);
  for (const topic of topics) {
    peer.send({ action: 'subscribe', topic });
    await peer.next((f) => f.action === 'subscribed' && f.topic === topic);
  }
  return peer;
}

t.test('subscribe and unsubscribe are answered and idempotent; a nameless subscribe is refused [SB-4.6-1]', async (t) => {
  const { broker, url } = await startBroker(t);
  const a = await Peer.named(url, 'a');
  a.send({ action: 'subscribe', topic: 'news' });
  t.same(await a.next(), { action: 'subscribed', topic: 'news' });
  a.send({ action: 'subscribe', topic: 'news' });
  t.same(await a.next(), { action: 'subscribed', topic: 'news' });
  t.equal(broker.stats().subscriptions, 1);
  a.send({ action: 'unsubscribe', topic: 'news' });
  t.same(await a.next(), { action: 'unsubscribed', topic: 'news' });
  a.send({ action: 'unsubscribe', topic: 'news' });
  t.same(await a.next(), { action: 'unsubscribed', topic: 'news' });
  t.equal(broker.stats().subscriptions, 0);
  const nameless = await Peer.connect(url);
  nameless.send({ action: 'subscribe', topic: 'news' });
  t.match(await nameless.next(), { code: 'not_registered' });
  await a.close();
  await nameless.close();
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('topics outside the grammar are bad frames [SB-3-4]', async (t) => {
  const { broker, url } = await startBroker(t);
  const a = await Peer.named(url, 'a');
  for (const topic of ['', '.news', 'news.', 'news..uk', 'news.*', 'a b', 'x'.repeat(257), Array(17).fill('s').join('.')]) {
    a.send({ action: 'subscribe', topic });
    t.match(await a.next(), { code: 'bad_frame', path: '/topic' }, JSON.stringify(topic).slice(0, 40));
  }
  a.send({ action: 'subscribe', topic: Array(16).fill('s').join('.') });
  t.match(await a.next(), { action: 'subscribed' }, '16 segments are allowed');
  await a.close();
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('a subscription receives its topic and everything below it, nothing beside it [SB-4.6-2]', async (t) => {
  const { broker, url } = await startBroker(t);
  const sub = await subscriber(url, 'sub', 'news');
  const pub = await Peer.named(url, 'pub');
  for (const topic of ['news', 'news.uk', 'news.uk.london', 'newsroom', 'news2', 'old.news']) {
    pub.send({ action: 'publish', topic, message: topic });
  }
  const got = [];
  for (let i = 0; i < 3; i++) got.push(await sub.next(isMessage));
  t.same(got.map((f) => [f.message, f.topic, f.context]), [
    ['news', 'news', 'news'],
    ['news.uk', 'news.uk', 'news'],
    ['news.uk.london', 'news.uk.london', 'news'],
  ]);
  t.same(await sub.quiet(50), []);
  await sub.close();
  await pub.close();
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('one delivery per publish per subscriber, with the first topic and most specific context [SB-4.7-2]', async (t) => {
  const { broker, url } = await startBroker(t);
  const sub = await subscriber(url, 'sub', 'news', 'news.uk', 'sport');
  const pub = await Peer.named(url, 'pub');
  pub.send({ action: 'publish', topic: ['news.uk.london', 'sport', 'news'], message: 'm', event: 'breaking' });
  t.same(await sub.next(isMessage), {
    action: 'message', message: 'm', from: 'pub', topic: 'news.uk.london', context: 'news.uk', event: 'breaking',
  });
  t.same(await sub.quiet(50), [], 'once, although three subscriptions match');
  await sub.close();
  await pub.close();
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('publish is acknowledged with its receiver count; a nameless publish is refused [SB-4.7-1]', async (t) => {
  const { broker, url } = await startBroker(t);
  const s1 = await subscriber(url, 's1', 'a');
  const s2 = await subscriber(url, 's2', 'a.b');
  const pub = await subscriber(url, 'pub', 'a');
  pub.send({ action: 'publish', topic: 'a.b', message: 1, ref: 'p1' });
  t.same(await pub.next(), { action: 'published', receivers: 3, ref: 'p1' });
  t.match(await pub.next(isMessage), { message: 1 }, 'a subscribed publisher gets its own publish');
  await Promise.all([s1.next(isMessage), s2.next(isMessage)]);
  pub.send({ action: 'publish', topic: 'zzz', message: 1 });
  t.same(await pub.next(), { action: 'published', receivers: 0 });
  const nameless = await Peer.connect(url);
  nameless.send({ action: 'publish', topic: 'a', message: 1, ref: 'x' });
  t.match(await nameless.next(), { code: 'not_registered', ref: 'x' });
  for (const p of [s1, s2, pub, nameless]) await p.close();
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('a publish with ack is a request to the subscribers; none means no_responders [SB-4.7-3]', async (t) => {
  const { broker, url } = await startBroker(t);
  const s1 = await subscriber(url, 's1', 'jobs');
  const s2 = await subscriber(url, 's2', 'jobs');
  const pub = await Peer.named(url, 'pub');
  pub.send({ action: 'publish', topic: 'jobs.render', message: 'frame 7', ack: 'q1' });
  t.same(await pub.next(), { action: 'published', receivers: 2, ack: 'q1' });
  const [m1, m2] = await Promise.all([s1.next(isMessage), s2.next(isMessage)]);
  s2.send({ action: 'answer', ack: m2.ack as string, message: 'done by s2' });
  t.same(await pub.next(), { action: 'answer', ack: 'q1', from: 's2', message: 'done by s2' });
  t.match(await s1.next(), { action: 'cancel', ack: m1.ack, reason: 'answered' });
  pub.send({ action: 'publish', topic: 'nobody.listens', message: 1, ack: 'q2' });
  t.same(await pub.next(), { action: 'published', receivers: 0, ack: 'q2' });
  t.match(await pub.next(), { action: 'error', code: 'no_responders', ack: 'q2' });
  for (const p of [s1, s2, pub]) await p.close();
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('subscriptions are capped per connection [SB-4.6-3]', async (t) => {
  const { broker, url } = await startBroker(t, { limits: { maxSubscriptionsPerConnection: 2 } });
  const a = await subscriber(url, 'a', 't1', 't2');
  a.send({ action: 'subscribe', topic: 't3' });
  t.match(await a.next(), { code: 'limit_exceeded', limit: 'maxSubscriptionsPerConnection', id: 't3' });
  a.send({ action: 'subscribe', topic: 't1' });
  t.same(await a.next(), { action: 'subscribed', topic: 't1' }, 'an existing subscription is still answered');
  await a.close();
  t.same(await drained(broker), NOTHING_HELD);
  t.equal(broker.stats().subscriptions, 0, 'subscriptions end with the connection');
});

t.test('broadcast reaches every other named connection once, and is acknowledged [SB-4.8-1]', async (t) => {
  const { broker, url } = await startBroker(t);
  const a = await Peer.named(url, 'a');
  const b = await Peer.named(url, 'b');
  b.send({ action: 'register', id: 'b2' });
  await b.next((f) => f.id === 'b2');
  const legacy = await Peer.named(url, 'legacy', { extended: false });
  const nameless = await Peer.connect(url);
  a.send({ action: 'broadcast', message: 'hello all', event: 'notice', ref: 'b1' });
  t.same(await a.next(), { action: 'published', receivers: 2, ref: 'b1' });
  t.same(await b.next(isMessage), { action: 'message', message: 'hello all', from: 'a', event: 'notice' });
  t.match(await legacy.next(isMessage), { message: 'hello all' });
  t.same(await b.quiet(30), []);
  t.same(await nameless.quiet(30), []);
  t.same(await a.quiet(30), [], 'not to the sender');
  for (const p of [a, b, legacy, nameless]) await p.close();
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('a subscriber that holds no name is not reached, and is reached again once it registers one [SB-4.7-4] [SB-5.3-1]', async (t) => {
  const { broker, url } = await startBroker(t);
  const pub = await Peer.named(url, 'pub');
  const sub = await Peer.named(url, 'sub');
  sub.send({ action: 'subscribe', topic: 'news' });
  await sub.next((f) => f.action === 'subscribed');
  sub.send({ action: 'unregister', id: 'sub' });
  await sub.next((f) => f.action === 'unregistered');
  pub.send({ action: 'publish', topic: 'news', message: 'n1', ack: 'q1', ref: 'p1' });
  t.match(await pub.next((f) => f.action === 'published'), { receivers: 0 });
  t.match(await pub.next((f) => f.action === 'error'), { code: 'no_responders', ack: 'q1' });
  t.same(await sub.quiet(50), [], 'never a message from anyone but a name');
  sub.send({ action: 'register', id: 'sub2' });
  await sub.next((f) => f.action === 'registered');
  pub.send({ action: 'publish', topic: 'news.uk', message: 'n2', ref: 'p2' });
  t.match(await pub.next((f) => f.action === 'published'), { receivers: 1, ref: 'p2' });
  t.match(await sub.next((f) => f.action === 'message'), { message: 'n2', from: 'pub', topic: 'news.uk', context: 'news' });
  for (const p of [pub, sub]) await p.close();
  t.same(await drained(broker), NOTHING_HELD);
});
