/**
 * Trace context through the broker (protocol.md section 15): `trace` passed on unchanged from a send,
 * publish or broadcast to its messages and from an answer to its outcome, never shown to a legacy
 * client, and checked against the W3C grammar.
 */
import t from 'tap';
import { drained, NOTHING_HELD, startBroker } from '../fixtures/broker.js';
import { Peer, type Frame } from '../fixtures/peer.js';

const isMessage = (f: Frame) => f.action === 'message';
const TRACE = { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01', tracestate: 'congo=t61rcWkgMzE,rojo=00f067aa0ba902b7' };
const ANSWER_TRACE = { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-b7ad6b7169203331-01' };

t.test('a send trace reaches every extended receiver unchanged, and the answer trace comes back with the outcome [SB-15-1]', async (t) => {
  const { broker, url } = await startBroker(t);
  const web = await Peer.named(url, 'web');
  const calc = await Peer.named(url, 'calc');
  const log = await Peer.named(url, 'log');
  web.send({ action: 'send', dest: ['calc', 'log'], message: { op: 'add' }, trace: TRACE });
  t.same(await calc.next(isMessage), { action: 'message', message: { op: 'add' }, from: 'web', trace: TRACE });
  t.same(await log.next(isMessage), { action: 'message', message: { op: 'add' }, from: 'web', trace: TRACE });

  web.send({ action: 'send', dest: 'calc', message: 1, ack: 'r1', trace: TRACE, event: 'sum' });
  const m = await calc.next(isMessage);
  t.same(m, { action: 'message', message: 1, from: 'web', ack: m.ack, event: 'sum', trace: TRACE });
  calc.send({ action: 'answer', ack: m.ack as string, message: 2, trace: ANSWER_TRACE });
  t.same(await web.next(), { action: 'answer', ack: 'r1', from: 'calc', message: 2, trace: ANSWER_TRACE });

  web.send({ action: 'send', dest: 'calc', message: 'plain', ack: 'r2' });
  const plain = await calc.next(isMessage);
  t.same(plain, { action: 'message', message: 'plain', from: 'web', ack: plain.ack }, 'no trace in, no trace out');
  calc.send({ action: 'answer', ack: plain.ack as string, error: { code: 'nope', message: 'no' }, trace: ANSWER_TRACE });
  t.same(await web.next(), { action: 'answer', ack: 'r2', from: 'calc', error: { code: 'nope', message: 'no' }, trace: ANSWER_TRACE }, 'an error answer keeps its trace');
  for (const p of [web, calc, log]) await p.close();
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('publish, broadcast and gathered results carry their traces [SB-15-1]', async (t) => {
  const { broker, url } = await startBroker(t);
  const web = await Peer.named(url, 'web');
  const eu = await Peer.named(url, 'eu');
  const us = await Peer.named(url, 'us');
  eu.send({ action: 'subscribe', topic: 'prices' });
  await eu.next((f) => f.action === 'subscribed');
  web.send({ action: 'publish', topic: 'prices.eu', message: 7, trace: TRACE });
  t.same(await eu.next(isMessage), { action: 'message', message: 7, from: 'web', topic: 'prices.eu', context: 'prices', trace: TRACE });
  web.send({ action: 'broadcast', message: 'hi', trace: ANSWER_TRACE });
  t.same(await eu.next(isMessage), { action: 'message', message: 'hi', from: 'web', trace: ANSWER_TRACE });
  t.same(await us.next(isMessage), { action: 'message', message: 'hi', from: 'web', trace: ANSWER_TRACE });

  web.send({ action: 'send', dest: ['eu', 'us'], message: 'vote', ack: 'g1', gather: true, trace: TRACE });
  const [a, b] = await Promise.all([eu.next(isMessage), us.next(isMessage)]);
  t.same(a.trace, TRACE);
  eu.send({ action: 'answer', ack: a.ack as string, message: 'yes', trace: ANSWER_TRACE });
  us.send({ action: 'answer', ack: b.ack as string, error: { code: 'busy', message: 'later' } });
  t.same(await web.next((f) => f.action === 'gathered'), {
    action: 'gathered',
    ack: 'g1',
    results: [{ from: 'eu', message: 'yes', trace: ANSWER_TRACE }, { from: 'us', error: { code: 'busy', message: 'later' } }],
  });
  for (const p of [web, eu, us]) await p.close();
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('a trace survives a mailbox and a pool failover [SB-15-1]', async (t) => {
  const { broker, url } = await startBroker(t);
  const web = await Peer.named(url, 'web');
  const box = await Peer.connect(url);
  box.send({ action: 'register', id: 'box', durable: true });
  await box.next((f) => f.action === 'registered');
  await box.close();
  web.send({ action: 'send', dest: 'box', message: 'later', ack: 'q1', trace: TRACE, ref: 's1' });
  t.match(await web.next(), { action: 'sent', ref: 's1', queued: ['box'] });
  const back = await Peer.connect(url);
  back.send({ action: 'register', id: 'box' });
  const queued = await back.next(isMessage);
  t.same(queued, { action: 'message', message: 'later', from: 'web', ack: queued.ack, trace: TRACE });
  back.send({ action: 'answer', ack: queued.ack as string, message: 'done' });
  t.same(await web.next(), { action: 'answer', ack: 'q1', from: 'box', message: 'done' });

  const first = await Peer.connect(url);
  first.send({ action: 'register', id: 'pool', shared: true });
  await first.next((f) => f.action === 'registered');
  const second = await Peer.connect(url);
  second.send({ action: 'register', id: 'pool', shared: true });
  await second.next((f) => f.action === 'registered');
  web.send({ action: 'send', dest: 'pool', message: 'job', ack: 'p1', retry: true, trace: TRACE });
  const reached = (p: Peer) => p.received.some(isMessage);
  const deadline = Date.now() + 2000;
  while (!reached(first) && !reached(second) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
  t.ok(reached(first) || reached(second), 'one member got the job');
  const [got, other] = reached(first) ? [first, second] : [second, first];
  await got.close();
  t.same((await other.next(isMessage)).trace, TRACE, 'the member it moved to gets the trace too');
  for (const p of [web, back, other]) await p.close();
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('a legacy client never sees a trace, and its own trace reaches extended receivers [SB-15-2] [SB-2-3]', async (t) => {
  const { broker, url } = await startBroker(t);
  const web = await Peer.named(url, 'web');
  const old = await Peer.named(url, 'old', { extended: false });
  const calc = await Peer.named(url, 'calc');
  web.send({ action: 'send', dest: ['old', 'calc'], message: 'both', trace: TRACE });
  t.same(await old.next(isMessage), { action: 'message', message: 'both', from: 'web' });
  t.same((await calc.next(isMessage)).trace, TRACE, 'the extended receiver of the same send gets it');
  web.send({ action: 'send', dest: 'old', message: 'ask', ack: 'r1', trace: TRACE });
  const asked = await old.next(isMessage);
  t.same(asked, { action: 'message', message: 'ask', from: 'web', ack: asked.ack });
  web.send({ action: 'broadcast', message: 'all', trace: TRACE });
  t.same(await old.next(isMessage), { action: 'message', message: 'all', from: 'web' });

  old.send({ action: 'send', dest: 'calc', message: 'from old', ack: 'o1', trace: TRACE });
  const m = await calc.next((f) => f.message === 'from old');
  t.same(m.trace, TRACE, "a legacy sender's trace has its effect");
  calc.send({ action: 'answer', ack: m.ack as string, message: 'ok', trace: ANSWER_TRACE });
  t.same(await old.next((f) => f.action === 'answer'), { action: 'answer', ack: 'o1', from: 'calc', message: 'ok' }, 'its answer comes without trace');
  for (const p of [web, old, calc]) await p.close();
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('a trace that breaks the grammar is bad_frame naming the field, and nothing is delivered [SB-15-1] [SB-4.0-1]', async (t) => {
  const { broker, url } = await startBroker(t);
  const web = await Peer.named(url, 'web');
  const calc = await Peer.named(url, 'calc');
  const bad: Array<[unknown, string]> = [
    [{ traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7' }, '/trace/traceparent'],
    [{ traceparent: '00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01' }, '/trace/traceparent'],
    [{ traceparent: 42 }, '/trace/traceparent'],
    [{}, '/trace/traceparent'],
    [{ traceparent: TRACE.traceparent, tracestate: 'x'.repeat(513) }, '/trace/tracestate'],
    [{ traceparent: TRACE.traceparent, baggage: 'k=v' }, '/trace/baggage'],
    ['00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01', '/trace'],
  ];
  for (const [trace, path] of bad) {
    web.send({ action: 'send', dest: 'calc', message: 1, ack: 'r1', trace });
    t.match(await web.next(), { action: 'error', code: 'bad_frame', ack: 'r1', path }, JSON.stringify(trace));
  }
  calc.send({ action: 'answer', ack: 'made-up', message: 1, trace: { traceparent: 'nope' } });
  t.match(await calc.next(), { action: 'error', code: 'bad_frame', path: '/trace/traceparent' }, 'on answer too');
  t.same(await calc.quiet(50), [], 'nothing was delivered');
  for (const p of [web, calc]) await p.close();
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('the broker announces the trace feature [SB-15-1]', async (t) => {
  const { url } = await startBroker(t);
  const a = await Peer.connect(url);
  a.send({ action: 'hello' });
  t.ok(((await a.next()).features as string[]).includes('trace'));
  await a.close();
});
