/**
 * Answers from the wrong party (robustness.md, "Names and request routing"; protocol.md section 6):
 * spoofed, guessed and replayed delivery ids, correlation ids that collide between senders, and a
 * sender's own ack used as a delivery id. Nothing gets through that the broker did not hand to the
 * answering connection, and every request still ends in exactly one outcome for its own sender.
 */
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { drained, NOTHING_HELD, startBroker } from '../fixtures/broker.js';
import { Peer, type Frame } from '../fixtures/peer.js';

const isError = (f: Frame) => f.action === 'error';
const isMessage = (f: Frame) => f.action === 'message';

t.test('a third party answering with a delivery id it was not given changes nothing [SB-6-4] [SB-4.4-1]', async (t) => {
  const { broker, url } = await startBroker(t);
  const a = await Peer.named(url, 'a');
  const b = await Peer.named(url, 'b');
  const mallory = await Peer.named(url, 'mallory');
  const legacyMallory = await Peer.named(url, 'legacy-mallory', { extended: false });
  a.send({ action: 'send', dest: 'b', message: 'q', ack: 'r1' });
  const request = await b.next(isMessage);
  const id = request.ack as string;
  mallory.send({ action: 'answer', ack: id, message: 'forged' });
  t.match(await mallory.next(isError), { action: 'error', code: 'unknown_ack', ack: id });
  mallory.send({ action: 'answer', ack: id, error: { code: 'forged', message: 'forged' } });
  t.match(await mallory.next(isError), { action: 'error', code: 'unknown_ack', ack: id });
  legacyMallory.send({ action: 'answer', ack: id, message: 'forged', from: 'b' });
  t.same(await legacyMallory.quiet(30), [], 'a legacy forger hears nothing [SB-2-3]');
  t.same(await a.quiet(30), [], 'the sender saw none of the forgeries');
  t.equal(broker.stats().pending, 1, 'the request is still pending');
  b.send({ action: 'answer', ack: id, message: 'genuine' });
  t.same(await a.next(), { action: 'answer', ack: 'r1', from: 'b', message: 'genuine' });
  for (const peer of [a, b, mallory, legacyMallory]) await peer.close();
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('guessed delivery ids, and the sender\'s own ack used as one, get unknown_ack [SB-6-3] [SB-6-4]', async (t) => {
  const { broker, url } = await startBroker(t);
  const a = await Peer.named(url, 'a');
  const b = await Peer.named(url, 'b');
  a.send({ action: 'send', dest: 'b', message: 'q', ack: 'r1' });
  const id = (await b.next(isMessage)).ack as string;
  const guesses = [
    'r1', // the sender's ack: never a delivery id
    id.slice(0, -1),
    id + 'x',
    id.toUpperCase() === id ? id.toLowerCase() : id.toUpperCase(),
    '__proto__',
    'constructor',
    ...Array.from({ length: 50 }, () => randomBytes(16).toString('base64url').slice(0, 21)),
  ];
  for (const guess of guesses) {
    b.send({ action: 'answer', ack: guess, message: 'guess' });
    t.match(await b.next(isError), { action: 'error', code: 'unknown_ack', ack: guess });
  }
  t.same(await a.quiet(20), [], 'no guess reached the sender');
  b.send({ action: 'answer', ack: id, message: 'right' });
  t.same(await a.next(), { action: 'answer', ack: 'r1', from: 'b', message: 'right' });
  for (const peer of [a, b]) await peer.close();
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('delivery ids are distinct, URL-safe and at least 21 characters over a thousand requests [SB-6-3]', async (t) => {
  const { broker, url } = await startBroker(t);
  const a = await Peer.named(url, 'a');
  const receivers = await Promise.all(['b', 'c', 'd', 'e'].map((name) => Peer.named(url, name)));
  const ids = new Set<string>();
  const wrongOutcomes: Frame[] = [];
  for (let i = 0; i < 250; i++) {
    a.send({ action: 'send', dest: ['b', 'c', 'd', 'e'], message: i, ack: 'same-ack' });
    const got = await Promise.all(receivers.map((r) => r.next(isMessage)));
    for (const m of got) ids.add(m.ack as string);
    receivers[i % 4].send({ action: 'answer', ack: got[i % 4].ack as string, message: i });
    const outcome = await a.next();
    if (outcome.action !== 'answer' || outcome.ack !== 'same-ack' || outcome.message !== i) wrongOutcomes.push(outcome);
    // the losers answer too, so that every delivery ends and the ack may be reused
    for (let k = 0; k < 4; k++) if (k !== i % 4) receivers[k].send({ action: 'answer', ack: got[k].ack as string, message: 'late' });
  }
  t.same(wrongOutcomes, [], 'every request got its own winning answer');
  t.equal(ids.size, 1000, '1000 deliveries, 1000 distinct ids');
  t.ok([...ids].every((id) => /^[A-Za-z0-9_-]{21,}$/.test(id)), 'every id is URL-safe and long enough for 120 bits');
  t.notOk(ids.has('same-ack'));
  t.same(await drained(broker, 2000, { connections: 5, names: 5, pending: 0, deliveries: 0 }), { connections: 5, names: 5, pending: 0, deliveries: 0 });
  for (const peer of [a, ...receivers]) await peer.close();
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('replaying a delivery id after it ended gets nowhere: answered, deadline, unregistered, reconnected [SB-4.4-1] [SB-4.4-2] [SB-6-8]', async (t) => {
  const { broker, url } = await startBroker(t);
  const a = await Peer.named(url, 'a');
  let b = await Peer.named(url, 'b');

  a.send({ action: 'send', dest: 'b', message: 1, ack: 'answered' });
  const first = (await b.next(isMessage)).ack as string;
  b.send({ action: 'answer', ack: first, message: 'once' });
  t.match(await a.next(), { action: 'answer', ack: 'answered', message: 'once' });
  b.send({ action: 'answer', ack: first, message: 'twice' });
  t.match(await b.next(isError), { action: 'error', code: 'unknown_ack', ack: first }, 'a replay of a winning answer');

  a.send({ action: 'send', dest: 'b', message: 2, ack: 'expires', timeout: 30 });
  const expired = (await b.next(isMessage)).ack as string;
  t.match(await a.next(isError), { action: 'error', code: 'timeout', ack: 'expires' });
  t.same(await b.next((f) => f.action === 'cancel'), { action: 'cancel', ack: expired, reason: 'timeout' }, 'the receiver is told [SB-6-8] [SB-6.1-2]');
  b.send({ action: 'answer', ack: expired, message: 'too late' });
  t.same(await b.quiet(30), [], 'an answer after the cancel is dropped quietly [SB-4.4-2]');
  b.send({ action: 'answer', ack: expired, message: 'and again' });
  t.match(await b.next(isError), { action: 'error', code: 'unknown_ack', ack: expired }, 'a replay of it is not [SB-4.4-1]');

  a.send({ action: 'send', dest: 'b', message: 3, ack: 'unregistered' });
  const dropped = (await b.next(isMessage)).ack as string;
  b.send({ action: 'unregister', id: 'b' });
  await b.next((f) => f.action === 'unregistered');
  t.match(await a.next(isError), { action: 'error', code: 'responder_gone', ack: 'unregistered' });
  b.send({ action: 'register', id: 'b' });
  await b.next((f) => f.action === 'registered');
  b.send({ action: 'answer', ack: dropped, message: 'after re-registering' });
  t.match(await b.next(isError), { action: 'error', code: 'unknown_ack', ack: dropped }, 'the same connection, the name taken again');

  a.send({ action: 'send', dest: 'b', message: 4, ack: 'reconnected', timeout: 5000 });
  const old = (await b.next(isMessage)).ack as string;
  await b.close();
  t.match(await a.next(isError), { action: 'error', code: 'responder_gone', ack: 'reconnected' });
  b = await Peer.named(url, 'b');
  b.send({ action: 'answer', ack: old, message: 'a new connection with the old name' });
  t.match(await b.next(isError), { action: 'error', code: 'unknown_ack', ack: old }, 'a new connection holding the same name');
  t.same(await a.quiet(20), [], 'the sender heard none of the replays');
  for (const peer of [a, b]) await peer.close();
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('two senders using the same ack never see each other\'s answers or outcomes [SB-6-1]', async (t) => {
  const { broker, url } = await startBroker(t);
  const s1 = await Peer.named(url, 's1');
  const s2 = await Peer.named(url, 's2');
  const r = await Peer.named(url, 'r');
  for (const ack of ['r1', '__proto__', 'constructor']) {
    s1.send({ action: 'send', dest: 'r', message: 'from s1', ack });
    s2.send({ action: 'send', dest: 'r', message: 'from s2', ack });
    const [m1, m2] = [await r.next(isMessage), await r.next(isMessage)];
    t.not(m1.ack, m2.ack, 'each request has its own delivery id');
    const bySender = new Map([[m1.from, m1.ack], [m2.from, m2.ack]]);
    // answer s2's first, so an ack-keyed mix-up would show
    r.send({ action: 'answer', ack: bySender.get('s2') as string, message: 'for s2' });
    t.same(await s2.next(), { action: 'answer', ack, from: 'r', message: 'for s2' });
    t.same(await s1.quiet(20), [], `s1 heard nothing of s2's ${ack}`);
    r.send({ action: 'answer', ack: bySender.get('s1') as string, message: 'for s1' });
    t.same(await s1.next(), { action: 'answer', ack, from: 'r', message: 'for s1' });
  }
  s1.send({ action: 'send', dest: 'r', message: 'q', ack: 'shared', timeout: 5000 });
  s2.send({ action: 'send', dest: 'nobody', message: 'q', ack: 'shared' });
  t.match(await s2.next(isError), { action: 'error', code: 'no_responders', ack: 'shared' });
  const pending = await r.next(isMessage);
  await s2.close();
  t.same(await s1.quiet(30), [], 's2 leaving with the same ack does not end s1\'s request');
  r.send({ action: 'answer', ack: pending.ack as string, message: 'still yours' });
  t.same(await s1.next(), { action: 'answer', ack: 'shared', from: 'r', message: 'still yours' });
  for (const peer of [s1, r]) await peer.close();
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('a duplicate ack from the same sender is refused and the pending request keeps its outcome [SB-6-2]', async (t) => {
  const { broker, url } = await startBroker(t);
  const a = await Peer.named(url, 'a');
  const b = await Peer.named(url, 'b');
  const c = await Peer.named(url, 'c');
  a.send({ action: 'send', dest: 'b', message: 'first', ack: 'dup' });
  const first = await b.next(isMessage);
  a.send({ action: 'send', dest: 'c', message: 'second', ack: 'dup', ref: 'x' });
  t.match(await a.next(isError), { action: 'error', code: 'duplicate_ack', ack: 'dup', ref: 'x' });
  t.same(await c.quiet(30), [], 'the duplicate was delivered to no one');
  b.send({ action: 'answer', ack: first.ack as string, message: 'the first one' });
  t.same(await a.next(), { action: 'answer', ack: 'dup', from: 'b', message: 'the first one' });
  for (const peer of [a, b, c]) await peer.close();
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('a receiver answering its own delivery id from a second connection gets nowhere [SB-6-4]', async (t) => {
  const { broker, url } = await startBroker(t);
  const a = await Peer.named(url, 'a');
  const b = await Peer.named(url, 'b');
  const bTwin = await Peer.named(url, 'b-twin');
  a.send({ action: 'send', dest: 'b', message: 'q', ack: 'r1' });
  const id = (await b.next(isMessage)).ack as string;
  bTwin.send({ action: 'answer', ack: id, message: 'from the twin' });
  t.match(await bTwin.next(isError), { code: 'unknown_ack' }, 'delivery ids belong to connections, not to clients or names');
  b.send({ action: 'answer', ack: id, message: 'from b' });
  t.match(await a.next(), { action: 'answer', message: 'from b' });
  for (const peer of [a, b, bTwin]) await peer.close();
  t.same(await drained(broker), NOTHING_HELD);
});
