/**
 * The client's wildcard subscriptions through a real broker (protocol.md [SB-3-5], [SB-4.6-4],
 * [SB-4.6-5]): `client.subscribe('news.*.sports', handler)`, each published message to the handler of
 * the subscription the broker names as its `context`, the filters made again after a reconnect, and
 * `switchboard subscribe` with a filter (spawned: needs a build, skipped with the reason otherwise).
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { run as subscribe } from '../../lib/cli/subscribe.js';
import { built, CLI } from '../fixtures/broker-process.js';
import { collect, inProcess } from '../fixtures/cli.js';
import { drained, NOTHING_HELD, startBroker } from '../fixtures/broker.js';
import { readyClient, rejection, until, within, WAIT_MS } from '../fixtures/clients.js';

t.test('each published message goes to the handler of its most specific filter, once [SB-4.6-4] [SB-4.6-5] [SB-4.7-2]', async (t) => {
  const { broker, url } = await startBroker(t);
  const sub = await readyClient(t, url, { name: 'sub' });
  const pub = await readyClient(t, url, { name: 'pub' });
  const got: unknown[] = [];
  const handler = (label: string) => (message: unknown, ctx: { topic: string; context: string }) => void got.push([label, message, ctx.topic, ctx.context]);
  await sub.subscribe('news', handler('plain'));
  await sub.subscribe('news.>', handler('rest'));
  const endSports = await sub.subscribe('news.*.sports', handler('sports'));
  t.same(sub.topics, ['news', 'news.>', 'news.*.sports']);
  t.same([...broker.topics.counts()].map(([topic]) => topic), ['news', 'news.>', 'news.*.sports'], 'the broker holds the filters as written');
  t.equal(await pub.publish('news.uk.sports.football', 1), 1, 'one receiver for three matching subscriptions');
  t.equal(await pub.publish('news.uk', 2), 1);
  t.equal(await pub.publish('news', 3), 1);
  t.equal(await pub.publish('newsroom.uk.sports', 4), 0);
  await until(() => got.length === 3, 'three deliveries');
  t.same(got, [
    ['sports', 1, 'news.uk.sports.football', 'news.*.sports'],
    ['rest', 2, 'news.uk', 'news.>'],
    ['plain', 3, 'news', 'news'],
  ]);
  await endSports();
  t.equal(await pub.publish('news.fr.sports', 5), 1);
  await until(() => got.length === 4, 'a fourth delivery');
  t.same(got[3], ['rest', 5, 'news.fr.sports', 'news.>'], 'after its end, the filter no longer takes the message');
  await sub.unsubscribe('news.>');
  t.same(sub.topics, ['news']);
  t.equal(broker.stats().subscriptions, 1);
  await Promise.all([sub.close(), pub.close()]);
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('subscribe refuses what is not a filter; a refused filter rejects with the broker\'s code [SB-3-5] [SB-12-4]', async (t) => {
  const { broker, url } = await startBroker(t, {
    auth: { authorize: (_identity, permission, target) => permission !== 'subscribe' || !target.includes('>'), anonymous: { id: 'guest', permissions: {} } },
  });
  const sub = await readyClient(t, url, { name: 'sub' });
  for (const topic of ['news.>.uk', 'news.*x', '>>', 'news.']) {
    t.equal((await rejection(sub.subscribe(topic, () => {}))).code, 'invalid_argument', topic);
  }
  t.equal((await rejection(sub.unsubscribe('news.>.uk'))).code, 'invalid_argument');
  t.match(await rejection(sub.subscribe('news.>', () => {})), { code: 'forbidden', from: 'news.>' });
  await within(sub.subscribe('*', () => {}), WAIT_MS, 'a one-segment wildcard subscribed');
  t.same(sub.topics, ['*']);
  await sub.close();
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('wildcard subscriptions are made again after a reconnect [SB-4.6-4]', async (t) => {
  const first = await startBroker(t);
  const sub = await readyClient(t, first.url, { name: 'sub', reconnect: { initialDelayMs: 20, factor: 1, jitter: 0 } });
  const got: unknown[] = [];
  await sub.subscribe('jobs.*.urgent', (message, ctx) => void got.push([message, ctx.context]));
  await first.broker.close();
  const second = await startBroker(t, { port: first.port });
  await until(() => second.broker.stats().subscriptions === 1, 'subscribed again on the new broker');
  const pub = await readyClient(t, second.url, { name: 'pub' });
  t.equal(await pub.publish('jobs.render.urgent', 'now'), 1);
  await until(() => got.length === 1, 'a delivery after the reconnect');
  t.same(got, [['now', 'jobs.*.urgent']]);
  await Promise.all([sub.close(), pub.close()]);
  t.same(await drained(second.broker), NOTHING_HELD);
});

t.test('switchboard subscribe takes a filter, and refuses what is not one [SB-3-5]', { skip: built() }, async (t) => {
  t.equal((await inProcess(subscribe, ['news.>.uk'])).code, 2, 'not a filter: a usage error');
  const { url } = await startBroker(t);
  const child = spawn(process.execPath, [CLI, 'subscribe', 'news.*.sports', '--url', url, '--name', 'fan'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  const done = collect(child);
  t.teardown(async () => {
    child.kill('SIGKILL');
    await done;
  });
  const ready = new Promise<void>((resolve) => child.stderr!.on('data', (chunk: Buffer) => chunk.toString().includes('subscribed to news.*.sports') && resolve()));
  await within(ready, 10_000, 'switchboard subscribe news.*.sports ready');
  const pub = await readyClient(t, url, { name: 'pub' });
  t.equal(await pub.publish(['news.uk', 'news.uk.sports'], 1), 1);
  await until(() => stdout.includes('\n'), 'a line printed', 5000);
  t.same(JSON.parse(stdout), { topic: 'news.uk.sports', context: 'news.*.sports', from: 'pub', message: 1 });
  child.kill('SIGTERM');
  t.equal((await within(done, 5000, 'subscribe exits')).code, 0);
  await pub.close();
});
