/**
 * The client's routing API through a real broker and real sockets: topics (subscribe, publish, requests
 * to subscribers), gather, responder pools, cancellation, durable names and their mailboxes, named
 * events and broadcast (protocol.md 4.6 to 4.8, 6.1 to 6.4). Connections are cut with a TCP link the test
 * controls, so the broker lives on (and keeps its mailboxes) while a client reconnects.
 */
import t, { type Test } from 'tap';
import { connect, createServer, type Socket } from 'node:net';
import type { Client, MessageContext, SwitchboardError } from '../../lib/client/node.js';
import { drained, NOTHING_HELD, startBroker } from '../fixtures/broker.js';
import { client, fakeBroker, nextEvent, readyClient, rejection, until, within, WAIT_MS } from '../fixtures/clients.js';

const fast = { initialDelayMs: 20, factor: 1, jitter: 0 };
const hang = () => new Promise<never>(() => {});

async function closeAll(...clients: Client[]): Promise<void> {
  await Promise.all(clients.map((c) => c.close()));
}

interface Link {
  url: string;
  /** Drop every connection through the link; new ones are let through. */
  cut(): void;
  /** Drop every connection, and refuse new ones until `resume()`. */
  pause(): void;
  resume(): void;
}

/** A TCP link to the broker on `port` that the test can cut: the broker sees its client disconnect. */
async function link(t: Test, port: number): Promise<Link> {
  let open = true;
  const sockets = new Set<Socket>();
  const server = createServer((inbound) => {
    if (!open) return void inbound.destroy();
    const outbound = connect(port, '127.0.0.1');
    for (const [from, to] of [[inbound, outbound], [outbound, inbound]] as const) {
      sockets.add(from);
      from.on('error', () => to.destroy());
      from.on('close', () => {
        sockets.delete(from);
        to.destroy();
      });
      from.pipe(to);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const cut = () => {
    for (const socket of sockets) socket.destroy();
  };
  t.teardown(() => {
    cut();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const { port: linkPort } = server.address() as { port: number };
  return {
    url: `ws://127.0.0.1:${linkPort}/`,
    cut,
    pause() {
      open = false;
      cut();
    },
    resume() {
      open = true;
    },
  };
}

t.test('a subscription gets its topic and everything below it, nothing beside it, with topic and context [SB-4.6-2]', async (t) => {
  const { broker, url } = await startBroker(t);
  const sub = await readyClient(t, url, { name: 'sub' });
  const pub = await readyClient(t, url, { name: 'pub' });
  const got: unknown[] = [];
  await sub.subscribe('news', (message, ctx) => void got.push([message, ctx.topic, ctx.context, ctx.from]));
  t.same(sub.topics, ['news']);
  const counts = [];
  for (const topic of ['news', 'news.uk', 'news.uk.london', 'newsroom', 'news2', 'old.news']) counts.push(await pub.publish(topic, topic));
  t.same(counts, [1, 1, 1, 0, 0, 0], 'publish resolves with the receiver count [SB-4.7-1]');
  t.equal(await pub.publish('news.end', 'end', { report: false }), undefined, 'without report: once written');
  await until(() => got.length === 4, 'four deliveries');
  t.same(got, [
    ['news', 'news', 'news', 'pub'],
    ['news.uk', 'news.uk', 'news', 'pub'],
    ['news.uk.london', 'news.uk.london', 'news', 'pub'],
    ['end', 'news.end', 'news', 'pub'],
  ]);
  await closeAll(sub, pub);
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('one delivery per publish, to the most specific matching subscription; unsubscribe ends one [SB-4.7-2] [SB-4.6-1]', async (t) => {
  const { broker, url } = await startBroker(t);
  const sub = await readyClient(t, url, { name: 'sub' });
  const pub = await readyClient(t, url, { name: 'pub' });
  const got: unknown[] = [];
  await sub.subscribe('news', (message, ctx) => void got.push(['news', message, ctx.topic, ctx.event]));
  const endUk = await sub.subscribe('news.uk', (message, ctx) => void got.push(['news.uk', message, ctx.topic, ctx.event]));
  t.equal(await pub.publish(['news.uk.london', 'news', 'news.uk'], 1, { event: 'breaking' }), 1, 'one receiver for three matching topics');
  t.equal(await pub.publish('news.fr', 2), 1);
  await endUk();
  t.same(sub.topics, ['news']);
  t.equal(broker.stats().subscriptions, 1);
  t.equal(await pub.publish('news.uk.leeds', 3), 1);
  await until(() => got.length === 3, 'three deliveries');
  t.same(got, [
    ['news.uk', 1, 'news.uk.london', 'breaking'],
    ['news', 2, 'news.fr', undefined],
    ['news', 3, 'news.uk.leeds', undefined],
  ]);
  await sub.unsubscribe('news');
  t.equal(await pub.publish('news', 4), 0);
  await closeAll(sub, pub);
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('subscribe checks its topic, and rejects with the code of a refusal [SB-3-4] [SB-4.6-3]', async (t) => {
  const { broker, url } = await startBroker(t, { limits: { maxSubscriptionsPerConnection: 1 } });
  const sub = await readyClient(t, url, { name: 'sub' });
  for (const topic of ['news.', '', 'a b', 'news.>.uk']) {
    t.equal((await rejection(sub.subscribe(topic, () => {}))).code, 'invalid_argument', JSON.stringify(topic));
  }
  await sub.subscribe('a', () => {});
  const refused = await rejection(sub.subscribe('b', () => {}));
  t.match(refused, { code: 'limit_exceeded', limit: 'maxSubscriptionsPerConnection', from: 'b' });
  t.match(refused.stack, /routing\.test\.ts/, 'the stack points at the call');
  t.same(sub.topics, ['a'], 'a refused subscription is not kept');
  await closeAll(sub);
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('names and subscriptions are made again after a reconnect', async (t) => {
  const { broker, url, port } = await startBroker(t);
  const cable = await link(t, port);
  const sub = await readyClient(t, cable.url, { name: 'sub', reconnect: fast });
  const pub = await readyClient(t, url, { name: 'pub' });
  const got: unknown[] = [];
  await sub.subscribe('jobs', (message) => void got.push(message));
  const down = nextEvent(sub, 'reconnecting');
  cable.cut();
  await down;
  await within(sub.ready, WAIT_MS, 'ready again');
  t.equal(broker.stats().subscriptions, 1);
  t.equal(await pub.publish('jobs.7', 'after'), 1, 'the subscription is back');
  await until(() => got.length === 1, 'delivery after the reconnect');
  t.same(got, ['after']);
  await closeAll(sub, pub);
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('subscribe and publish made before the client is ready wait for it', async (t) => {
  const { broker, url } = await startBroker(t);
  const sub = client(t, url, { name: 'sub' });
  const got: unknown[] = [];
  const subscribed = sub.subscribe('early', (message) => void got.push(message));
  t.equal(sub.status, 'connecting');
  await within(subscribed, WAIT_MS, 'subscribed');
  t.equal(broker.stats().subscriptions, 1);
  const pub = client(t, url, { name: 'pub' });
  const counted = pub.publish('early.bird', 'worm');
  t.same(pub.pending, { queued: 1, inFlight: 0 }, 'queued until ready');
  t.equal(await within(counted, WAIT_MS, 'published'), 1);
  await until(() => got.length === 1, 'delivered');
  await closeAll(sub, pub);
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('a subscription the broker refuses after a reconnect is dropped and reported as an error event', async (t) => {
  let first: unknown;
  const fake = await fakeBroker(t, {
    onFrame(ws, frame) {
      if (frame.action !== 'subscribe') return;
      first ??= ws;
      const refusal = { action: 'error', code: 'limit_exceeded', message: 'too many', id: frame.topic, limit: 'maxSubscriptionsPerConnection' };
      ws.send(JSON.stringify(ws === first ? { action: 'subscribed', topic: frame.topic } : refusal));
    },
  });
  const sub = await readyClient(t, fake.url, { name: 'sub', reconnect: fast });
  await sub.subscribe('jobs', () => {});
  const reported = nextEvent<[SwitchboardError]>(sub, 'error');
  for (const ws of fake.sockets) ws.terminate();
  const [error] = await reported;
  t.match(error, { code: 'limit_exceeded', from: 'jobs', limit: 'maxSubscriptionsPerConnection' });
  await within(sub.ready, WAIT_MS, 'ready without it');
  t.same(sub.topics, [], 'dropped: retrying cannot fix it');
});

t.test('a request to a topic: the first answer wins, the others are told to stop; nobody is no_responders [SB-4.7-3] [SB-6.1-2]', async (t) => {
  const { broker, url } = await startBroker(t);
  const w1 = await readyClient(t, url, { name: 'w1' });
  const w2 = await readyClient(t, url, { name: 'w2' });
  const pub = await readyClient(t, url, { name: 'pub' });
  let loser: MessageContext | undefined;
  await w1.subscribe('jobs', (message) => `w1 did ${message}`);
  await w2.subscribe('jobs', (_message, ctx) => {
    loser = ctx;
    return new Promise((resolve) => ctx.signal.addEventListener('abort', () => resolve('too late')));
  });
  t.same(await pub.request({ topic: 'jobs.render' }, 'frame 7'), { from: 'w1', message: 'w1 did frame 7' });
  await until(() => loser?.signal.aborted === true, "the loser's signal aborts");
  t.equal(loser?.signal.reason, 'answered');
  t.equal(loser?.topic, 'jobs.render');
  const none = await rejection(pub.request({ topic: 'nobody.listens' }, 1, { timeout: 10_000 }));
  t.equal(none.code, 'no_responders');
  t.same(none.dest, 'nobody.listens');
  t.equal((await rejection(pub.request({ topic: 'jobs' }, 1, { retry: true }))).code, 'invalid_argument', 'retry is for names');
  await closeAll(w1, w2, pub);
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('gather ends as soon as every destination has answered, one result each in the order of dest [SB-6.2-1]', async (t) => {
  const { broker, url } = await startBroker(t);
  const a = await readyClient(t, url, { name: 'a' });
  const eu = await readyClient(t, url, { name: 'eu' });
  const us = await readyClient(t, url, { name: 'us' });
  const ap = await readyClient(t, url, { name: 'ap' });
  eu.handle(() => 12);
  us.handle(() => {
    throw Object.assign(new Error('later'), { code: 'busy' });
  });
  ap.handle(() => new Promise((resolve) => setTimeout(() => resolve(14), 50)));
  const started = Date.now();
  const results = await a.gather(['eu', 'us', 'nowhere', 'ap'], 'price?', { timeout: 10_000 });
  t.ok(Date.now() - started < 2000, 'long before the deadline');
  t.same(results, [{ from: 'eu', message: 12 }, { from: 'us', error: { code: 'busy', message: 'later' } }, { from: 'ap', message: 14 }]);
  await eu.subscribe('health', () => 'eu ok');
  await us.subscribe('health', () => 'us ok');
  t.same(await a.gather({ topic: 'health.check' }, 'ok?'), [{ from: 'eu', message: 'eu ok' }, { from: 'us', message: 'us ok' }], 'subscribers by name');
  t.equal((await rejection(a.gather(['nobody'], 1))).code, 'no_responders');
  await closeAll(a, eu, us, ap);
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('gather at its deadline marks the rest timeout, and a destination that left responder_gone [SB-6.2-1]', async (t) => {
  const { broker, url } = await startBroker(t);
  const a = await readyClient(t, url, { name: 'a' });
  const fastOne = await readyClient(t, url, { name: 'fast' });
  const slow = await readyClient(t, url, { name: 'slow' });
  const leaving = await readyClient(t, url, { name: 'leaving' });
  fastOne.handle(() => 'quick');
  let slowCtx: MessageContext | undefined;
  slow.handle((_message, ctx) => {
    slowCtx = ctx;
    return hang();
  });
  leaving.handle(() => {
    void leaving.close();
    return hang();
  });
  const started = Date.now();
  const results = await a.gather(['fast', 'slow', 'leaving'], 1, { timeout: 300 });
  const took = Date.now() - started;
  t.same(results, [{ from: 'fast', message: 'quick' }, { from: 'slow', code: 'timeout' }, { from: 'leaving', code: 'responder_gone' }]);
  t.ok(took >= 250 && took < 2000, `at the deadline (${took} ms)`);
  await until(() => slowCtx?.signal.aborted === true, 'the slow one is told');
  t.equal(slowCtx?.signal.reason, 'timeout');
  await closeAll(a, fastOne, slow);
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('a pool serves its name round-robin; members join by constructor or register(); modes never mix [SB-6.4-1]', async (t) => {
  const { broker, url } = await startBroker(t);
  const m1 = await readyClient(t, url, { names: [{ name: 'workers', shared: true }] });
  const m2 = await readyClient(t, url, { name: { name: 'workers', shared: true } });
  const m3 = await readyClient(t, url, { name: 'm3' });
  await m3.register('workers', { shared: true });
  t.same(m3.names, ['m3', 'workers']);
  for (const [i, m] of [m1, m2, m3].entries()) m.handle(() => i + 1);
  const a = await readyClient(t, url, { name: 'a' });
  const answers = [];
  for (let i = 0; i < 6; i++) answers.push(await a.request('workers', i));
  t.ok(answers.every((answer) => answer.from === 'workers'), 'reached by the pool name');
  const served = answers.map((answer) => answer.message);
  t.same([...served.slice(0, 3)].sort(), [1, 2, 3], 'each member in turn');
  t.same(served.slice(3), served.slice(0, 3), 'and again in the same order');
  t.match(await rejection(a.register('workers')), { code: 'name_conflict', from: 'workers' });
  t.equal((await rejection(m1.register('workers'))).code, 'invalid_argument', 'held with other options');
  t.equal(broker.stats().names, 3, 'workers, m3 and a');
  await closeAll(m1, m2, m3, a);
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('a member that leaves: a retry-safe request moves to another, one without retry is responder_gone [SB-6.4-2]', async (t) => {
  const { broker, url } = await startBroker(t);
  const members = await Promise.all([0, 1].map(() => readyClient(t, url, { names: [{ name: 'pool', shared: true }] })));
  const arrivals: number[] = [];
  let hangAll = false;
  members.forEach((m, i) =>
    m.handle(() => {
      arrivals.push(i);
      return arrivals.length === 1 || hangAll ? hang() : `done by ${i}`;
    }),
  );
  const a = await readyClient(t, url, { name: 'a' });
  const safe = a.request('pool', 'safe', { retry: true, timeout: 10_000 });
  await until(() => arrivals.length === 1, 'the request reached a member');
  const first = arrivals[0];
  await members[first].close();
  t.same(await within(safe, WAIT_MS, 'the moved request'), { from: 'pool', message: `done by ${1 - first}` });
  hangAll = true;
  const unsafe = rejection(a.request('pool', 'unsafe', { timeout: 10_000 }));
  await until(() => arrivals.length === 3, 'the second request reached the last member');
  await members[1 - first].close();
  t.equal((await unsafe).code, 'responder_gone');
  await closeAll(a);
  t.same(await drained(broker), NOTHING_HELD);
});

t.test("aborting a request cancels it at the broker, and aborts the receiver's ctx.signal for that request only [SB-6.1-1] [SB-6.1-2]", async (t) => {
  const { broker, url } = await startBroker(t);
  const a = await readyClient(t, url, { name: 'a' });
  const b = await readyClient(t, url, { name: 'b' });
  const received = new Map<unknown, { ctx: MessageContext; finish(value: unknown): void }>();
  b.handle((message, ctx) => new Promise((finish) => received.set(message, { ctx, finish })));
  const controller = new AbortController();
  const first = rejection(a.request('b', 'first', { signal: controller.signal, timeout: 10_000 }));
  const second = a.request('b', 'second', { timeout: 10_000 });
  await until(() => received.size === 2, 'both requests arrived');
  controller.abort();
  t.equal((await first).code, 'aborted');
  const cancelled = received.get('first')!.ctx;
  await until(() => cancelled.signal.aborted, 'the receiver is told');
  t.equal(cancelled.signal.reason, 'cancelled');
  t.notOk(received.get('second')!.ctx.signal.aborted, 'the other request goes on');
  t.notOk(cancelled.answer('anyway'), 'a cancelled request cannot be answered');
  received.get('second')!.finish('done');
  t.same(await second, { from: 'b', message: 'done' });
  t.equal(broker.stats().pending, 0);
  await closeAll(a, b);
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('a durable name gets what was sent while it was away, in order, once it is back [SB-6.3-1]', async (t) => {
  const { broker, url, port } = await startBroker(t);
  const cable = await link(t, port);
  const printer = await readyClient(t, cable.url, { names: [{ name: 'printer', durable: true }], reconnect: fast });
  const got: unknown[] = [];
  printer.handle((message) => {
    got.push(message);
    return `printed ${message}`;
  });
  const web = await readyClient(t, url, { name: 'web' });
  const away = nextEvent(printer, 'reconnecting');
  cable.pause();
  await away;
  await until(() => broker.stats().names === 1, 'the broker saw the printer go');
  t.same(await web.send('printer', 'page 1'), { delivered: [], unknown: [], queued: ['printer'] });
  const answered = web.request('printer', 'page 2', { timeout: 10_000 });
  await web.send('printer', 'page 3', { report: false });
  await until(() => broker.stats().queued === 3, 'three queued');
  cable.resume();
  await within(printer.ready, WAIT_MS, 'the printer is back');
  t.same(await within(answered, WAIT_MS, 'the queued request'), { from: 'printer', message: 'printed page 2' });
  await until(() => got.length === 3, 'three deliveries');
  t.same(got, ['page 1', 'page 2', 'page 3']);
  await printer.unregister('printer');
  t.same(await web.send('printer', 'after'), { delivered: [], unknown: ['printer'] }, 'unregister ends durability');
  await closeAll(printer, web);
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('a message that waited in a mailbox and comes again, by its mailbox id, reaches the handler once [SB-6.3-4]', async (t) => {
  // What a broker that kept its mailboxes in Redis or on disk does after a crash mid-delivery: the same
  // queued messages again, with the ids they had; a message without an id is never a repeat.
  const queued = [
    { action: 'message', from: 'web', message: 'one', mailbox: '1000-1' },
    { action: 'message', from: 'web', message: 'two', mailbox: '1000-2' },
  ];
  const fake = await fakeBroker(t, {
    onFrame(ws, frame) {
      if (frame.action !== 'send') return;
      for (const frame of [...queued, { action: 'message', from: 'web', message: 'direct' }, ...queued, { action: 'message', from: 'web', message: 'direct' }]) {
        ws.send(JSON.stringify(frame));
      }
    },
  });
  const inbox = await readyClient(t, fake.url, { name: 'inbox' });
  const got: unknown[] = [];
  inbox.handle((message) => void got.push(message));
  await inbox.send('anyone', 'go', { report: false });
  await until(() => got.length >= 4, 'four messages');
  await new Promise((resolve) => setTimeout(resolve, 50));
  t.same(got, ['one', 'two', 'direct', 'direct'], 'the repeats by id are dropped, messages without one are not');
});

t.test('a full mailbox rejects with mailbox_full; an expired message is an error event with code expired [SB-6.3-2]', async (t) => {
  const { broker, url } = await startBroker(t, { durableNames: ['box'], limits: { maxMailboxSize: 1, maxMailboxAgeMs: 200 } });
  const web = await readyClient(t, url, { name: 'web' });
  const box = await readyClient(t, url, { name: 'box' });
  await box.close();
  await until(() => broker.stats().names === 1, 'the broker saw the box go');
  const expired = nextEvent<[SwitchboardError]>(web, 'error', WAIT_MS);
  t.same(await web.send('box', 1), { delivered: [], unknown: [], queued: ['box'] });
  t.match(await rejection(web.send('box', 2)), { code: 'mailbox_full', from: 'box', dest: 'box' });
  t.match(await rejection(web.request('box', 3)), { code: 'mailbox_full', from: 'box' });
  const [error] = await expired;
  t.match(error, { code: 'expired', from: 'box' });
  await until(() => broker.stats().queued === 0, 'the mailbox is empty');
  await closeAll(web);
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('named events go to their handler, others to the catch-all; a request answers from either', async (t) => {
  const { broker, url } = await startBroker(t);
  const a = await readyClient(t, url, { name: 'a' });
  const b = await readyClient(t, url, { name: 'b' });
  const got: unknown[] = [];
  b.handle((message, ctx) => {
    got.push(['all', message, ctx.event]);
    return 'from all';
  });
  const offPing = b.handle((message, ctx) => {
    got.push(['ping', message, ctx.event]);
    return 'pong';
  }, { event: 'ping' });
  await a.send('b', 1, { event: 'ping' });
  await a.send('b', 2);
  await a.send('b', 3, { event: 'other' });
  t.same(await a.request('b', 4, { event: 'ping' }), { from: 'b', message: 'pong' });
  offPing();
  t.same(await a.request('b', 5, { event: 'ping' }), { from: 'b', message: 'from all' }, 'removed: back to the catch-all');
  t.same(got, [['ping', 1, 'ping'], ['all', 2, undefined], ['all', 3, 'other'], ['ping', 4, 'ping'], ['all', 5, 'ping']]);
  t.throws(() => b.handle(() => {}, { event: 'not an event' }), { code: 'invalid_argument' });
  t.equal((await rejection(a.send('b', 1, { event: 'bad event' }))).code, 'invalid_argument');
  await closeAll(a, b);
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('broadcast reaches every other named client once, with its event, and resolves with their number [SB-4.8-1]', async (t) => {
  const { broker, url } = await startBroker(t);
  const [a, b, c] = await Promise.all(['a', 'b', 'c'].map((name) => readyClient(t, url, { name })));
  const got: unknown[] = [];
  for (const [name, each] of [['a', a], ['b', b], ['c', c]] as const) {
    each.handle((message, ctx) => void got.push([name, message, ctx.from, ctx.event]), { event: 'notice' });
  }
  t.equal(await a.broadcast('maintenance at noon', { event: 'notice' }), 2);
  await until(() => got.length === 2, 'two deliveries');
  await a.send('a', 'round trip'); // anything for `a` would have come before this report
  t.same(
    [...got].sort(),
    [['b', 'maintenance at noon', 'a', 'notice'], ['c', 'maintenance at noon', 'a', 'notice']],
    'not to the sender',
  );
  t.equal((await rejection(a.broadcast('x', { event: '' }))).code, 'invalid_argument');
  await closeAll(a, b, c);
  t.same(await drained(broker), NOTHING_HELD);
});
