/**
 * Sends and requests: delivery, correlation, the one outcome of every request (protocol.md 4.3, 4.4, 6).
 */
import t from 'tap';
import { drained, NOTHING_HELD, startBroker } from '../fixtures/broker.js';
import { Peer, type Frame } from '../fixtures/peer.js';

const isMessage = (f: Frame) => f.action === 'message';

t.test('a send reaches every registered destination once, body unchanged, from the primary name [SB-4.3-2]', async (t) => {
  const { broker, url } = await startBroker(t);
  const a = await Peer.named(url, 'a');
  const b = await Peer.named(url, 'b');
  b.send({ action: 'register', id: 'b2' });
  await b.next((f) => f.id === 'b2');
  const c = await Peer.named(url, 'c');
  const body = { deep: { list: [1, 'two', null, true], '__proto__': { polluted: 1 } }, unicode: 'é✓' };
  a.send(`{"action":"send","dest":["b","b2","c","b"],"message":${JSON.stringify(body)}}`);
  const atB = await b.next(isMessage);
  t.same(atB, { action: 'message', message: body, from: 'a' });
  t.same(await b.quiet(50), [], 'b gets one message although it holds two of the names');
  t.same(await c.next(isMessage), { action: 'message', message: body, from: 'a' });
  t.equal(({} as Record<string, unknown>).polluted, undefined, 'a __proto__ key changed nothing');
  for (const p of [a, b, c]) await p.close();
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('a send from a connection without a name is refused, with its ack and ref [SB-4.3-1] [SB-7-2]', async (t) => {
  const { broker, url } = await startBroker(t);
  const b = await Peer.named(url, 'b');
  const a = await Peer.connect(url);
  a.send({ action: 'send', dest: 'b', message: 1, ack: 'r1', ref: 's1' });
  t.match(await a.next(), { action: 'error', code: 'not_registered', ack: 'r1', ref: 's1' });
  t.same(await b.quiet(50), []);
  await a.close();
  await b.close();
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('a send with ref gets a delivery report before any outcome [SB-4.3-3]', async (t) => {
  const { broker, url } = await startBroker(t);
  const a = await Peer.named(url, 'a');
  const b = await Peer.named(url, 'b');
  a.send({ action: 'send', dest: ['b', 'nobody'], message: 1, ref: 's1' });
  t.same(await a.next(), { action: 'sent', ref: 's1', delivered: ['b'], unknown: ['nobody'] });
  a.send({ action: 'send', dest: ['nobody'], message: 1, ref: 's2', ack: 'r2' });
  t.same(await a.next(), { action: 'sent', ref: 's2', ack: 'r2', delivered: [], unknown: ['nobody'] });
  t.match(await a.next(), { action: 'error', code: 'no_responders', ack: 'r2' });
  await a.close();
  await b.close();
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('more destinations than maxDestinations are refused and nothing is delivered [SB-4.3-4]', async (t) => {
  const { broker, url } = await startBroker(t, { limits: { maxDestinations: 2 } });
  const a = await Peer.named(url, 'a');
  const b = await Peer.named(url, 'b');
  a.send({ action: 'send', dest: ['b', 'x', 'y'], message: 1, ack: 'r1' });
  t.match(await a.next(), { code: 'limit_exceeded', ack: 'r1', limit: 'maxDestinations' });
  t.same(await b.quiet(50), []);
  await a.close();
  await b.close();
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('a body nested too deeply to forward is refused before any delivery [SB-4.3-5]', async (t) => {
  const { broker, url } = await startBroker(t);
  const a = await Peer.named(url, 'a');
  const b = await Peer.named(url, 'b');
  const depth = 30_000;
  a.send(`{"action":"send","dest":"b","ack":"deep","message":${'['.repeat(depth)}${']'.repeat(depth)}}`);
  t.match(await a.next(), { action: 'error', code: 'bad_frame', ack: 'deep', path: '/message' });
  t.same(await b.quiet(50), [], 'nothing half-sent');
  a.send({ action: 'send', dest: 'b', message: 'still fine' });
  t.match(await b.next(isMessage), { message: 'still fine' });
  await a.close();
  await b.close();
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('a request gets the first answer, with the sender\'s own ack and the name it reached [SB-6-7] [SB-6-3]', async (t) => {
  const { broker, url } = await startBroker(t);
  const a = await Peer.named(url, 'a');
  const b = await Peer.named(url, 'calc');
  a.send({ action: 'send', dest: 'calc', message: { add: [1, 2] }, ack: 'r1' });
  const msg = await b.next(isMessage);
  t.match(msg, { message: { add: [1, 2] }, from: 'a' });
  t.type(msg.ack, 'string');
  t.not(msg.ack, 'r1', 'the receiver never sees the sender\'s ack');
  t.ok((msg.ack as string).length >= 21, 'delivery ids carry at least 120 bits');
  b.send({ action: 'answer', ack: msg.ack as string, message: 3 });
  t.same(await a.next(), { action: 'answer', ack: 'r1', from: 'calc', message: 3 });
  const heldAfter = { connections: 2, names: 2, pending: 0, deliveries: 0 };
  t.same(await drained(broker, 500, heldAfter), heldAfter);
  await a.close();
  await b.close();
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('a message is forwarded as the sender wrote it; maxDepth levels pass, one more is refused [SB-4.3-5]', async (t) => {
  const { broker, url } = await startBroker(t, { limits: { maxDepth: 3 } });
  const a = await Peer.named(url, 'a');
  const b = await Peer.named(url, 'b');
  const raw: string[] = [];
  b.ws.on('message', (data) => raw.push(data.toString()));
  const written = '{ "x" : [ 1.50 , "\\u00e9" ] ,\n "y": {"z": [true]} }';
  a.send(`{"action":"send","dest":"b","message":${written}}`);
  await b.next(isMessage);
  t.ok(raw[0].includes(`"message":${written},`), 'the same bytes, spacing and 1.50 included');
  a.send({ action: 'send', dest: 'b', message: [[[1]]], ack: 'ok' });
  t.match(await b.next(isMessage), { message: [[[1]]] }, '3 levels pass');
  a.send({ action: 'send', dest: 'b', message: [[[[1]]]], ack: 'deep', ref: 'd' });
  t.match(await a.next(), { code: 'bad_frame', path: '/message', ack: 'deep', ref: 'd' }, '4 levels are refused');
  t.same(await b.quiet(30), []);
  await a.close();
  await b.close();
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('an answer nested too deeply to forward is refused; the request waits for a usable one [SB-4.3-5] [SB-6-5]', async (t) => {
  const { broker, url } = await startBroker(t);
  const a = await Peer.named(url, 'a');
  const b = await Peer.named(url, 'b');
  a.send({ action: 'send', dest: 'b', message: 1, ack: 'r1' });
  const msg = await b.next(isMessage);
  const depth = 30_000;
  b.send(`{"action":"answer","ack":"${msg.ack}","message":${'['.repeat(depth)}${']'.repeat(depth)}}`);
  t.match(await b.next(), { action: 'error', code: 'bad_frame', ack: msg.ack, path: '/message' });
  t.same(await a.quiet(50), []);
  b.send({ action: 'answer', ack: msg.ack as string, message: 'flat' });
  t.same(await a.next(), { action: 'answer', ack: 'r1', from: 'b', message: 'flat' });
  t.equal(broker.stats().internalErrors, 0);
  await a.close();
  await b.close();
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('an answer without message is delivered as null [SB-4.4]', async (t) => {
  const { broker, url } = await startBroker(t);
  const a = await Peer.named(url, 'a');
  const b = await Peer.named(url, 'b');
  a.send({ action: 'send', dest: 'b', message: 1, ack: 'r1' });
  const msg = await b.next(isMessage);
  b.send({ action: 'answer', ack: msg.ack as string });
  t.same(await a.next(), { action: 'answer', ack: 'r1', from: 'b', message: null });
  await a.close();
  await b.close();
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('first answer wins over several receivers; later answers are dropped quietly and counted [SB-6-7] [SB-4.4-2]', async (t) => {
  const { broker, url } = await startBroker(t);
  const a = await Peer.named(url, 'a');
  const b = await Peer.named(url, 'b');
  const c = await Peer.named(url, 'c');
  a.send({ action: 'send', dest: ['b', 'c'], message: 'q', ack: 'r1' });
  const [mb, mc] = await Promise.all([b.next(isMessage), c.next(isMessage)]);
  t.not(mb.ack, mc.ack, 'every receiver has its own delivery id');
  c.send({ action: 'answer', ack: mc.ack as string, message: 'from c' });
  t.same(await a.next(), { action: 'answer', ack: 'r1', from: 'c', message: 'from c' });
  t.same(await b.next(), { action: 'cancel', ack: mb.ack, reason: 'answered' }, 'the loser may stop working [SB-6.1-2]');
  b.send({ action: 'answer', ack: mb.ack as string, message: 'from b' });
  t.same(await b.quiet(50), [], 'the loser is not told off');
  t.same(await a.quiet(50), [], 'the sender hears one outcome');
  t.equal(broker.stats().lateAnswers, 1);
  for (const p of [a, b, c]) await p.close();
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('an error answer is the outcome for an extended sender [SB-6-7]', async (t) => {
  const { broker, url } = await startBroker(t);
  const a = await Peer.named(url, 'a');
  const b = await Peer.named(url, 'b');
  a.send({ action: 'send', dest: 'b', message: 1, ack: 'r1' });
  const msg = await b.next(isMessage);
  b.send({ action: 'answer', ack: msg.ack as string, error: { code: 'div_zero', message: 'no' } });
  t.same(await a.next(), { action: 'answer', ack: 'r1', from: 'b', error: { code: 'div_zero', message: 'no' } });
  await a.close();
  await b.close();
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('a legacy sender never hears an error answer; it ends only that delivery [SB-6-11] [SB-2-3]', async (t) => {
  const { broker, url } = await startBroker(t);
  const a = await Peer.named(url, 'a', { extended: false });
  const b = await Peer.named(url, 'b');
  const c = await Peer.named(url, 'c');
  a.send({ action: 'send', dest: ['b', 'c'], message: 1, ack: 'r1' });
  const [mb, mc] = await Promise.all([b.next(isMessage), c.next(isMessage)]);
  b.send({ action: 'answer', ack: mb.ack as string, error: { code: 'nope', message: 'no' } });
  t.same(await a.quiet(50), []);
  c.send({ action: 'answer', ack: mc.ack as string, message: 'yes' });
  t.same(await a.next(), { action: 'answer', ack: 'r1', from: 'c', message: 'yes' });
  a.send({ action: 'send', dest: ['nobody'], message: 1, ack: 'r2' });
  t.same(await a.quiet(50), [], 'no_responders is silent for legacy');
  for (const p of [a, b, c]) await p.close();
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('correlation ids are scoped to their sender [SB-6-1]', async (t) => {
  const { broker, url } = await startBroker(t);
  const s1 = await Peer.named(url, 's1');
  const s2 = await Peer.named(url, 's2');
  const r = await Peer.named(url, 'r');
  s1.send({ action: 'send', dest: 'r', message: 'one', ack: 'same' });
  s2.send({ action: 'send', dest: 'r', message: 'two', ack: 'same' });
  const m1 = await r.next(isMessage);
  const m2 = await r.next(isMessage);
  r.send({ action: 'answer', ack: m2.ack as string, message: `re ${m2.message}` });
  r.send({ action: 'answer', ack: m1.ack as string, message: `re ${m1.message}` });
  t.same(await s1.next(), { action: 'answer', ack: 'same', from: 'r', message: 're one' });
  t.same(await s2.next(), { action: 'answer', ack: 'same', from: 'r', message: 're two' });
  t.same(await s1.quiet(30), []);
  for (const p of [s1, s2, r]) await p.close();
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('a pending ack reused by the same sender is refused; the pending request is unaffected [SB-6-2]', async (t) => {
  const { broker, url } = await startBroker(t);
  const a = await Peer.named(url, 'a');
  const b = await Peer.named(url, 'b');
  a.send({ action: 'send', dest: 'b', message: 'first', ack: 'r1' });
  const msg = await b.next(isMessage);
  a.send({ action: 'send', dest: 'b', message: 'second', ack: 'r1' });
  t.match(await a.next(), { action: 'error', code: 'duplicate_ack', ack: 'r1' });
  t.same(await b.quiet(50), [], 'the duplicate was delivered to no one');
  b.send({ action: 'answer', ack: msg.ack as string, message: 'ok' });
  t.same(await a.next(), { action: 'answer', ack: 'r1', from: 'b', message: 'ok' });
  a.send({ action: 'send', dest: 'b', message: 'third', ack: 'r1' });
  t.match(await b.next(isMessage), { message: 'third' }, 'an ack is free again after its outcome');
  await a.close();
  await b.close();
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('only the receiver of a delivery id can answer with it [SB-6-4] [SB-4.4-1]', async (t) => {
  const { broker, url } = await startBroker(t);
  const a = await Peer.named(url, 'a');
  const b = await Peer.named(url, 'b');
  const spy = await Peer.named(url, 'spy');
  a.send({ action: 'send', dest: 'b', message: 1, ack: 'r1' });
  const msg = await b.next(isMessage);
  spy.send({ action: 'answer', ack: msg.ack as string, message: 'spoofed' });
  t.match(await spy.next(), { action: 'error', code: 'unknown_ack', ack: msg.ack });
  spy.send({ action: 'answer', ack: 'r1', message: 'guessed' });
  t.match(await spy.next(), { action: 'error', code: 'unknown_ack', ack: 'r1' });
  t.same(await a.quiet(50), [], 'nothing reached the sender');
  b.send({ action: 'answer', ack: msg.ack as string, message: 'real' });
  t.same(await a.next(), { action: 'answer', ack: 'r1', from: 'b', message: 'real' });
  for (const p of [a, b, spy]) await p.close();
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('no responders: the outcome comes at once and nothing stays pending [SB-6-6]', async (t) => {
  const { broker, url } = await startBroker(t);
  const a = await Peer.named(url, 'a');
  const started = Date.now();
  a.send({ action: 'send', dest: ['x', 'y'], message: 1, ack: 'r1' });
  t.match(await a.next(), { action: 'error', code: 'no_responders', ack: 'r1' });
  t.ok(Date.now() - started < 2000, 'not after a deadline (the default is 30 s; slack for a busy machine)');
  t.equal(broker.stats().pending, 0);
  await a.close();
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('deadline: timeout outcome, receivers told to cancel, too long a timeout is refused [SB-6-8] [SB-4.4-2]', async (t) => {
  const { broker, url } = await startBroker(t, { limits: { maxTimeoutMs: 1000, defaultTimeoutMs: 1000 } });
  const a = await Peer.named(url, 'a');
  const b = await Peer.named(url, 'b');
  a.send({ action: 'send', dest: 'b', message: 1, ack: 'r1', timeout: 50 });
  const msg = await b.next(isMessage);
  t.match(await a.next(), { action: 'error', code: 'timeout', ack: 'r1' });
  t.same(await b.next(), { action: 'cancel', ack: msg.ack, reason: 'timeout' });
  b.send({ action: 'answer', ack: msg.ack as string, message: 'too late' });
  t.same(await b.quiet(30), [], 'a late answer is dropped quietly');
  t.same(await a.quiet(30), []);
  a.send({ action: 'send', dest: 'b', message: 1, ack: 'r2', timeout: 1001 });
  t.match(await a.next(), { action: 'error', code: 'limit_exceeded', ack: 'r2', limit: 'maxTimeoutMs' });
  await a.close();
  await b.close();
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('the default deadline applies when none is asked for, also for legacy senders [SB-6-8] [SB-6-11]', async (t) => {
  const { broker, url } = await startBroker(t, { limits: { defaultTimeoutMs: 50 } });
  const a = await Peer.named(url, 'a');
  const legacy = await Peer.named(url, 'legacy', { extended: false });
  const b = await Peer.named(url, 'b');
  a.send({ action: 'send', dest: 'b', message: 1, ack: 'r1' });
  legacy.send({ action: 'send', dest: 'b', message: 1, ack: 'r1' });
  t.match(await a.next(), { action: 'error', code: 'timeout', ack: 'r1' });
  const heldAfter = { connections: 3, names: 3, pending: 0, deliveries: 0 };
  t.same(await drained(broker, 500, heldAfter), heldAfter, 'the legacy request was freed');
  t.same(await legacy.quiet(20), []);
  for (const p of [a, legacy, b]) await p.close();
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('responder gone: when every receiver leaves or unregisters, at once [SB-6-9]', async (t) => {
  const { broker, url } = await startBroker(t);
  const a = await Peer.named(url, 'a');
  const b = await Peer.named(url, 'b');
  const c = await Peer.named(url, 'c');
  a.send({ action: 'send', dest: ['b', 'c'], message: 1, ack: 'r1' });
  await Promise.all([b.next(isMessage), c.next(isMessage)]);
  b.ws.terminate();
  t.same(await a.quiet(50), [], 'c can still answer');
  c.send({ action: 'unregister', id: 'c' });
  t.match(await a.next(), { action: 'error', code: 'responder_gone', ack: 'r1' });
  await a.close();
  await c.close();
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('a sender that disconnects frees its pending requests at once; answers then drop quietly [SB-6-10]', async (t) => {
  const { broker, url } = await startBroker(t);
  const a = await Peer.named(url, 'a');
  const b = await Peer.named(url, 'b');
  for (let i = 0; i < 5; i++) a.send({ action: 'send', dest: 'b', message: i, ack: `r${i}` });
  const first = await b.next(isMessage);
  for (let i = 1; i < 5; i++) await b.next(isMessage);
  t.equal(broker.stats().pending, 5);
  await a.close();
  const heldAfter = { connections: 1, names: 1, pending: 0, deliveries: 0 };
  t.same(await drained(broker, 1000, heldAfter), heldAfter);
  for (let i = 0; i < 5; i++) t.match(await b.next((f) => f.action === 'cancel'), { reason: 'sender_gone' });
  b.send({ action: 'answer', ack: first.ack as string, message: 'anyone?' });
  t.same(await b.quiet(30), [], 'answers to a departed sender are dropped quietly');
  await b.close();
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('pending requests are capped per connection and in total [SB-6-12]', async (t) => {
  const { broker, url } = await startBroker(t, { limits: { maxPendingPerConnection: 2, maxPendingTotal: 3 } });
  const a = await Peer.named(url, 'a');
  const a2 = await Peer.named(url, 'a2');
  const b = await Peer.named(url, 'b');
  for (const ack of ['1', '2', '3']) a.send({ action: 'send', dest: 'b', message: 1, ack });
  t.match(await a.next(), { code: 'limit_exceeded', ack: '3', limit: 'maxPendingPerConnection' });
  a2.send({ action: 'send', dest: 'b', message: 1, ack: '1' });
  a2.send({ action: 'send', dest: 'b', message: 1, ack: '2' });
  t.match(await a2.next(), { code: 'limit_exceeded', ack: '2', limit: 'maxPendingTotal' });
  t.equal(broker.stats().pending, 3);
  for (const p of [a, a2, b]) await p.close();
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('every accepted request of an extended sender ends in exactly one outcome [SB-6-5]', async (t) => {
  const { broker, url } = await startBroker(t);
  const sender = await Peer.named(url, 'sender');
  const answering = await Peer.named(url, 'answering');
  const erring = await Peer.named(url, 'erring');
  const silent = await Peer.named(url, 'silent');
  const leaving = await Peer.named(url, 'leaving');
  const plan = ['answering', 'erring', 'silent', 'leaving', 'nobody', ['answering', 'erring'], ['silent', 'nobody']];
  const rounds = 6;
  for (let i = 0; i < rounds; i++) {
    for (const [j, dest] of plan.entries()) {
      sender.send({ action: 'send', dest, message: i, ack: `${i}.${j}`, timeout: 200 });
    }
  }
  const answer = (peer: Peer, frame: Record<string, unknown>) =>
    peer.send({ action: 'answer', ack: frame.ack as string, ...frame });
  answering.ws.on('message', (data) => {
    const f = JSON.parse(data.toString());
    if (f.action === 'message') answer(answering, { ack: f.ack, message: 'ok' });
  });
  erring.ws.on('message', (data) => {
    const f = JSON.parse(data.toString());
    if (f.action === 'message') answer(erring, { ack: f.ack, error: { code: 'no', message: 'no' } });
  });
  await leaving.next((f) => f.action === 'message');
  leaving.ws.terminate();
  const expected = rounds * plan.length;
  const outcomes = new Map<string, number>();
  const deadline = Date.now() + 3000;
  while (outcomes.size < expected && Date.now() < deadline) {
    const f = await sender.next((f) => f.action === 'answer' || f.action === 'error', 1000);
    outcomes.set(f.ack as string, (outcomes.get(f.ack as string) ?? 0) + 1);
  }
  t.equal(outcomes.size, expected, 'every request has an outcome');
  t.same(await sender.quiet(300), [], 'and no request has a second one');
  t.ok([...outcomes.values()].every((n) => n === 1));
  for (const p of [sender, answering, erring, silent]) await p.close();
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('a receiver reached by several names loses the request when it releases the name it was reached by, not another [SB-6-7] [SB-6-9]', async (t) => {
  const { broker, url } = await startBroker(t);
  const web = await Peer.named(url, 'web');
  const calc = await Peer.named(url, 'calc');
  calc.send({ action: 'register', id: 'calc-2' });
  await calc.next((f) => f.action === 'registered' && f.id === 'calc-2');
  const isMessage = (f: Record<string, unknown>) => f.action === 'message';

  web.send({ action: 'send', dest: ['calc', 'calc-2'], message: 'one', ack: 'r1' });
  await calc.next(isMessage);
  calc.send({ action: 'unregister', id: 'calc' });
  t.match(await web.next((f) => f.ack === 'r1'), { action: 'error', code: 'responder_gone', ack: 'r1' }, 'the name it was reached by (the first of dest) is gone');

  calc.send({ action: 'register', id: 'calc' });
  await calc.next((f) => f.action === 'registered' && f.id === 'calc');
  web.send({ action: 'send', dest: ['calc', 'calc-2'], message: 'two', ack: 'r2' });
  const m = await calc.next(isMessage);
  calc.send({ action: 'unregister', id: 'calc-2' });
  await calc.next((f) => f.action === 'unregistered');
  calc.send({ action: 'answer', ack: m.ack as string, message: 2 });
  t.match(await web.next((f) => f.ack === 'r2'), { action: 'answer', from: 'calc', message: 2 }, 'releasing another name of dest changes nothing');
  for (const p of [web, calc]) await p.close();
  t.same(await drained(broker), NOTHING_HELD);
});
