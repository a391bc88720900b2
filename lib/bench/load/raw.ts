/**
 * Raw `ws` peers for the systems without a client library of their own: the three relays, and
 * switchboard spoken directly (extended dialect), which isolates the broker from lib/client.
 * Each peer decodes every frame it receives and encodes every frame it sends, as any real client would.
 * Requests have no timer of their own: the harness bounds the run by time and closes what is left.
 */
import WebSocket from 'ws';
import { CONNECT_TIMEOUT_MS, within, type Adapter, type Closeable, type Requester, type Target } from './adapter.js';

type Pending = { awaited: number; answers?: unknown[]; resolve(value: unknown): void; reject(error: Error): void };

interface Codec {
  readonly protocol: string | undefined;
  register(name: string): string;
  isRegistered(text: string, name: string): boolean;
  request(dests: readonly string[], id: string, message: unknown, gather: boolean): string;
  /**
   * A received text as an outcome: its correlation id, whether it failed, whether it is the whole
   * outcome of a gather (the broker gathered) or one answer of it (the requester gathers), and what it
   * carries (an answer's message, a gather's results); or undefined.
   */
  outcome(text: string): { id: string; failed: boolean; whole: boolean; value: unknown } | undefined;
  /** The answer to a received request text, echoing its message. */
  answer(text: string): string | undefined;
}

function open(url: string, protocol: string | undefined, localAddress?: string): Promise<WebSocket> {
  return within(
    new Promise<WebSocket>((resolve, reject) => {
      const ws = new WebSocket(url, protocol === undefined ? [] : [protocol], { perMessageDeflate: false, localAddress });
      ws.once('open', () => resolve(ws));
      ws.once('error', reject);
    }),
    CONNECT_TIMEOUT_MS,
    `connect to ${url}`,
  );
}

async function registered(url: string, codec: Codec, name: string, onText: (text: string) => void, localAddress?: string): Promise<WebSocket> {
  const ws = await open(url, codec.protocol, localAddress);
  ws.on('error', () => {});
  await within(
    new Promise<void>((resolve, reject) => {
      ws.on('message', function first(data: Buffer) {
        const text = data.toString();
        if (!codec.isRegistered(text, name)) return reject(new Error(`register ${name}: ${text.slice(0, 200)}`));
        ws.off('message', first);
        ws.on('message', (next: Buffer) => onText(next.toString()));
        resolve();
      });
      ws.send(codec.register(name));
    }),
    CONNECT_TIMEOUT_MS,
    `register ${name}`,
  );
  return ws;
}

function closeSocket(ws: WebSocket): Promise<void> {
  if (ws.readyState === WebSocket.CLOSED) return Promise.resolve();
  return within(
    new Promise<void>((resolve) => {
      ws.once('close', () => resolve());
      ws.close();
    }),
    2000,
    'close',
  ).catch(() => ws.terminate());
}

function rawAdapter(target: Target, codec: Codec, driver: string): Adapter {
  const url = `ws://${target.host}:${target.port}/`;
  return {
    driver,
    async requester(name: string): Promise<Requester> {
      const pending = new Map<string, Pending>();
      let seq = 0;
      const ws = await registered(url, codec, name, (text) => {
        const outcome = codec.outcome(text);
        if (outcome === undefined) return;
        const waiting = pending.get(outcome.id);
        if (waiting === undefined) return; // the losing answer of a two-destination request
        if (outcome.failed) {
          pending.delete(outcome.id);
          waiting.reject(new Error(text.slice(0, 200)));
          return;
        }
        if (outcome.whole || waiting.awaited === 1) {
          pending.delete(outcome.id);
          waiting.resolve(outcome.value);
          return;
        }
        const answers = (waiting.answers ??= []); // gathering here: one answer of several
        answers.push(outcome.value);
        if (answers.length < waiting.awaited) return;
        pending.delete(outcome.id);
        waiting.resolve(answers);
      });
      return {
        request(dests, message, gather) {
          const id = (++seq).toString(36);
          return new Promise<unknown>((resolve, reject) => {
            pending.set(id, { awaited: gather ? dests.length : 1, resolve, reject });
            ws.send(codec.request(dests, id, message, gather));
          });
        },
        async close() {
          await closeSocket(ws);
          for (const waiting of pending.values()) waiting.reject(new Error('closed'));
          pending.clear();
        },
      };
    },
    async responder(name: string): Promise<Closeable> {
      const ws: WebSocket = await registered(url, codec, name, (text) => {
        const answer = codec.answer(text);
        if (answer !== undefined) ws.send(answer);
      });
      return { close: () => closeSocket(ws) };
    },
    async idle(name: string, localAddress: string): Promise<Closeable> {
      const ws = await registered(url, codec, name, () => {}, localAddress);
      return { close: () => closeSocket(ws) };
    },
  };
}

type Json = { action?: string; ack?: string; from?: string; message?: unknown; results?: unknown; id?: string };

/**
 * switchboard's frames. The stateless JSON relay (`relay`) routes answers by a `dest` they carry, and
 * knows no gather: its requester counts the answers itself.
 */
function jsonCodec(protocol: string | undefined, relay: boolean): Codec {
  return {
    protocol,
    register: (name) => JSON.stringify({ action: 'register', id: name }),
    isRegistered: (text, name) => {
      const frame = JSON.parse(text) as Json;
      return frame.action === 'registered' && frame.id === name;
    },
    request: (dests, id, message, gather) =>
      JSON.stringify(
        gather && !relay
          ? { action: 'send', dest: dests, message, ack: id, gather: true }
          : { action: 'send', dest: dests.length === 1 ? dests[0] : dests, message, ack: id },
      ),
    outcome: (text) => {
      const frame = JSON.parse(text) as Json;
      if (typeof frame.ack !== 'string') return undefined;
      if (frame.action === 'answer') return { id: frame.ack, failed: false, whole: false, value: frame.message };
      if (frame.action === 'gathered') return { id: frame.ack, failed: false, whole: true, value: frame.results };
      if (frame.action === 'error') return { id: frame.ack, failed: true, whole: true, value: undefined };
      return undefined;
    },
    answer: (text) => {
      const frame = JSON.parse(text) as Json;
      if (frame.action !== 'message' || frame.ack === undefined) return undefined;
      return JSON.stringify(
        relay
          ? { action: 'answer', ack: frame.ack, dest: frame.from, message: frame.message }
          : { action: 'answer', ack: frame.ack, message: frame.message },
      );
    },
  };
}

/** The prefix relay's wire: `dests\n<id>\n<json>` out, `from\n<id>\n<json>` in. */
const prefixCodec: Codec = {
  protocol: undefined,
  register: (name) => `@${name}`,
  isRegistered: (text, name) => text === `@${name}`,
  request: (dests, id, message) => `${dests.join(',')}\n${id}\n${JSON.stringify(message)}`,
  outcome: (text) => {
    const first = text.indexOf('\n');
    const second = text.indexOf('\n', first + 1);
    if (first === -1 || second === -1) return undefined;
    const value: unknown = JSON.parse(text.slice(second + 1));
    return { id: text.slice(first + 1, second), failed: false, whole: false, value };
  },
  answer: (text) => {
    const first = text.indexOf('\n');
    const second = text.indexOf('\n', first + 1);
    if (first === -1 || second === -1) return undefined;
    const message: unknown = JSON.parse(text.slice(second + 1));
    return `${text.slice(0, first)}\n${text.slice(first + 1, second)}\n${JSON.stringify(message)}`;
  },
};

/**
 * The no-parse relay's wire (brokers/relay-inplace.ts): JSON frames whose first field, `peer`, is
 * space-padded to a fixed width: going out it names the destinations, coming in the sender (the relay
 * wrote it over them). An answer goes back to the `peer` its request came from, padded as it came.
 */
const ROUTE_WIDTH = 32;

type InPlace = { peer?: string; ack?: string; message?: unknown };

const inplaceCodec: Codec = {
  protocol: undefined,
  register: (name) => `@${name}`,
  isRegistered: (text, name) => text === `@${name}`,
  request: (dests, id, message) => `{"peer":"${dests.join(',').padEnd(ROUTE_WIDTH, ' ')}","ack":"${id}","message":${JSON.stringify(message)}}`,
  outcome: (text) => {
    const frame = JSON.parse(text) as InPlace;
    if (typeof frame.ack !== 'string') return undefined;
    return { id: frame.ack, failed: false, whole: false, value: frame.message };
  },
  answer: (text) => {
    const frame = JSON.parse(text) as InPlace;
    if (typeof frame.peer !== 'string' || typeof frame.ack !== 'string') return undefined;
    return `{"peer":"${frame.peer}","ack":${JSON.stringify(frame.ack)},"message":${JSON.stringify(frame.message)}}`;
  },
};

export const relayInplace = (target: Target) => rawAdapter(target, inplaceCodec, 'raw ws');
export const relayPrefix = (target: Target) => rawAdapter(target, prefixCodec, 'raw ws');
export const relayJson = (target: Target) => rawAdapter(target, jsonCodec(undefined, true), 'raw ws');
export const switchboardRaw = (target: Target) => rawAdapter(target, jsonCodec('switchboard.v1', false), 'raw ws, extended dialect');
