/**
 * Every outcome of a request and a send, through a real broker and real sockets (protocol.md section 6,
 * and the client codes of lib/client/errors.ts): each rejection carries its code, and the broker holds
 * nothing once the clients are gone.
 */
import t from 'tap';
import { drained, NOTHING_HELD, startBroker } from '../fixtures/broker.js';
import { client, fakeBroker, nextEvent, readyClient, rejection, until, within, WAIT_MS } from '../fixtures/clients.js';
import type { MessageContext, SwitchboardError } from '../../lib/client/node.js';

t.test('a request resolves with the answer and the name that answered; ctx says who asked', async (t) => {
  const { broker, url } = await startBroker(t);
  const calc = await readyClient(t, url, { name: 'calc' });
  const web = await readyClient(t, url, { name: 'web-7' });
  let seen: MessageContext | undefined;
  calc.handle((message, ctx) => {
    seen = ctx;
    const { args } = message as { args: number[] };
    return args[0] + args[1];
  });
  t.same(await web.request('calc', { op: 'add', args: [1, 2] }), { from: 'calc', message: 3 });
  t.equal(seen?.from, 'web-7');
  t.equal(seen?.isRequest, true);
  t.type(seen?.ack, 'string');
  calc.handle(() => undefined);
  t.same(await web.request('calc', 1), { from: 'calc', message: null }, 'a handler returning nothing answers null');
  await web.close();
  await calc.close();
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('a thrown error reaches the requester as responder_error with the remote code and message [SB-6-7]', async (t) => {
  const { url } = await startBroker(t);
  const calc = await readyClient(t, url, { name: 'calc' });
  const web = await readyClient(t, url, { name: 'web' });
  calc.handle((message) => {
    if (message === 'coded') throw Object.assign(new Error('cannot divide 1 by 0'), { code: 'division_by_zero' });
    throw new TypeError('oops');
  });
  const coded = await rejection(web.request('calc', 'coded'));
  t.match(coded, { code: 'responder_error', remoteCode: 'division_by_zero', remoteMessage: 'cannot divide 1 by 0', from: 'calc' });
  const uncoded = await rejection(web.request('calc', 'other'));
  t.match(uncoded, { code: 'responder_error', remoteCode: 'handler_error', remoteMessage: 'oops' });
});

t.test('no registered destination rejects with no_responders at once [SB-6-6]', async (t) => {
  const { broker, url } = await startBroker(t);
  const web = await readyClient(t, url, { name: 'web' });
  const started = Date.now();
  const error = await rejection(web.request(['nobody', 'no-one'], 1, { timeout: 10_000 }));
  t.equal(error.code, 'no_responders');
  t.same(error.dest, ['nobody', 'no-one']);
  t.ok(Date.now() - started < 1000, 'at once, not at the deadline');
  await web.close();
  t.same(await drained(broker), NOTHING_HELD);
});

t.test("the broker's deadline ends a request with timeout before the client's own timer [SB-6-8]", async (t) => {
  const { broker, url } = await startBroker(t);
  const slow = await readyClient(t, url, { name: 'slow' });
  const web = await readyClient(t, url, { name: 'web', timeoutGraceMs: 2000 });
  slow.handle(() => new Promise(() => {}));
  const started = Date.now();
  const error = await rejection(web.request('slow', 1, { timeout: 150 }));
  const took = Date.now() - started;
  t.equal(error.code, 'timeout');
  t.match(error.message, /deadline/, "the broker's message, not the client's backstop");
  t.ok(took >= 140 && took < 1500, `after about 150 ms (${took})`);
  await slow.close();
  await web.close();
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('when the broker never answers, the client still rejects with timeout after the grace', async (t) => {
  const fake = await fakeBroker(t); // registers, then ignores every send
  const web = await readyClient(t, fake.url, { name: 'web', timeoutGraceMs: 100 });
  const started = Date.now();
  const error = await rejection(web.request('x', 1, { timeout: 100 }));
  const took = Date.now() - started;
  t.equal(error.code, 'timeout');
  t.match(error.message, /no outcome from the broker/);
  t.ok(took >= 190 && took < 1500, `deadline plus grace (${took} ms)`);
  t.match(fake.frames.at(-1), { action: 'send', dest: 'x', timeout: 100 }, 'the broker was asked for the deadline');
  t.equal(web.pending.inFlight, 0, 'nothing left in flight');
});

t.test('a responder that leaves mid-request ends it with responder_gone at once [SB-6-9]', async (t) => {
  const { broker, url } = await startBroker(t);
  const worker = await readyClient(t, url, { name: 'worker' });
  const web = await readyClient(t, url, { name: 'web' });
  const received = nextEvent(worker, 'message');
  worker.handle(() => new Promise(() => {}));
  const pending = web.request('worker', 'job', { timeout: 10_000 });
  await received;
  const started = Date.now();
  await worker.close();
  const error = await rejection(pending);
  t.equal(error.code, 'responder_gone');
  t.ok(Date.now() - started < 1000, 'at once');
  await web.close();
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('the first answer wins among several destinations [SB-6-7]', async (t) => {
  const { url } = await startBroker(t);
  const fast = await readyClient(t, url, { name: 'fast' });
  const slow = await readyClient(t, url, { name: 'slow' });
  const web = await readyClient(t, url, { name: 'web' });
  let release: () => void = () => {};
  fast.handle(() => 'fast');
  slow.handle(() => new Promise((resolve) => (release = () => resolve('slow'))));
  t.same(await web.request(['slow', 'fast'], 1), { from: 'fast', message: 'fast' });
  release();
});

t.test("limits of the broker reject with limit_exceeded and name the limit [SB-6-8] [SB-4.3-4]", async (t) => {
  const { url } = await startBroker(t, { limits: { maxTimeoutMs: 1000, defaultTimeoutMs: 1000, maxDestinations: 2 } });
  const web = await readyClient(t, url, { name: 'web' });
  t.match(await rejection(web.request('web', 1, { timeout: 5000 })), { code: 'limit_exceeded', limit: 'maxTimeoutMs' });
  t.match(await rejection(web.send(['a', 'b', 'c'], 1)), { code: 'limit_exceeded', limit: 'maxDestinations' });
});

t.test('a message over maxMessageBytes is refused by the client before it is sent', async (t) => {
  const { broker, url } = await startBroker(t);
  const web = await readyClient(t, url, { name: 'web', maxMessageBytes: 1000 });
  const framesIn = broker.stats().framesIn;
  t.match(await rejection(web.request('web', 'x'.repeat(1000))), { code: 'too_large' });
  t.match(await rejection(web.send('web', 'é'.repeat(600))), { code: 'too_large' }, 'counted in UTF-8 bytes');
  t.equal(broker.stats().framesIn, framesIn, 'nothing reached the broker');
});

t.test("a frame over the broker's maxMessageBytes is refused with too_large, the connection kept [SB-9-1]", async (t) => {
  const { url } = await startBroker(t, { limits: { maxMessageBytes: 2000 } });
  const loose = await readyClient(t, url, { name: 'loose', maxMessageBytes: 3000 });
  const errors: SwitchboardError[] = [];
  loose.on('error', (e) => errors.push(e));
  const started = Date.now();
  const error = await rejection(loose.request('loose', 'x'.repeat(2500), { timeout: 5000 }));
  t.equal(error.code, 'too_large', 'the request ends with too_large: the error carries its ack [SB-7-2]');
  t.ok(Date.now() - started < 1000, 'at once');
  t.same(errors, [], 'nothing unattributed');
  t.equal(loose.status, 'ready', 'the connection stays');
});

t.test('a client that holds no name is refused with not_registered [SB-4.3-1]', async (t) => {
  const { url } = await startBroker(t);
  const web = await readyClient(t, url, { name: 'web' });
  await web.unregister();
  t.same(web.names, []);
  t.equal((await rejection(web.request('web', 1))).code, 'not_registered');
  t.equal((await rejection(web.send('web', 1))).code, 'not_registered');
  await web.register('web-again');
  t.same(web.names, ['web-again']);
  t.same(await web.send('web-again', 1), { delivered: ['web-again'], unknown: [] }, 'registered again at runtime');
});

t.test('register of a taken name rejects with name_taken and the holder keeps it [SB-4.1-2]', async (t) => {
  const { url } = await startBroker(t);
  const holder = await readyClient(t, url, { name: 'holder' });
  const other = await readyClient(t, url, { name: 'other' });
  const error = await within(other.register('holder').catch((e: SwitchboardError) => e), WAIT_MS, 'register');
  t.match(error, { code: 'name_taken', from: 'holder' });
  t.same(other.names, ['other'], 'not kept for a reconnect');
  holder.handle(() => 'mine');
  t.same(await other.request('holder', 1), { from: 'holder', message: 'mine' });
});

t.test('a send resolves with its delivery report; without report once written [SB-4.3-3]', async (t) => {
  const { url } = await startBroker(t);
  const printer = await readyClient(t, url, { name: 'printer-1' });
  const web = await readyClient(t, url, { name: 'web' });
  const got: unknown[] = [];
  printer.on('message', (message, ctx) => got.push([message, ctx.isRequest, ctx.from]));
  t.same(await web.send(['printer-1', 'printer-9'], 'hello'), { delivered: ['printer-1'], unknown: ['printer-9'] });
  t.equal(await web.send('printer-1', 'again', { report: false }), undefined);
  await until(() => got.length === 2, 'both messages arrived');
  t.same(got, [
    ['hello', false, 'web'],
    ['again', false, 'web'],
  ]);
});

t.test('a request to a client without handler gets responder_error no_handler at once', async (t) => {
  const { url } = await startBroker(t);
  await readyClient(t, url, { name: 'mute' });
  const web = await readyClient(t, url, { name: 'web' });
  t.match(await rejection(web.request('mute', 1, { timeout: 10_000 }), 1000), { code: 'responder_error', remoteCode: 'no_handler' });
});

t.test('an AbortSignal rejects with aborted, before or during the request', async (t) => {
  const { url } = await startBroker(t);
  const slow = await readyClient(t, url, { name: 'slow' });
  slow.handle(() => new Promise(() => {}));
  const web = await readyClient(t, url, { name: 'web' });
  const early = new AbortController();
  early.abort(new Error('changed my mind'));
  const before = await rejection(web.request('slow', 1, { signal: early.signal }));
  t.match(before, { code: 'aborted' });
  t.match((before.cause as Error).message, 'changed my mind');
  const late = new AbortController();
  const during = web.request('slow', 1, { signal: late.signal, timeout: 5000 });
  await until(() => web.pending.inFlight === 1, 'request in flight');
  late.abort();
  t.equal((await rejection(during)).code, 'aborted');
  t.equal(web.pending.inFlight, 0);
  await slow.close(); // the broker's outcome for the aborted request arrives later and is ignored
});

t.test('aborting a request in flight cancels it at the broker: the responder sees ctx.signal abort [SB-6.1-1]', async (t) => {
  const { broker, url } = await startBroker(t);
  const svc = await readyClient(t, url, { name: 'svc' });
  let signal: AbortSignal | undefined;
  svc.handle((_message, ctx) => {
    signal = ctx.signal;
    return new Promise(() => {});
  });
  const web = await readyClient(t, url, { name: 'web' });
  const controller = new AbortController();
  const request = rejection(web.request('svc', 1, { signal: controller.signal, timeout: 10_000 }));
  await until(() => signal !== undefined, 'the responder got the request');
  t.equal(signal?.aborted, false);
  controller.abort();
  t.equal((await request).code, 'aborted');
  await until(() => signal!.aborted, 'the responder was told');
  t.equal(signal?.reason, 'cancelled');
  await until(() => broker.stats().pending === 0, 'nothing pending at the broker');
});

t.test('the receivers that lost the race are told, and their answers go nowhere [SB-6.1-2]', async (t) => {
  const { url } = await startBroker(t);
  const signals: AbortSignal[] = [];
  const fast = await readyClient(t, url, { name: 'fast' });
  fast.handle(() => 'fast');
  const slow = await readyClient(t, url, { name: 'slow' });
  let late: MessageContext | undefined;
  slow.handle((_m, ctx) => {
    late = ctx;
    signals.push(ctx.signal);
    return new Promise(() => {});
  });
  const web = await readyClient(t, url, { name: 'web' });
  t.same(await web.request(['fast', 'slow'], 1), { from: 'fast', message: 'fast' });
  await until(() => signals.length === 1 && signals[0].aborted, 'the loser was cancelled');
  t.equal(signals[0].reason, 'answered');
  t.equal(late?.answer('too late'), false, 'a cancelled request is not answered');
});

t.test('bad arguments reject with invalid_argument; a closed client rejects with closed', async (t) => {
  const { url } = await startBroker(t);
  const web = await readyClient(t, url, { name: 'web' });
  const circular: Record<string, unknown> = {};
  circular.me = circular;
  for (const [what, promise] of [
    ['bad name', web.request('no spaces', 1)],
    ['empty dest list', web.request([], 1)],
    ['unserialisable', web.request('web', circular)],
    ['bigint', web.send('web', 1n)],
    ['bad timeout', web.request('web', 1, { timeout: -5 })],
  ] as const) {
    t.equal((await rejection(promise)).code, 'invalid_argument', what);
  }
  await web.close();
  t.equal((await rejection(web.request('web', 1))).code, 'closed');
  t.equal((await rejection(web.ready)).code, 'closed');
});

t.test('names like __proto__ and constructor are ordinary names [SB-3-3]', async (t) => {
  const { url } = await startBroker(t);
  const proto = await readyClient(t, url, { names: ['__proto__', 'constructor'] });
  proto.handle((message) => message);
  const web = await readyClient(t, url, { name: 'toString' });
  const body = JSON.parse('{"__proto__":{"polluted":true}}') as unknown;
  t.same(await web.request('__proto__', body), { from: '__proto__', message: body });
  t.equal(({} as { polluted?: boolean }).polluted, undefined, 'nothing polluted');
  t.same(await web.request('constructor', 2), { from: 'constructor', message: 2 });
});

t.test('a server that does not select switchboard.v1 is never used: the client gives up with protocol_error and the reason', async (t) => {
  const fake = await fakeBroker(t, { subprotocol: false });
  const c = client(t, fake.url, { name: 'x', reconnect: false });
  const error = await rejection(c.ready);
  t.equal(error.code, 'protocol_error');
  t.match(error.message, /subprotocol/, 'ws refuses the handshake and says why');
  t.equal(fake.frames.length, 0, 'not a frame was sent to it');
});

t.test('an unreadable frame from the broker is reported as protocol_error and the connection goes on', async (t) => {
  const fake = await fakeBroker(t, {
    onFrame: (ws, frame) => {
      ws.send('this is not json');
      ws.send(JSON.stringify({ action: 'a-future-frame' }));
      ws.send(JSON.stringify({ action: 'answer', ack: frame.ack, from: 'x', message: 'ok' }));
    },
  });
  const c = await readyClient(t, fake.url, { name: 'web' });
  const errors: SwitchboardError[] = [];
  c.on('error', (e) => errors.push(e));
  t.same(await c.request('x', 1), { from: 'x', message: 'ok' });
  t.match(errors, [{ code: 'protocol_error' }], 'one error: the unknown frame is skipped silently');
});
