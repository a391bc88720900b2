/**
 * The client's spans through `@opentelemetry/api` (protocol.md section 15, [SB-15-3]): a trace followed
 * across requester, broker and responder with OpenTelemetry's in-memory exporter, over a real broker and
 * real sockets. The tracer provider is registered for the whole file, then disabled for the last test.
 */
import t from 'tap';
import { context, SpanKind, SpanStatusCode, trace, type SpanContext } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import type { MessageContext } from '../../lib/client/node.js';
import { loadTracing } from '../../lib/client/trace.js';
import { startBroker } from '../fixtures/broker.js';
import { readyClient, rejection, until } from '../fixtures/clients.js';
import { Peer, type Frame } from '../fixtures/peer.js';

const exporter = new InMemorySpanExporter();
trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }));
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());

const REMOTE = { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01', tracestate: 'rojo=00f067aa0ba902b7' };

/** The finished spans once there are `n` of them (each test starts with none). */
async function spans(n: number): Promise<ReadableSpan[]> {
  await until(() => exporter.getFinishedSpans().length >= n, `${n} finished spans`);
  return exporter.getFinishedSpans();
}

function byKind(list: ReadableSpan[], kind: SpanKind): ReadableSpan {
  const found = list.filter((s) => s.kind === kind);
  if (found.length !== 1) throw new Error(`expected one span of kind ${kind}, got ${found.length}`);
  return found[0];
}

const traceparentOf = (sc: SpanContext) => `00-${sc.traceId}-${sc.spanId}-0${sc.traceFlags}`;

t.beforeEach(() => exporter.reset());

t.test('the API loads when the program has it', async (t) => {
  t.equal(await loadTracing(), true);
});

t.test('a request is one trace: the caller span, the handler span as its child, the answer back [SB-15-3]', async (t) => {
  const { url } = await startBroker(t);
  const calc = await readyClient(t, url, { name: 'calc' });
  let seen: { ctx: MessageContext; active: SpanContext | undefined } | undefined;
  calc.handle((message, ctx) => {
    seen = { ctx, active: trace.getActiveSpan()?.spanContext() };
    return (message as number[]).reduce((a, b) => a + b, 0);
  });
  const web = await readyClient(t, url, { name: 'web' });
  t.same(await web.request('calc', [1, 2]), { from: 'calc', message: 3 });

  const list = await spans(2);
  t.equal(list.length, 2, 'one span each side, none for the broker');
  const caller = byKind(list, SpanKind.CLIENT);
  const handler = byKind(list, SpanKind.SERVER);
  t.equal(caller.name, 'request calc');
  t.equal(handler.name, 'process');
  t.equal(handler.spanContext().traceId, caller.spanContext().traceId, 'one trace id across requester and responder');
  t.equal(handler.parentSpanContext?.spanId, caller.spanContext().spanId, 'the handler span is a child of the caller span');
  t.equal(handler.parentSpanContext?.isRemote, true);
  t.equal(caller.parentSpanContext, undefined, 'the caller span is a root: nothing was active');
  t.same(seen?.ctx.trace, { traceparent: traceparentOf(caller.spanContext()) }, 'the handler sees the incoming trace');
  t.same(seen?.active, handler.spanContext(), 'the handler runs with its span active');
  t.match(caller.attributes, {
    'messaging.system': 'switchboard',
    'messaging.operation.type': 'send',
    'messaging.operation.name': 'request',
    'messaging.destination.name': 'calc',
    'messaging.message.conversation_id': String,
  });
  t.match(handler.attributes, {
    'messaging.system': 'switchboard',
    'messaging.operation.type': 'process',
    'messaging.operation.name': 'process',
    'messaging.message.id': seen?.ctx.ack,
  });
  t.equal(caller.status.code, SpanStatusCode.UNSET);
  t.equal(handler.status.code, SpanStatusCode.UNSET);
  t.ok(handler.endTime[0] * 1e9 + handler.endTime[1] <= caller.endTime[0] * 1e9 + caller.endTime[1], 'the caller ends at the outcome, after the handler');
});

t.test("the handler's span is the child of the incoming trace, and its answer carries the handler span's context [SB-15-3] [SB-15-1]", async (t) => {
  const { url } = await startBroker(t);
  const calc = await readyClient(t, url, { name: 'calc' });
  calc.handle(() => 'ok');
  const raw = await Peer.named(url, 'raw');
  raw.send({ action: 'send', dest: 'calc', message: null, ack: 'r1', trace: REMOTE });
  const answer = await raw.next((f: Frame) => f.action === 'answer');
  const [handler] = await spans(1);
  t.equal(handler.spanContext().traceId, '4bf92f3577b34da6a3ce929d0e0e4736');
  t.equal(handler.parentSpanContext?.spanId, '00f067aa0ba902b7');
  t.equal(handler.spanContext().traceState?.get('rojo'), '00f067aa0ba902b7', 'tracestate is taken in');
  t.same(answer, {
    action: 'answer',
    ack: 'r1',
    from: 'calc',
    message: 'ok',
    trace: { traceparent: traceparentOf(handler.spanContext()), tracestate: 'rojo=00f067aa0ba902b7' },
  });

  raw.send({ action: 'send', dest: 'calc', message: null, ack: 'r2' });
  t.same(await raw.next((f: Frame) => f.action === 'answer'), { action: 'answer', ack: 'r2', from: 'calc', message: 'ok' }, 'a request without trace is answered without one');
  await raw.close();
});

t.test('error outcomes end the caller span with status ERROR and error.type [SB-15-3]', async (t) => {
  const { url } = await startBroker(t);
  const calc = await readyClient(t, url, { name: 'calc' });
  calc.handle(() => {
    throw Object.assign(new Error('cannot divide 1 by 0'), { code: 'division_by_zero' });
  });
  const web = await readyClient(t, url, { name: 'web' });
  t.equal((await rejection(web.request('calc', 1))).code, 'responder_error');
  let list = await spans(2);
  const caller = byKind(list, SpanKind.CLIENT);
  const handler = byKind(list, SpanKind.SERVER);
  t.equal(caller.status.code, SpanStatusCode.ERROR);
  t.equal(caller.attributes['error.type'], 'responder_error');
  t.equal(handler.status.code, SpanStatusCode.ERROR);
  t.equal(handler.attributes['error.type'], 'division_by_zero');
  t.equal(handler.status.message, 'cannot divide 1 by 0');

  exporter.reset();
  t.equal((await rejection(web.request('nobody', 1))).code, 'no_responders');
  list = await spans(1);
  t.equal(list[0].status.code, SpanStatusCode.ERROR);
  t.equal(list[0].attributes['error.type'], 'no_responders');
});

t.test('send and publish are PRODUCER spans whose receivers process in CONSUMER spans of the same trace [SB-15-3]', async (t) => {
  const { url } = await startBroker(t);
  const news = await readyClient(t, url, { name: 'news' });
  let got = 0;
  await news.subscribe('news', () => void got++);
  news.handle(() => void got++);
  const web = await readyClient(t, url, { name: 'web' });
  await web.publish('news.uk', { headline: 'x' });
  let list = await spans(2);
  let producer = byKind(list, SpanKind.PRODUCER);
  let consumer = byKind(list, SpanKind.CONSUMER);
  t.equal(producer.name, 'publish news.uk');
  t.equal(consumer.name, 'process news.uk');
  t.equal(consumer.parentSpanContext?.spanId, producer.spanContext().spanId);
  t.match(consumer.attributes, { 'messaging.destination.name': 'news.uk', 'messaging.operation.type': 'process' });

  exporter.reset();
  await web.send(['news', 'gone'], 'hello', { event: 'greet' });
  list = await spans(2);
  producer = byKind(list, SpanKind.PRODUCER);
  consumer = byKind(list, SpanKind.CONSUMER);
  t.equal(producer.name, 'send news,gone');
  t.equal(consumer.name, 'process greet');
  t.equal(consumer.spanContext().traceId, producer.spanContext().traceId);
  t.equal(got, 2);
});

t.test("the caller's span is a child of the span active at the call [SB-15-3]", async (t) => {
  const { url } = await startBroker(t);
  const raw = await Peer.named(url, 'raw');
  const web = await readyClient(t, url, { name: 'web' });
  const outer = trace.getTracer('test').startSpan('outer');
  await context.with(trace.setSpan(context.active(), outer), () => web.broadcast('hi'));
  outer.end();
  const producer = byKind(await spans(2), SpanKind.PRODUCER);
  t.equal(producer.name, 'broadcast');
  t.equal(producer.parentSpanContext?.spanId, outer.spanContext().spanId);
  t.same((await raw.next((f: Frame) => f.action === 'message')).trace, { traceparent: traceparentOf(producer.spanContext()) });
  await raw.close();
});

t.test('an explicit trace option goes out as given, with no span of the client [SB-15-3]', async (t) => {
  const { url } = await startBroker(t);
  const raw = await Peer.named(url, 'raw');
  const web = await readyClient(t, url, { name: 'web' });
  const asked = web.request('raw', 'q', { trace: REMOTE });
  const m = await raw.next((f: Frame) => f.action === 'message');
  t.same(m.trace, REMOTE);
  raw.send({ action: 'answer', ack: m.ack as string, message: 'a' });
  t.same(await asked, { from: 'raw', message: 'a' });
  await web.send('raw', 'told', { trace: REMOTE });
  t.same((await raw.next((f: Frame) => f.action === 'message')).trace, REMOTE);
  t.same(exporter.getFinishedSpans(), [], 'the caller does its own tracing');
  t.equal((await rejection(web.send('raw', 1, { trace: { traceparent: 'not-one' } }))).code, 'invalid_argument');
  t.equal((await rejection(web.request('raw', 1, { trace: { ...REMOTE, extra: 1 } as never }))).code, 'invalid_argument');
  await raw.close();
});

t.test('without a tracer provider nothing goes on the wire and no span is made', async (t) => {
  trace.disable();
  const { url } = await startBroker(t);
  const raw = await Peer.named(url, 'raw');
  const web = await readyClient(t, url, { name: 'web' });
  await web.send('raw', 'plain');
  t.same(await raw.next((f: Frame) => f.action === 'message'), { action: 'message', message: 'plain', from: 'web' });
  t.same(exporter.getFinishedSpans(), []);
  await raw.close();
});
