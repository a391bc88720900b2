/**
 * Trace context on the client side (protocol.md section 15): spans through `@opentelemetry/api` when
 * the program has it, and the `trace` field that carries a span's context across the broker.
 *
 * The API is an optional peer dependency, loaded once with a dynamic `import()` whose specifier is not a
 * literal (so bundlers leave it alone and a browser without an import map for it just fails the import):
 * when it is absent, `otel` stays null and every hook here returns at its first test. When it is present
 * the spans follow OpenTelemetry's messaging conventions ([SB-15-3]): a request is a CLIENT span
 * ("request calc") whose handler runs in a SERVER span; a send, publish or broadcast is a PRODUCER span
 * ("send calc") whose handlers run in CONSUMER spans ("process"). The span's context goes out as
 * `traceparent` (W3C version 00, formatted here: no propagator needs to be registered) and `tracestate`;
 * the receiving side takes the incoming `trace` as the parent of its span, and its answer carries that
 * span's context. Without a registered tracer provider the API's spans do not record and carry no valid
 * context: nothing goes on the wire.
 */
import type { Trace } from '../protocol/wire.js';
import type { Failure } from './errors.js';

// The part of the API used here, written out: the core names no module it may not import, and the
// declarations it ships need no @opentelemetry/api either.
type Context = object;
type Attributes = Record<string, string>;
interface TraceState {
  serialize(): string;
}
interface SpanContext {
  traceId: string;
  spanId: string;
  traceFlags: number;
  isRemote?: boolean;
  traceState?: TraceState | undefined;
}
interface Span {
  spanContext(): SpanContext;
  isRecording(): boolean;
  setAttribute(key: string, value: string): unknown;
  setStatus(status: { code: number; message?: string }): unknown;
  end(): void;
}
interface Api {
  trace: {
    getTracer(name: string): { startSpan(name: string, options: { kind: number; attributes: Attributes }, context: Context): Span };
    getTracerProvider(): unknown;
    setSpan(context: Context, span: Span): Context;
    setSpanContext(context: Context, spanContext: SpanContext): Context;
  };
  context: { active(): Context; with<T>(context: Context, fn: () => T): T };
  SpanKind: { CLIENT: number; SERVER: number; PRODUCER: number; CONSUMER: number };
  SpanStatusCode: { ERROR: number };
  isSpanContextValid(spanContext: SpanContext): boolean;
  createTraceState(text: string): TraceState;
}

/** The API once loaded, null when it could not be, undefined before the attempt ends. */
let otel: Api | null | undefined;
let loading: Promise<boolean> | undefined;
/**
 * The client's tracer, got once per global provider: the API's proxy tracer follows an SDK registered
 * later, and `trace.disable()` (or a new global) replaces the provider, and with it the tracer.
 */
let tracer: { provider: unknown; tracer: ReturnType<Api['trace']['getTracer']> } | undefined;

function tracerOf(api: Api): ReturnType<Api['trace']['getTracer']> {
  const provider = api.trace.getTracerProvider();
  if (tracer === undefined || tracer.provider !== provider) tracer = { provider, tracer: api.trace.getTracer('switchboard') };
  return tracer.tracer;
}

const SPECIFIER = '@opentelemetry/api';
const TRACEPARENT = /^[0-9a-f]{2}-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;
const TRACESTATE = /^[\x20-\x7e]{0,512}$/;

/**
 * Load `@opentelemetry/api` if the program has it; resolves true when spans can be made. Called by every
 * Client when it is made; operations before the load ends make no span.
 */
export function loadTracing(): Promise<boolean> {
  loading ??= import(/* @vite-ignore */ /* webpackIgnore: true */ SPECIFIER as string).then(
    (module: Api & { default?: Api }) => {
      otel = typeof module.trace === 'object' ? module : (module.default ?? null);
      return otel !== null;
    },
    () => {
      otel = null;
      return false;
    },
  );
  return loading;
}

/** True when `value` is a Trace by the protocol's grammar (section 3, [SB-15-1]). */
export function isTrace(value: unknown): value is Trace {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const { traceparent, tracestate, ...rest } = value as Record<string, unknown>;
  if (Object.keys(rest).length > 0) return false;
  if (typeof traceparent !== 'string' || !TRACEPARENT.test(traceparent)) return false;
  return tracestate === undefined || (typeof tracestate === 'string' && TRACESTATE.test(tracestate));
}

/** The caller's side of one operation: its span, and the trace that goes out with its frame. */
export interface OutgoingSpan {
  readonly trace: Trace | undefined;
  /** The operation ended: with its correlation id (`ack` or `ref`) when it had one, and its failure if any. */
  end(outcome: unknown, id: string | undefined): void;
}

/** What a caller span is about. */
export interface OutgoingInfo {
  kind: 'request' | 'gather' | 'send' | 'publish' | 'broadcast';
  /** Names or topics; none for a broadcast. */
  target: string | readonly string[] | undefined;
}

/** Start the caller's span of a request, gather, send, publish or broadcast; undefined without a tracer. */
export function startOutgoing(info: OutgoingInfo, isFailure: (value: unknown) => value is Failure): OutgoingSpan | undefined {
  const api = otel;
  if (api == null) return undefined;
  const destination = info.target === undefined ? undefined : typeof info.target === 'string' ? info.target : info.target.join(',');
  const asks = info.kind === 'request' || info.kind === 'gather';
  const attributes: Attributes = {
    'messaging.system': 'switchboard',
    'messaging.operation.type': 'send',
    'messaging.operation.name': info.kind,
  };
  if (destination !== undefined) attributes['messaging.destination.name'] = destination;
  const name = destination === undefined ? info.kind : `${info.kind} ${destination}`;
  const kind = asks ? api.SpanKind.CLIENT : api.SpanKind.PRODUCER;
  const span = tracerOf(api).startSpan(name, { kind, attributes }, api.context.active());
  const trace = traceOf(api, span);
  // No SDK (or one that samples nothing here) and no trace to pass on: nothing to record or end, so the
  // operation costs no more than without the package.
  if (trace === undefined && !span.isRecording()) return undefined;
  return {
    trace,
    end(outcome, id) {
      if (id !== undefined && asks) span.setAttribute('messaging.message.conversation_id', id);
      if (isFailure(outcome)) failSpan(api, span, outcome.code, outcome.message);
      span.end();
    },
  };
}

/** The receiving side of one message: its span, the trace its answer carries, and where its handler runs. */
export interface IncomingSpan {
  readonly trace: Trace | undefined;
  /** Run `fn` with the span active (listeners and handler). */
  run<T>(fn: () => T): T;
  /** The message was handled: answered (with an error answer's code), cancelled, or its handler returned. */
  end(error?: { code: string; message: string }): void;
}

/** What a receiver span is about: the fields of the `message` frame. */
export interface IncomingInfo {
  ack?: string | undefined;
  topic?: string | undefined;
  event?: string | undefined;
  trace?: Trace | undefined;
}

/** Start the span a message is handled in, a child of its `trace`; undefined without a tracer. */
export function startIncoming(info: IncomingInfo): IncomingSpan | undefined {
  const api = otel;
  if (api == null) return undefined;
  const parent = info.trace === undefined ? api.context.active() : parentOf(api, info.trace);
  const attributes: Attributes = {
    'messaging.system': 'switchboard',
    'messaging.operation.type': 'process',
    'messaging.operation.name': 'process',
  };
  if (info.topic !== undefined) attributes['messaging.destination.name'] = info.topic;
  if (info.ack !== undefined) attributes['messaging.message.id'] = info.ack;
  if (info.event !== undefined) attributes['switchboard.event'] = info.event;
  const label = info.topic ?? info.event;
  const name = label === undefined ? 'process' : `process ${label}`;
  const kind = info.ack === undefined ? api.SpanKind.CONSUMER : api.SpanKind.SERVER;
  const span = tracerOf(api).startSpan(name, { kind, attributes }, parent);
  if (!span.isRecording() && !api.isSpanContextValid(span.spanContext())) return undefined; // as in startOutgoing
  const active = api.trace.setSpan(parent, span);
  let ended = false;
  return {
    trace: traceOf(api, span),
    run: (fn) => api.context.with(active, fn),
    end(error) {
      if (ended) return;
      ended = true;
      if (error !== undefined) failSpan(api, span, error.code, error.message);
      span.end();
    },
  };
}

function failSpan(api: Api, span: Span, code: string, message: string): void {
  span.setAttribute('error.type', code);
  span.setStatus({ code: api.SpanStatusCode.ERROR, message });
}

/** The W3C trace context of `span`, or undefined when it has none worth sending (no SDK, not sampled in). */
function traceOf(api: Api, span: Span): Trace | undefined {
  const sc = span.spanContext();
  if (!api.isSpanContextValid(sc)) return undefined;
  const flags = (sc.traceFlags & 0xff).toString(16).padStart(2, '0');
  const trace: Trace = { traceparent: `00-${sc.traceId}-${sc.spanId}-${flags}` };
  const state = sc.traceState?.serialize();
  if (state !== undefined && state !== '' && TRACESTATE.test(state)) trace.tracestate = state;
  return trace;
}

/** The context whose remote parent is `trace`; the active context when the trace is not usable. */
function parentOf(api: Api, trace: Trace): Context {
  const match = TRACEPARENT.exec(trace.traceparent);
  if (match === null || trace.traceparent.startsWith('ff')) return api.context.active();
  const sc = {
    traceId: match[1],
    spanId: match[2],
    traceFlags: Number.parseInt(match[3], 16) & 0x01,
    isRemote: true,
    traceState: trace.tracestate === undefined ? undefined : api.createTraceState(trace.tracestate),
  };
  if (!api.isSpanContextValid(sc)) return api.context.active();
  return api.trace.setSpanContext(api.context.active(), sc);
}
