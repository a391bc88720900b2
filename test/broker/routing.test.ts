/**
 * Cancellation, gather, offline mailboxes and responder pools (protocol.md sections 6.1 to 6.4).
 */
import t from 'tap';
import { drained, NOTHING_HELD, startBroker } from '../fixtures/broker.js';
import { Peer, type Frame } from '../fixtures/peer.js';

const isMessage = (f: Frame) => f.action === 'message';

t.test('a sender cancels its request: outcome cancelled, receivers told to stop [SB-6.1-1] [SB-6.1-2]', async (t) => {
  const { broker, url } = await startBroker(t);
  const a = await Peer.named(url, 'a');
  const b = await Peer.named(url, 'b');
  a.send({ action: 'send', dest: 'b', message: 'long job', ack: 'r1' });
  const m = await b.next(isMessage);
  a.send({ action: 'cancel', ack: 'r1' });
  t.match(await a.next(), { action: 'error', code: 'cancelled', ack: 'r1' });
  t.same(await b.next(), { action: 'cancel', ack: m.ack, reason: 'cancelled' });
  b.send({ action: 'answer', ack: m.ack as string, message: 'finished anyway' });
  t.same(await b.quiet(30), [], 'answering a cancelled request is not punished');
  t.same(await a.quiet(30), [], 'one outcome only');
  a.send({ action: 'cancel', ack: 'r1' });
  a.send({ action: 'cancel', ack: 'never-sent' });
  t.same(await a.quiet(50), [], 'a cancel that finds nothing is not answered');
  await a.close();
  await b.close();
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('gather completes when the last destination answers, with one result each [SB-6.2-1]', async (t) => {
  const { broker, url } = await startBroker(t);
  const a = await Peer.named(url, 'a');
  const peers = await Promise.all(['eu', 'us', 'ap'].map((name) => Peer.named(url, name)));
  a.send({ action: 'send', dest: ['eu', 'us', 'nowhere', 'ap'], message: 'price?', ack: 'g1', gather: true, timeout: 5000 });
  const [eu, us, ap] = await Promise.all(peers.map((p) => p.next(isMessage)));
  peers[1].send({ action: 'answer', ack: us.ack as string, error: { code: 'busy', message: 'later' } });
  peers[0].send({ action: 'answer', ack: eu.ack as string, message: 12 });
  t.same(await a.quiet(50), [], 'not before the last one');
  const started = Date.now();
  peers[2].send({ action: 'answer', ack: ap.ack as string, message: 14 });
  t.same(await a.next(), {
    action: 'gathered',
    ack: 'g1',
    results: [{ from: 'eu', message: 12 }, { from: 'us', error: { code: 'busy', message: 'later' } }, { from: 'ap', message: 14 }],
  });
  t.ok(Date.now() - started < 1000, 'long before the deadline');
  for (const p of [a, ...peers]) await p.close();
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('gather at the deadline marks the rest timed out; a receiver that leaves is responder_gone [SB-6.2-1]', async (t) => {
  const { broker, url } = await startBroker(t);
  const a = await Peer.named(url, 'a');
  const fast = await Peer.named(url, 'fast');
  const slow = await Peer.named(url, 'slow');
  const leaving = await Peer.named(url, 'leaving');
  a.send({ action: 'send', dest: ['fast', 'slow', 'leaving'], message: 1, ack: 'g2', gather: true, timeout: 150 });
  const m = await fast.next(isMessage);
  const ms = await slow.next(isMessage);
  await leaving.next(isMessage);
  fast.send({ action: 'answer', ack: m.ack as string, message: 'quick' });
  leaving.ws.terminate();
  t.same(await a.next((f) => f.action === 'gathered', 1000), {
    action: 'gathered',
    ack: 'g2',
    results: [{ from: 'fast', message: 'quick' }, { from: 'slow', code: 'timeout' }, { from: 'leaving', code: 'responder_gone' }],
  });
  t.same(await slow.next(), { action: 'cancel', ack: ms.ack, reason: 'timeout' });
  a.send({ action: 'send', dest: ['nobody'], message: 1, ack: 'g3', gather: true });
  t.match(await a.next(), { code: 'no_responders', ack: 'g3' });
  for (const p of [a, fast, slow]) await p.close();
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('a gather over topic subscribers lists each by name [SB-6.2-1] [SB-4.7-3]', async (t) => {
  const { broker, url } = await startBroker(t);
  const subs = await Promise.all(['w1', 'w2'].map(async (name) => {
    const p = await Peer.named(url, name);
    p.send({ action: 'subscribe', topic: 'health' });
    await p.next((f) => f.action === 'subscribed');
    return p;
  }));
  const pub = await Peer.named(url, 'pub');
  pub.send({ action: 'publish', topic: 'health.check', message: 'ok?', ack: 'h1', gather: true });
  for (const [i, p] of subs.entries()) {
    const m = await p.next(isMessage);
    p.send({ action: 'answer', ack: m.ack as string, message: `w${i + 1} ok` });
  }
  t.same(await pub.next((f) => f.action === 'gathered'), {
    action: 'gathered', ack: 'h1', results: [{ from: 'w1', message: 'w1 ok' }, { from: 'w2', message: 'w2 ok' }],
  });
  for (const p of [...subs, pub]) await p.close();
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('a durable name queues while offline and gets everything in order when it returns [SB-6.3-1]', async (t) => {
  const { broker, url } = await startBroker(t);
  const printer = await Peer.connect(url);
  printer.send({ action: 'register', id: 'printer', durable: true });
  await printer.next((f) => f.action === 'registered');
  printer.ws.terminate();
  await drained(broker, 1000, { connections: 0, names: 0, pending: 0, deliveries: 0 });
  const a = await Peer.named(url, 'a');
  a.send({ action: 'send', dest: ['printer', 'ghost'], message: 'page 1', ref: 's1' });
  t.same(await a.next(), { action: 'sent', ref: 's1', delivered: [], unknown: ['ghost'], queued: ['printer'] });
  a.send({ action: 'send', dest: 'printer', message: 'page 2?', ack: 'q1', timeout: 5000 });
  a.send({ action: 'send', dest: 'printer', message: 'page 3' });
  await a.quiet(30);
  t.equal(broker.stats().queued, 3);
  const back = await Peer.named(url, 'printer');
  t.match(await back.next(isMessage), { message: 'page 1', from: 'a' });
  const req = await back.next(isMessage);
  t.match(req, { message: 'page 2?', from: 'a' });
  t.match(await back.next(isMessage), { message: 'page 3' });
  back.send({ action: 'answer', ack: req.ack as string, message: 'printed' });
  t.same(await a.next(), { action: 'answer', ack: 'q1', from: 'printer', message: 'printed' });
  t.equal(broker.stats().queued, 0);
  back.send({ action: 'unregister', id: 'printer' });
  await back.next((f) => f.action === 'unregistered');
  a.send({ action: 'send', dest: 'printer', message: 'after an unregister', ref: 's2' });
  t.same(await a.next(), { action: 'sent', ref: 's2', delivered: [], unknown: ['printer'] }, 'unregister ends durability');
  await a.close();
  await back.close();
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('a queued request keeps its deadline running [SB-6.3-1]', async (t) => {
  const { broker, url } = await startBroker(t, { durableNames: ['box-*'] });
  const box = await Peer.named(url, 'box-1');
  await box.close();
  const a = await Peer.named(url, 'a');
  a.send({ action: 'send', dest: 'box-1', message: 1, ack: 'q', timeout: 100 });
  t.match(await a.next(), { code: 'timeout', ack: 'q' });
  const back = await Peer.named(url, 'box-1');
  await back.quiet(50);
  t.same(back.received.filter(isMessage), [], 'an ended request is not delivered later');
  await a.close();
  await back.close();
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('a queued slot of an ended request never joins a later request of the same ack [SB-6.3-3]', async (t) => {
  const { broker, url } = await startBroker(t, { durableNames: ['box-*'] });
  const box = await Peer.named(url, 'box-1');
  await box.close();
  const a = await Peer.named(url, 'a');
  const other = await Peer.named(url, 'other');
  a.send({ action: 'send', dest: 'box-1', message: 'first', ack: 'q', timeout: 60_000 });
  await a.quiet(30);
  a.send({ action: 'cancel', ack: 'q' });
  await a.quiet(30);
  a.send({ action: 'send', dest: 'other', message: 'second', ack: 'q', timeout: 60_000 }); // the ack again, once free
  const m = await other.next(isMessage);
  t.match(m, { message: 'second' });
  const back = await Peer.named(url, 'box-1');
  await back.quiet(100);
  t.same(back.received.filter(isMessage), [], 'the first request ended: its queued slot is not delivered, not even to the second');
  other.send({ action: 'answer', ack: m.ack as string, message: 'done' });
  t.match(await a.next((f) => f.action === 'answer'), { ack: 'q', from: 'other', message: 'done' });
  for (const p of [a, other, back]) await p.close();
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('a full mailbox refuses the send; an expired message is reported to its sender [SB-6.3-2]', async (t) => {
  const { broker, url } = await startBroker(t, { durableNames: ['box'], limits: { maxMailboxSize: 2, maxMailboxAgeMs: 200 } });
  const box = await Peer.named(url, 'box');
  await box.close();
  const a = await Peer.named(url, 'a');
  const other = await Peer.named(url, 'other');
  a.send({ action: 'send', dest: 'box', message: 1, ref: 'm1' });
  a.send({ action: 'send', dest: 'box', message: 2 });
  await a.next((f) => f.action === 'sent');
  a.send({ action: 'send', dest: ['other', 'box'], message: 3, ref: 'm3', ack: 'r3' });
  t.match(await a.next(), { action: 'error', code: 'mailbox_full', id: 'box', ref: 'm3', ack: 'r3' });
  t.same(await other.quiet(30), [], 'nothing delivered when one destination refuses');
  t.match(await a.next((f) => f.code === 'expired', 2000), { id: 'box', ref: 'm1' });
  t.same(await a.quiet(300), [], 'a send without ref has no report, and no expired either [SB-6.3-2]');
  t.equal(broker.stats().queued, 0);
  const back = await Peer.named(url, 'box');
  t.same(await back.quiet(50), [], 'expired messages are not delivered');
  for (const p of [a, other, back]) await p.close();
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('a pool serves its name round-robin; modes never mix [SB-6.4-1]', async (t) => {
  const { broker, url } = await startBroker(t);
  const members = await Promise.all([1, 2, 3].map(async () => {
    const p = await Peer.connect(url);
    p.send({ action: 'register', id: 'workers', shared: true });
    await p.next((f) => f.action === 'registered');
    return p;
  }));
  t.equal(broker.stats().names, 1, 'a pool is one name');
  const exclusive = await Peer.connect(url);
  exclusive.send({ action: 'register', id: 'workers' });
  t.match(await exclusive.next(), { code: 'name_conflict', id: 'workers' });
  const solo = await Peer.named(url, 'solo');
  exclusive.send({ action: 'register', id: 'solo', shared: true });
  t.match(await exclusive.next(), { code: 'name_conflict', id: 'solo' });
  const a = await Peer.named(url, 'a');
  for (let i = 0; i < 6; i++) a.send({ action: 'send', dest: 'workers', message: i });
  const counts = await Promise.all(members.map(async (p) => [(await p.next(isMessage)).message, (await p.next(isMessage)).message]));
  t.same(counts, [[0, 3], [1, 4], [2, 5]], 'each member in turn');
  for (const p of [...members, exclusive, solo, a]) await p.close();
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('a request skips pool members at their in-flight cap; all busy is limit_exceeded [SB-6.4-1]', async (t) => {
  const { broker, url } = await startBroker(t, { limits: { maxInFlightPerMember: 1 } });
  const members = await Promise.all([1, 2].map(async () => {
    const p = await Peer.connect(url);
    p.send({ action: 'register', id: 'pool', shared: true });
    await p.next((f) => f.action === 'registered');
    return p;
  }));
  const a = await Peer.named(url, 'a');
  a.send({ action: 'send', dest: 'pool', message: 1, ack: 'r1' });
  a.send({ action: 'send', dest: 'pool', message: 2, ack: 'r2' });
  a.send({ action: 'send', dest: 'pool', message: 3, ack: 'r3' });
  t.match(await a.next(), { code: 'limit_exceeded', ack: 'r3', limit: 'maxInFlightPerMember' });
  t.match(await members[0].next(isMessage), { message: 1 });
  t.match(await members[1].next(isMessage), { message: 2 });
  for (const p of [...members, a]) await p.close();
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('a member leaving moves a retry-safe request to another member; without retry it is gone [SB-6.4-2]', async (t) => {
  const { broker, url } = await startBroker(t);
  const members = await Promise.all([1, 2].map(async () => {
    const p = await Peer.connect(url);
    p.send({ action: 'register', id: 'pool', shared: true });
    await p.next((f) => f.action === 'registered');
    return p;
  }));
  const a = await Peer.named(url, 'a');
  a.send({ action: 'send', dest: 'pool', message: 'safe', ack: 'r1', retry: true });
  await members[0].next(isMessage);
  members[0].ws.terminate();
  const moved = await members[1].next(isMessage);
  t.match(moved, { message: 'safe' });
  members[1].send({ action: 'answer', ack: moved.ack as string, message: 'done by 2' });
  t.match(await a.next(), { action: 'answer', ack: 'r1', message: 'done by 2' });
  a.send({ action: 'send', dest: 'pool', message: 'unsafe', ack: 'r2' });
  await members[1].next(isMessage);
  members[1].send({ action: 'unregister', id: 'pool' });
  t.match(await a.next(), { action: 'error', code: 'responder_gone', ack: 'r2' });
  const third = await Peer.connect(url);
  third.send({ action: 'register', id: 'pool', shared: true });
  await third.next((f) => f.action === 'registered');
  a.send({ action: 'send', dest: 'pool', message: 'last', ack: 'r3', retry: true });
  await third.next(isMessage);
  third.ws.terminate();
  t.match(await a.next(), { code: 'responder_gone', ack: 'r3' }, 'retry with no other member left is gone');
  await a.close();
  await members[1].close();
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('gather to two names held by one connection: one message, and one result per name, in the order of dest [SB-6.2-1] [SB-4.3-2]', async (t) => {
  const { broker, url } = await startBroker(t);
  const a = await Peer.named(url, 'a');
  const both = await Peer.named(url, 'eu');
  both.send({ action: 'register', id: 'us' });
  await both.next((f) => f.action === 'registered' && f.id === 'us');
  a.send({ action: 'send', dest: ['us', 'eu'], message: 'price?', ack: 'g1', gather: true, timeout: 2000 });
  const message = await both.next(isMessage);
  t.same(await both.quiet(50), [], 'one message for the connection, whatever names reached it');
  both.send({ action: 'answer', ack: message.ack as string, message: 7 });
  t.same(await a.next((f) => f.action === 'gathered'), {
    action: 'gathered',
    ack: 'g1',
    results: [{ from: 'us', message: 7 }, { from: 'eu', message: 7 }],
  });
  for (const p of [a, both]) await p.close();
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('gather results follow the order of dest, also with a destination waiting in a mailbox [SB-6.2-1] [SB-6.3-1]', async (t) => {
  const { broker, url } = await startBroker(t);
  const a = await Peer.named(url, 'a');
  const away = await Peer.connect(url);
  away.send({ action: 'register', id: 'away', durable: true });
  await away.next((f) => f.action === 'registered');
  await away.close();
  const here = await Peer.named(url, 'here');
  a.send({ action: 'send', dest: ['away', 'here'], message: 'q', ack: 'g1', gather: true, timeout: 300 });
  const m = await here.next(isMessage);
  here.send({ action: 'answer', ack: m.ack as string, message: 'h' });
  t.same(await a.next((f) => f.action === 'gathered', 2000), {
    action: 'gathered',
    ack: 'g1',
    results: [{ from: 'away', code: 'timeout' }, { from: 'here', message: 'h' }],
  });
  for (const p of [a, here]) await p.close();
  t.same(await drained(broker, 3000, { connections: 0, names: 0, pending: 0, deliveries: 0 }), { connections: 0, names: 0, pending: 0, deliveries: 0 });
});

t.test('a legacy sender that asks to gather gets a first-answer request: its one answer, never silence [SB-6.2-2] [SB-2-3]', async (t) => {
  const { broker, url } = await startBroker(t);
  const a = await Peer.named(url, 'a', { extended: false });
  const b = await Peer.named(url, 'b');
  const c = await Peer.named(url, 'c');
  a.send({ action: 'send', dest: ['b', 'c'], message: 1, ack: 'r1', gather: true });
  const mb = await b.next(isMessage);
  b.send({ action: 'answer', ack: mb.ack as string, message: 'from b' });
  t.same(await a.next(), { action: 'answer', ack: 'r1', from: 'b', message: 'from b' });
  for (const p of [a, b, c]) await p.close();
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('a mailbox is bounded in bytes: a send past maxMailboxBytes is refused with mailbox_full, past the total with limit_exceeded [SB-6.3-2]', async (t) => {
  const { broker, url } = await startBroker(t, { limits: { maxMailboxBytes: 3000, maxMailboxBytesTotal: 5000 } });
  const a = await Peer.named(url, 'a');
  for (const name of ['box1', 'box2']) {
    const away = await Peer.connect(url);
    away.send({ action: 'register', id: name, durable: true });
    await away.next((f) => f.action === 'registered');
    await away.close();
  }
  const body = 'x'.repeat(998); // 1000 bytes as JSON
  a.send({ action: 'send', dest: 'box1', message: body, ref: 's1' });
  a.send({ action: 'send', dest: 'box1', message: body, ref: 's2' });
  a.send({ action: 'send', dest: 'box1', message: body, ref: 's3' });
  a.send({ action: 'send', dest: 'box1', message: body, ref: 's4' });
  for (const ref of ['s1', 's2', 's3']) t.match(await a.next((f) => f.ref === ref), { action: 'sent', queued: ['box1'] });
  t.match(await a.next((f) => f.ref === 's4'), { action: 'error', code: 'mailbox_full', id: 'box1' });
  a.send({ action: 'send', dest: 'box2', message: body, ref: 's5' });
  a.send({ action: 'send', dest: 'box2', message: body, ref: 's6' });
  a.send({ action: 'send', dest: 'box2', message: body, ref: 's7' });
  t.match(await a.next((f) => f.ref === 's5'), { action: 'sent', queued: ['box2'] });
  t.match(await a.next((f) => f.ref === 's6'), { action: 'sent', queued: ['box2'] });
  t.match(await a.next((f) => f.ref === 's7'), { action: 'error', code: 'limit_exceeded', limit: 'maxMailboxBytesTotal' });
  t.equal(broker.stats().queuedBytes, 5000);
  await a.close();
});

t.test('a queued request ends at the earlier of its deadline and the mailbox age, with one outcome [SB-6.3-3]', async (t) => {
  const { broker, url } = await startBroker(t, { durableNames: ['box'], limits: { maxMailboxAgeMs: 300 } });
  const box = await Peer.named(url, 'box');
  await box.close();
  const a = await Peer.named(url, 'a');
  const started = Date.now();
  a.send({ action: 'send', dest: 'box', message: 'q', ack: 'r1', timeout: 2500, ref: 's1' });
  t.match(await a.next(), { action: 'sent', ref: 's1', queued: ['box'] });
  t.match(await a.next((f) => f.ack === 'r1', 2000), { action: 'error', code: 'timeout', ack: 'r1' });
  const elapsed = Date.now() - started;
  t.ok(elapsed >= 280 && elapsed < 1500, `ended at the mailbox age (${elapsed} ms), not at its 2500 ms deadline`);
  const back = await Peer.named(url, 'box');
  t.same(await back.quiet(100), [], 'the ended request is not delivered when the name comes back');
  t.same(await a.quiet(50), [], 'one outcome only');
  for (const p of [a, back]) await p.close();
  t.same(await drained(broker), NOTHING_HELD);
});
