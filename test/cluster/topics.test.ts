/**
 * Topics and broadcast in cluster mode (protocol.md section 16, [SB-16-5]): a publish reaches the
 * subscribers of every node, each once, also as a request; subscriptions made before a node started
 * are read from Redis; a broadcast reaches every node's named connections. Real redis-server, broker
 * nodes in this process.
 */
import t, { type Test } from 'tap';
import { Broker } from '../../lib/broker/index.js';
import { lastPrefix, startCluster } from '../fixtures/cluster.js';
import { Peer, type Frame } from '../fixtures/peer.js';

async function named(t: Test, url: string, name: string, extended = true): Promise<Peer> {
  const peer = await Peer.named(url, name, { extended });
  t.teardown(() => peer.close());
  return peer;
}

async function subscribe(peer: Peer, topic: string, wildcards = false): Promise<void> {
  peer.send({ action: 'subscribe', topic, ...(wildcards ? { wildcards } : {}) });
  await peer.next((f) => f.action === 'subscribed' && f.topic === topic);
}

const message = (f: Frame) => f.action === 'message';

t.test('a publish reaches subscribers on every node, each once, by its most specific filter [SB-16-5] [SB-4.7-2]', async (t) => {
  const { urls } = await startCluster(t, 3);
  const pub = await named(t, urls[0], 'pub');
  const near = await named(t, urls[0], 'near');
  const far = await named(t, urls[1], 'far');
  const farther = await named(t, urls[2], 'farther');
  await subscribe(near, 'news');
  await subscribe(far, 'news');
  await subscribe(far, 'news.uk');
  await subscribe(farther, 'news.*', true);
  pub.send({ action: 'publish', topic: 'news.uk', message: 'rain', ref: 'p1' });
  t.match(await pub.next((f) => f.action === 'published'), { receivers: 3 });
  t.match(await near.next(message), { from: 'pub', topic: 'news.uk', context: 'news' });
  t.match(await far.next(message), { from: 'pub', topic: 'news.uk', context: 'news.uk' });
  t.match(await farther.next(message), { from: 'pub', topic: 'news.uk', context: 'news.*' });
  t.same((await far.quiet(100)).filter(message), [], 'once each');
});

t.test('publish as a request across nodes: one outcome, and no_responders when nobody subscribes anywhere [SB-16-5] [SB-4.7-3]', async (t) => {
  const { urls } = await startCluster(t, 2);
  const pub = await named(t, urls[0], 'pub');
  const worker = await named(t, urls[1], 'worker');
  await subscribe(worker, 'jobs');
  pub.send({ action: 'publish', topic: 'jobs', message: 'do', ack: 'q1', gather: true });
  const delivered = await worker.next(message);
  worker.send({ action: 'answer', ack: delivered.ack, message: 'done' });
  t.match(await pub.next((f) => f.action === 'gathered'), { ack: 'q1', results: [{ from: 'worker', message: 'done' }] });
  worker.send({ action: 'unsubscribe', topic: 'jobs' });
  await worker.next((f) => f.action === 'unsubscribed');
  pub.send({ action: 'publish', topic: 'jobs', message: 'again', ack: 'q2' });
  t.match(await pub.next((f) => f.action === 'error'), { ack: 'q2', code: 'no_responders' }, 'none after unsubscribed');
  await subscribe(worker, 'jobs');
  await worker.close();
  await new Promise((resolve) => setTimeout(resolve, 100)); // the worker's node handles its close, then tells the others
  pub.send({ action: 'publish', topic: 'jobs', message: 'gone', ack: 'q3' });
  t.match(await pub.next((f) => f.action === 'error'), { ack: 'q3', code: 'no_responders' }, 'a closed subscriber is forgotten everywhere');
});

t.test('a node that starts later reads the subscriptions other nodes hold [SB-16-5]', async (t) => {
  const { urls, redis } = await startCluster(t, 1);
  const worker = await named(t, urls[0], 'worker');
  await subscribe(worker, 'jobs');
  const late = new Broker({ host: '127.0.0.1', port: 0, cluster: { url: redis.url, prefix: lastPrefix() } });
  t.teardown(() => late.close());
  const pub = await named(t, (await late.listen()).url, 'pub');
  pub.send({ action: 'publish', topic: 'jobs', message: 'hello', ref: 'p1' });
  t.match(await pub.next((f) => f.action === 'published'), { receivers: 1 });
  t.match(await worker.next(message), { from: 'pub', message: 'hello' });
});

t.test('a broadcast reaches the named connections of every node, the sender excepted, and published counts them at once [SB-16-5] [SB-4.8-1]', async (t) => {
  const { urls } = await startCluster(t, 3);
  const a = await named(t, urls[0], 'a');
  const b = await named(t, urls[1], 'b');
  const c = await named(t, urls[2], 'c', false);
  const anon = await Peer.connect(urls[2]);
  t.teardown(() => anon.close());
  // No wait for the nodes' beats: each node answers the broadcast with the count it reached.
  a.send({ action: 'broadcast', message: 'noon', event: 'notice', ref: 'b1' });
  t.match(await a.next((f) => f.action === 'published'), { receivers: 2 });
  t.match(await b.next(message), { from: 'a', message: 'noon', event: 'notice' });
  t.match(await c.next(message), { from: 'a', message: 'noon' });
  t.same(await anon.quiet(100), [], 'a connection without a name gets nothing');
  t.same((await a.quiet(50)).filter(message), [], 'nor the sender');
});

t.test('a traced broadcast reaches extended connections on another node with its trace, legacy ones without [SB-16-5] [SB-15-2]', async (t) => {
  const { urls } = await startCluster(t, 2);
  const trace = { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' };
  const web = await named(t, urls[0], 'web');
  const eu = await named(t, urls[1], 'eu');
  const us = await named(t, urls[1], 'us');
  const old = await named(t, urls[1], 'old', false);
  web.send({ action: 'broadcast', message: 'hi', trace, ref: 'b1' });
  t.match(await web.next((f) => f.action === 'published'), { receivers: 3 });
  t.same(await eu.next(message), { action: 'message', message: 'hi', from: 'web', trace });
  t.same(await us.next(message), { action: 'message', message: 'hi', from: 'web', trace });
  t.same(await old.next(message), { action: 'message', message: 'hi', from: 'web' });
});
