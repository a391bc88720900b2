/**
 * Wildcard subscriptions (protocol.md [SB-3-5], [SB-4.6-4], [SB-4.6-5], [SB-12-4]): `*` for one segment,
 * a last `>` for the rest, the prefix rule kept; one delivery per publish, by the most specific filter;
 * permissions judged on the filter as a string; the second edition's behaviour kept without the opt-in,
 * and for legacy clients.
 */
import t from 'tap';
import { policyFromConfig } from '../../lib/broker/index.js';
import { TopicTable } from '../../lib/broker/topics.js';
import { drained, NOTHING_HELD, startBroker } from '../fixtures/broker.js';
import { Peer, type Frame } from '../fixtures/peer.js';

const isMessage = (f: Frame) => f.action === 'message';

function subscribeFrame(topic: string): Frame {
  return /[*>]/.test(topic) ? { action: 'subscribe', topic, wildcards: true } : { action: 'subscribe', topic };
}

async function subscriber(url: string, name: string, ...filters: string[]): Promise<Peer> {
  const peer = await Peer.named(url, name);
  for (const topic of filters) {
    peer.send(subscribeFrame(topic));
    await peer.next((f) => f.action === 'subscribed' && f.topic === topic);
  }
  return peer;
}

/** Publish each topic with its own name as the message; resolves with the topics `sub` received, in order. */
async function deliveries(pub: Peer, sub: Peer, topics: string[]): Promise<unknown[]> {
  let expected = 0;
  for (const topic of topics) {
    pub.send({ action: 'publish', topic, message: topic });
    expected += ((await pub.next((f) => f.action === 'published')).receivers as number) > 0 ? 1 : 0;
  }
  pub.send({ action: 'publish', topic: 'zz.end', message: 'end' });
  await pub.next((f) => f.action === 'published');
  const got: unknown[] = [];
  for (let i = 0; i < expected; i++) got.push((await sub.next(isMessage)).message);
  return got;
}

t.test('a * segment matches exactly one segment, and the prefix rule gives everything below [SB-4.6-4]', async (t) => {
  const { broker, url } = await startBroker(t);
  const sub = await subscriber(url, 'sub', 'news.*.sports');
  const pub = await Peer.named(url, 'pub');
  const got = await deliveries(pub, sub, [
    'news.uk.sports', 'news.uk.sports.football', 'news.fr.sports', 'news.sports', 'news.uk', 'news.uk.weather', 'newsroom.uk.sports', 'news',
  ]);
  t.same(got, ['news.uk.sports', 'news.uk.sports.football', 'news.fr.sports']);
  t.same(await sub.quiet(50), [], 'nothing else');
  await sub.close();
  await pub.close();
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('a last > matches one or more segments, never the topic above it [SB-4.6-4]', async (t) => {
  const { broker, url } = await startBroker(t);
  const sub = await subscriber(url, 'sub', 'news.>');
  const pub = await Peer.named(url, 'pub');
  const got = await deliveries(pub, sub, ['news', 'news.uk', 'news.uk.london', 'newsroom', 'newsroom.uk', 'old.news.uk']);
  t.same(got, ['news.uk', 'news.uk.london']);
  const m = await Peer.named(url, 'm');
  m.send(subscribeFrame('>'));
  t.same(await m.next(), { action: 'subscribed', topic: '>' }, '> alone is a filter: every topic');
  m.send({ ...subscribeFrame('*'), ref: 's2' });
  t.same(await m.next(), { action: 'subscribed', topic: '*', ref: 's2' }, '* alone too');
  pub.send({ action: 'publish', topic: 'anything.at.all', message: 1 });
  t.match(await m.next(isMessage), { topic: 'anything.at.all', context: '*' }, 'once, by the more specific: * before >');
  t.same(await m.quiet(50), []);
  for (const p of [sub, pub, m]) await p.close();
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('one delivery when plain and wildcard subscriptions match, with the most specific as context [SB-4.7-2] [SB-4.6-5]', async (t) => {
  const { broker, url } = await startBroker(t);
  const sub = await subscriber(url, 'sub', 'news', 'news.>', 'news.*', 'news.uk', 'news.*.sports', 'news.uk.*');
  const pub = await Peer.named(url, 'pub');
  const cases: Array<[string, string]> = [
    ['news.uk.sports', 'news.uk.*'], // 3 segments; at the first difference a literal before *
    ['news.fr.sports.rugby', 'news.*.sports'],
    ['news.uk', 'news.uk'], // a literal before * before >
    ['news.fr', 'news.*'],
    ['news.fr.weather', 'news.*'],
    ['news', 'news'],
  ];
  for (const [topic, context] of cases) {
    pub.send({ action: 'publish', topic, message: topic });
    t.same(await pub.next(), { action: 'published', receivers: 1 }, topic);
    t.same(await sub.next(isMessage), { action: 'message', message: topic, from: 'pub', topic, context }, `${topic} by ${context}`);
  }
  pub.send({ action: 'publish', topic: ['zz', 'news.uk.sports', 'news'], message: 'many' });
  t.match(await sub.next(isMessage), { topic: 'news.uk.sports', context: 'news.uk.*' }, 'the first published topic that matched');
  t.same(await sub.quiet(50), [], 'once, although six subscriptions match');
  await sub.close();
  await pub.close();
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('gather lists subscribers by the specificity of their filters, then by subscription order [SB-6.2-1] [SB-4.6-5]', async (t) => {
  const { broker, url } = await startBroker(t);
  // Subscribed from least to most specific, so that the order cannot come from subscription order.
  const filters = ['news', 'news.>', 'news.*', 'news.uk', 'news.*.sports', 'news.uk.*'];
  const subs: Peer[] = [];
  for (const [i, filter] of filters.entries()) subs.push(await subscriber(url, `s${i}`, filter));
  const late = await subscriber(url, 'late', 'news.uk.*');
  const pub = await Peer.named(url, 'pub');
  pub.send({ action: 'publish', topic: 'news.uk.sports', message: 'q', ack: 'g1', gather: true });
  t.same(await pub.next(), { action: 'published', receivers: 7, ack: 'g1' });
  for (const peer of [...subs, late]) {
    const m = await peer.next(isMessage);
    peer.send({ action: 'answer', ack: m.ack as string, message: m.context });
  }
  const gathered = await pub.next((f) => f.action === 'gathered');
  t.same(
    (gathered.results as Frame[]).map((r) => [r.from, r.message]),
    [['s5', 'news.uk.*'], ['late', 'news.uk.*'], ['s4', 'news.*.sports'], ['s3', 'news.uk'], ['s2', 'news.*'], ['s1', 'news.>'], ['s0', 'news']],
  );
  for (const p of [...subs, late, pub]) await p.close();
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('unsubscribe ends a wildcard subscription, and only that one [SB-4.6-1] [SB-4.6-4]', async (t) => {
  const { broker, url } = await startBroker(t);
  const a = await subscriber(url, 'a', 'news.*', 'news.>');
  const b = await subscriber(url, 'b', 'news.*');
  const pub = await Peer.named(url, 'pub');
  a.send({ action: 'unsubscribe', topic: 'news.*', wildcards: true, ref: 'u1' });
  t.same(await a.next(), { action: 'unsubscribed', topic: 'news.*', ref: 'u1' });
  pub.send({ action: 'publish', topic: 'news.uk', message: 1 });
  t.same(await pub.next(), { action: 'published', receivers: 2 });
  t.match(await a.next(isMessage), { context: 'news.>' }, 'news.> shares its place in the index with news.*, and stays');
  t.match(await b.next(isMessage), { context: 'news.*' }, "another connection's news.* stays");
  a.send({ action: 'unsubscribe', topic: 'news.>', wildcards: true });
  t.same(await a.next(), { action: 'unsubscribed', topic: 'news.>' });
  b.send({ action: 'unsubscribe', topic: 'news.*', wildcards: true });
  t.same(await b.next(), { action: 'unsubscribed', topic: 'news.*' });
  t.equal(broker.stats().subscriptions, 0);
  pub.send({ action: 'publish', topic: 'news.uk', message: 2 });
  t.same(await pub.next(), { action: 'published', receivers: 0 });
  t.same(await a.quiet(50), []);
  t.same(await b.quiet(0), []);
  for (const p of [a, b, pub]) await p.close();
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('filters outside the grammar are bad frames naming /topic; without "wildcards": true a filter must be a topic [SB-3-5] [SB-4.6-4]', async (t) => {
  const { broker, url } = await startBroker(t);
  const a = await Peer.named(url, 'a');
  const bad = ['news.>.uk', 'news.*x', 'news.x*', 'news.>>', 'news.**', '>.news', 'news.', '.*', 'news..*', 'news.#', Array(17).fill('*').join('.')];
  for (const topic of bad) {
    a.send({ action: 'subscribe', topic, wildcards: true, ref: 'r' });
    t.match(await a.next(), { action: 'error', code: 'bad_frame', path: '/topic', ref: 'r' }, topic);
  }
  for (const topic of ['news.*', 'news.>', '*']) {
    a.send({ action: 'subscribe', topic, ref: 'plain' });
    t.match(await a.next(), { action: 'error', code: 'bad_frame', path: '/topic', ref: 'plain' }, `${topic} without the opt-in`);
    a.send({ action: 'unsubscribe', topic, wildcards: false });
    t.match(await a.next(), { action: 'error', code: 'bad_frame', path: '/topic' }, `${topic} with wildcards: false`);
  }
  a.send({ action: 'subscribe', topic: 'news', wildcards: 'yes' });
  t.match(await a.next(), { action: 'error', code: 'bad_frame', path: '/wildcards' });
  a.send({ action: 'subscribe', topic: 'news.uk', wildcards: true });
  t.same(await a.next(), { action: 'subscribed', topic: 'news.uk' }, 'a topic with the opt-in is a topic');
  a.send(subscribeFrame(Array(16).fill('*').join('.')));
  t.match(await a.next(), { action: 'subscribed' }, '16 segments are allowed');
  t.equal(broker.stats().subscriptions, 2);
  await a.close();
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('a legacy client is unaffected: its filters are dropped as before, its plain subscriptions work beside wildcards [SB-2-3] [SB-4.6-4]', async (t) => {
  const { broker, url } = await startBroker(t);
  const old = await Peer.named(url, 'old', { extended: false });
  old.send({ action: 'subscribe', topic: 'news.*', wildcards: true });
  old.send({ action: 'subscribe', topic: 'news.>' });
  old.send({ action: 'subscribe', topic: 'news' });
  old.send({ action: 'register', id: 'old2' }); // answered after the subscribes: they are handled in order [SB-2-8]
  await old.next((f) => f.action === 'registered' && f.id === 'old2');
  const wild = await subscriber(url, 'wild', 'news.*');
  const pub = await Peer.named(url, 'pub');
  pub.send({ action: 'publish', topic: 'news.uk', message: 1 });
  t.same(await pub.next(), { action: 'published', receivers: 2 });
  t.same(await old.next(isMessage), { action: 'message', message: 1, from: 'pub', topic: 'news.uk', context: 'news' });
  t.match(await wild.next(isMessage), { context: 'news.*' });
  t.same(await old.quiet(50), [], 'no error, no subscribed, no second message');
  t.equal(broker.stats().subscriptions, 2);
  for (const p of [old, wild, pub]) await p.close();
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('a subscribe pattern allows a filter it matches as a string, its * covering the filter\'s * and > [SB-12-4]', async (t) => {
  const config = {
    identities: [
      { id: 'reader', tokenSha256: 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad', permissions: { register: ['*'], subscribe: ['news.*', 'weather.uk', 'sport.>'] } },
    ],
  };
  const { broker, url } = await startBroker(t, { auth: policyFromConfig(config) });
  const reader = await Peer.connect(url);
  reader.send({ action: 'auth', token: 'abc' });
  await reader.next((f) => f.action === 'authenticated');
  reader.send({ action: 'register', id: 'reader' });
  await reader.next((f) => f.action === 'registered');
  for (const topic of ['news.*.sports', 'news.>', 'news.*', 'news.uk.*.x']) {
    reader.send(subscribeFrame(topic));
    t.same(await reader.next(), { action: 'subscribed', topic }, `news.* allows ${topic}`);
  }
  for (const topic of ['weather.*', 'weather.>', '*', '>', 'news', '*.uk', 'sport.>', 'sport.*']) {
    reader.send({ ...subscribeFrame(topic), ref: 'f' });
    t.match(await reader.next(), { action: 'error', code: 'forbidden', id: topic, ref: 'f' }, `${topic} is refused`);
  }
  t.equal(broker.stats().subscriptions, 4, 'nothing subscribed by a refusal');
  await reader.close();
  t.same(await drained(broker), NOTHING_HELD);
});

// A reference matcher written from the words of [SB-4.6-4], to judge the index on many filters and topics.
function matchesByRule(filter: string, topic: string): boolean {
  const f = filter.split('.');
  const s = topic.split('.');
  if (s.length < f.length) return false;
  return f.every((segment, i) => segment === '*' || segment === '>' || segment === s[i]);
}

t.test('the index finds exactly the filters the rule matches, and holds nothing once they are gone [SB-4.6-4] [SB-4.6-5]', async (t) => {
  const segments = ['a', 'b', 'c', '*'];
  let seed = 7;
  // A small deterministic generator; its high bits, since the low bits of this one repeat quickly.
  const random = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), Math.floor(seed / 2 ** 16) % n);
  const filters = new Set<string>();
  for (let tries = 0; filters.size < 200 && tries < 10_000; tries++) {
    const depth = 1 + random(4);
    const parts = Array.from({ length: depth }, () => segments[random(4)]);
    if (random(3) === 0) parts[depth - 1] = '>';
    filters.add(parts.join('.'));
  }
  t.equal(filters.size, 200, 'filters to index');
  const table = new TopicTable<string>();
  for (const filter of filters) table.subscribe(`peer of ${filter}`, filter);
  let compared = 0;
  for (let i = 0; i < 200; i++) {
    const topic = Array.from({ length: 1 + random(5) }, () => segments[random(3)]).join('.');
    const want = [...filters].filter((f) => matchesByRule(f, topic)).map((f) => `peer of ${f}`).sort();
    const got = [...table.match([topic]).keys()];
    t.same([...got].sort(), want, topic);
    for (const [peer, match] of table.match([topic])) {
      t.equal(peer, `peer of ${match.context}`);
    }
    // Most specific first: more segments, then a literal before * before > at the first difference.
    const lengths = got.map((p) => p.slice('peer of '.length).split('.').length);
    t.same(lengths, [...lengths].sort((x, y) => y - x), `${topic}: longer filters first`);
    compared += want.length;
  }
  t.ok(compared > 200, `${compared} matches compared`);
  for (const filter of filters) table.unsubscribe(`peer of ${filter}`, filter);
  t.equal(table.size, 0);
  t.same(table.match(['a.b.c']), new Map(), 'no filter left matches');
});
