/**
 * The client's parts on their own, without a broker: backoff, the bounded queue, the emitter, option
 * validation, the tolerant frame reader, error answers, and the call-site stack of errors.
 */
import t from 'tap';
import { backoffDelay, DEFAULT_RECONNECT } from '../../lib/client/backoff.js';
import { Emitter } from '../../lib/client/emitter.js';
import { Failure, SwitchboardError } from '../../lib/client/errors.js';
import { readBrokerFrame } from '../../lib/client/frames.js';
import { Client } from '../../lib/client/node.js';
import { resolveOptions, randomName } from '../../lib/client/options.js';
import { BoundedQueue } from '../../lib/client/queue.js';
import { PendingOperations } from '../../lib/client/requests.js';
import { answerErrorOf, createContext, exceedsBytes, runHandler } from '../../lib/client/responder.js';
import { isName } from '../../lib/protocol/index.js';

t.test('backoff grows by the factor up to the cap, and jitter takes at most its fraction off', async (t) => {
  const none = () => 0;
  const most = () => 0.999999;
  t.same([0, 1, 2, 3].map((n) => backoffDelay(DEFAULT_RECONNECT, n, none)), [100, 200, 400, 800]);
  t.equal(backoffDelay(DEFAULT_RECONNECT, 50, none), 10_000, 'capped at maxDelayMs');
  t.equal(backoffDelay(DEFAULT_RECONNECT, 5000, none), 10_000, 'a huge attempt count does not overflow the cap');
  t.equal(backoffDelay(DEFAULT_RECONNECT, 0, most), 50, 'jitter 0.5 keeps at least half the delay');
  t.equal(backoffDelay({ ...DEFAULT_RECONNECT, jitter: 0 }, 2, most), 400, 'jitter 0 is exact');
  for (let n = 0; n < 20; n++) {
    const delay = backoffDelay(DEFAULT_RECONNECT, n);
    const base = Math.min(10_000, 100 * 2 ** n);
    t.ok(delay >= base / 2 && delay <= base, `attempt ${n}: ${delay} within [${base / 2}, ${base}]`);
  }
});

t.test('the bounded queue keeps order, refuses past its capacity, and lets items leave from the middle', async (t) => {
  const q = new BoundedQueue<string>(3);
  t.ok(q.push('a') && q.push('b') && q.push('c'));
  t.notOk(q.push('d'), 'full');
  t.ok(q.delete('b'));
  t.ok(q.push('d'), 'room again after a delete');
  t.equal(q.peek(), 'a');
  t.equal(q.shift(), 'a');
  t.same(q.drain(), ['c', 'd']);
  t.equal(q.size, 0);
  t.equal(q.shift(), undefined);
});

t.test('a queued operation that times out or settles leaves the queue and the in-flight map', async (t) => {
  const ops = new PendingOperations(2, 10);
  const make = () => ops.create<string>({ kind: 'request', dest: 'x', head: '{"action":"send","dest":"x","message":1', report: false, deadline: Date.now() + 1000 });
  const a = make();
  const b = make();
  ops.queue.push(a);
  ops.queue.push(b);
  a.arm(5);
  const failure = await a.outcome;
  t.ok(failure instanceof Failure && failure.code === 'timeout', 'it ends in a timeout failure');
  t.equal(ops.queue.size, 1, 'the expired one left the queue');
  ops.queue.shift();
  t.match(b.head, /"message":1$/, 'a queued operation keeps its frame until it is sent');
  ops.track(b, ops.nextId());
  t.equal(ops.inFlight, 1);
  t.equal(b.head, '', 'an operation in flight has let go of its frame (and the message in it)');
  b.resolve('done');
  b.fail('closed', 'ignored: already settled');
  t.equal(await b.outcome, 'done');
  t.equal(ops.inFlight, 0, 'the settled one left the map');
});

t.test('the emitter calls listeners in order, supports once and off, and survives a throwing listener', async (t) => {
  class E extends Emitter<{ ping: [n: number]; error: [e: Error] }> {
    fire(n: number) {
      return this.emit('ping', n);
    }
    fail() {
      return this.emit('error', new Error('x'));
    }
  }
  const e = new E();
  const seen: string[] = [];
  const a = (n: number) => seen.push(`a${n}`);
  e.on('ping', a).once('ping', (n) => seen.push(`once${n}`));
  e.fire(1);
  e.fire(2);
  e.off('ping', a);
  t.equal(e.fire(3), false, 'no listener left');
  t.same(seen, ['a1', 'once1', 'a2']);
  t.equal(e.fail(), false, 'an error event without listener is dropped, not thrown');
  const thrown = new Promise<unknown>((resolve) => process.once('uncaughtException', resolve));
  e.on('ping', () => {
    throw new Error('listener bug');
  });
  e.on('ping', (n) => seen.push(`after${n}`));
  t.doesNotThrow(() => e.fire(4), 'the emitter does not throw at its caller');
  t.same(seen.at(-1), 'after4', 'later listeners still run');
  t.match(await thrown, { message: 'listener bug' }, 'the error surfaces as an uncaught exception');
});

t.test('options are validated once and every problem is reported together', async (t) => {
  const error = (() => {
    try {
      resolveOptions(['http://x', 'ws://ok'], { name: 'bad name', requestTimeoutMs: 0, maxQueue: -1, reconnect: { jitter: 2, factor: 0.5 } });
    } catch (e) {
      return e as SwitchboardError;
    }
    return undefined;
  })();
  t.ok(error instanceof SwitchboardError);
  t.equal(error?.code, 'invalid_argument');
  for (const part of ['http://x', 'bad name', 'requestTimeoutMs', 'maxQueue', 'reconnect.jitter', 'reconnect.factor']) {
    t.match(error?.message, part, `mentions ${part}`);
  }
  const ok = resolveOptions('ws://127.0.0.1:1/', { WebSocket: class {} as never });
  t.ok(Object.isFrozen(ok));
  t.equal(ok.names.length, 1, 'a random name when none is given');
  t.ok(isName(ok.names[0]) && ok.names[0].startsWith('anon-'));
  t.not(randomName(), randomName());
  t.throws(() => resolveOptions('ws://x/', { WebSocket: undefined }), { code: 'invalid_argument' }, 'no WebSocket in Node core');
  t.throws(() => new Client([]), { code: 'invalid_argument' }, 'the constructor throws');
});

t.test('the frame reader ignores unknown fields and frames, and reports unreadable ones', async (t) => {
  t.same(readBrokerFrame('{"action":"registered","id":"a","extra":1}'), { kind: 'frame', frame: { action: 'registered', id: 'a' } });
  t.same(readBrokerFrame('{"action":"answer","ack":"1","from":"b"}'), {
    kind: 'frame',
    frame: { action: 'answer', ack: '1', from: 'b', message: null },
  }, 'an answer without message means null');
  t.same(readBrokerFrame('{"action":"future","x":1}'), { kind: 'unknown', action: 'future' });
  for (const bad of ['nope', '[1]', '{"id":1}', '{"action":"registered"}', '{"action":"error","code":1,"message":""}', '{"action":"sent","ref":"r","delivered":[1],"unknown":[]}']) {
    t.equal(readBrokerFrame(bad).kind, 'invalid', bad);
  }
  t.equal(readBrokerFrame(new Uint8Array(2)).kind, 'invalid', 'binary');
});

t.test('the frame reader reads the routing frames: published, gathered, subscribed, and messages with topic and event', async (t) => {
  t.same(readBrokerFrame('{"action":"message","message":1,"from":"p","topic":"news.uk","context":"news","event":"e"}'), {
    kind: 'frame',
    frame: { action: 'message', message: 1, from: 'p', topic: 'news.uk', context: 'news', event: 'e' },
  });
  t.same(readBrokerFrame('{"action":"subscribed","topic":"news"}'), { kind: 'frame', frame: { action: 'subscribed', topic: 'news' } });
  t.same(readBrokerFrame('{"action":"published","receivers":3,"ref":"1"}'), { kind: 'frame', frame: { action: 'published', receivers: 3, ref: '1' } });
  const gathered = '{"action":"gathered","ack":"2","results":[{"from":"a","message":1},{"from":"b","error":{"code":"x","message":"y"}},{"from":"c","code":"timeout"},{"from":"d","code":"later"}]}';
  t.same(readBrokerFrame(gathered), {
    kind: 'frame',
    frame: {
      action: 'gathered',
      ack: '2',
      results: [{ from: 'a', message: 1 }, { from: 'b', error: { code: 'x', message: 'y' } }, { from: 'c', code: 'timeout' }, { from: 'd', code: 'timeout' }],
    },
  }, 'a failure code this client does not know reads as timeout');
  for (const bad of [
    '{"action":"published","receivers":-1}',
    '{"action":"gathered","ack":"1","results":[{"message":1}]}',
    '{"action":"gathered","ack":"1","results":[{"from":"a","error":{"code":1}}]}',
    '{"action":"message","message":1,"from":"p","topic":7}',
    '{"action":"unsubscribed"}',
  ]) {
    t.equal(readBrokerFrame(bad).kind, 'invalid', bad);
  }
});

t.test('names in the options may carry shared and durable; a name given twice must agree', async (t) => {
  const WebSocket = class {} as never;
  const ok = resolveOptions('ws://x/', { WebSocket, name: 'a', names: [{ name: 'pool', shared: true }, 'a', { name: 'box', durable: true }] });
  t.same(ok.names, ['a', 'pool', 'box']);
  t.same(ok.registrations, [{ name: 'a', shared: false, durable: false }, { name: 'pool', shared: true, durable: false }, { name: 'box', shared: false, durable: true }]);
  t.throws(() => resolveOptions('ws://x/', { WebSocket, names: ['a', { name: 'a', shared: true }] }), { code: 'invalid_argument', message: /given twice/ });
  t.throws(() => resolveOptions('ws://x/', { WebSocket, names: [{ name: 'a', durable: 'yes' as never }] }), { code: 'invalid_argument', message: /durable must be a boolean/ });
  t.throws(() => resolveOptions('ws://x/', { WebSocket, names: [{ name: 'bad name' }] }), { code: 'invalid_argument', message: /bad name/ });
});

t.test('a thrown error becomes an answer error with its code when valid, else handler_error', async (t) => {
  t.same(answerErrorOf(Object.assign(new Error('nope'), { code: 'division_by_zero' })), { code: 'division_by_zero', message: 'nope' });
  t.same(answerErrorOf(Object.assign(new Error('x'), { code: 42 })), { code: 'handler_error', message: 'x' });
  t.same(answerErrorOf(Object.assign(new Error('x'), { code: 'c'.repeat(65) })).code, 'handler_error', 'too long a code');
  t.same(answerErrorOf(Object.assign(new Error('x'), { code: '' })).code, 'handler_error', 'empty code');
  t.same(answerErrorOf('plain string'), { code: 'handler_error', message: 'plain string' });
  t.equal(answerErrorOf(new Error('m'.repeat(5000))).message.length, 1024, 'message cut to the schema maximum');
});

t.test('a context answers a request once, and refuses answers it cannot send', async (t) => {
  const sent: string[] = [];
  const ctx = createContext({ from: 'web', ack: 'd1' }, (text) => sent.push(text) > 0, 100);
  t.equal(ctx.isRequest, true);
  t.equal(ctx.answer({ ok: 1 }), true);
  t.equal(ctx.answer(2), false, 'second answer refused');
  t.equal(ctx.fail('x', 'y'), false);
  t.same(sent.map((s) => JSON.parse(s)), [{ action: 'answer', ack: 'd1', message: { ok: 1 } }]);
  const big = createContext({ from: 'web', ack: 'd2' }, (text) => sent.push(text) > 0, 100);
  big.answer('x'.repeat(200));
  t.match(JSON.parse(sent.at(-1)!), { error: { code: 'answer_too_large' } });
  const circular: Record<string, unknown> = {};
  circular.self = circular;
  const bad = createContext({ from: 'web', ack: 'd3' }, (text) => sent.push(text) > 0, 1000);
  bad.answer(circular);
  t.match(JSON.parse(sent.at(-1)!), { error: { code: 'handler_error' } });
  const oneWay = createContext({ from: 'web' }, () => true, 100);
  t.equal(oneWay.answer(1), false, 'a message without ack cannot be answered');
  t.equal(exceedsBytes('é'.repeat(40), 79), true, 'counts UTF-8 bytes, not characters');
  t.equal(exceedsBytes('é'.repeat(40), 80), false);
});

t.test('a handler is answered at once when it returns a value, when its promise settles, and reports what it throws for a message without ack', async (t) => {
  const sent: string[] = [];
  const reported: SwitchboardError[] = [];
  const report = (error: SwitchboardError) => reported.push(error);
  const context = (ack?: string) => createContext(ack === undefined ? { from: 'web' } : { from: 'web', ack }, (text) => sent.push(text) > 0, 1000);

  runHandler((message) => message, 7, context('d1'), report);
  t.same(sent.map((text) => JSON.parse(text)), [{ action: 'answer', ack: 'd1', message: 7 }], 'a returned value is answered before runHandler returns');

  runHandler(async () => 'later', null, context('d2'), report);
  t.equal(sent.length, 1, 'a promise is answered when it settles, not before');
  await new Promise((resolve) => setImmediate(resolve));
  t.same(JSON.parse(sent[1]), { action: 'answer', ack: 'd2', message: 'later' });

  runHandler(() => {
    throw Object.assign(new Error('no'), { code: 'refused' });
  }, null, context('d3'), report);
  t.same(JSON.parse(sent[2]), { action: 'answer', ack: 'd3', error: { code: 'refused', message: 'no' } }, 'a throw is an error answer');

  runHandler(() => {
    throw new Error('lost');
  }, null, context(), report);
  runHandler(() => Promise.reject(new Error('lost later')), null, context(), report);
  await new Promise((resolve) => setImmediate(resolve));
  t.equal(sent.length, 3, 'a message without ack is never answered');
  t.same(reported.map((error) => [error.code, error.message]), [
    ['handler_error', 'the handler failed for a message from web: lost'],
    ['handler_error', 'the handler failed for a message from web: lost later'],
  ]);
});

t.test("an operation's error lists the async functions that await it, and a setup call's the line that made it", async (t) => {
  async function userCode() {
    return await new Client('ws://127.0.0.1:1/', { reconnect: false, connectTimeoutMs: 200 }).request('x', 1);
  }
  const error = (await userCode().catch((e: unknown) => e)) as SwitchboardError;
  t.ok(error instanceof SwitchboardError);
  t.equal(error.code, 'unreachable');
  t.match(error.stack, /^SwitchboardError \[unreachable\]: /);
  t.match(error.stack?.split('\n')[1], /at async userCode /, 'the first frame is the awaiting caller, not the client');
  function setupCode() {
    return new Client('ws://127.0.0.1:1/', { reconnect: false, connectTimeoutMs: 200 }).register('bad name');
  }
  const refused = (await setupCode().catch((e: unknown) => e)) as SwitchboardError;
  t.equal(refused.code, 'invalid_argument');
  t.match(refused.stack?.split('\n')[1], /setupCode/, 'a setup call keeps its call site, awaited or not');
});
