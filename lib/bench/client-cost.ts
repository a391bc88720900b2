/**
 * The client library's own CPU per request, without sockets: `npm run bench:client`.
 *
 * In the traffic scenarios the load process holds the requesters and the responders, so a client that
 * costs more than a raw one caps every figure, and kernel time and the other process blur what it costs.
 * Here both ends of a request run in one process against an in-process stand-in for the broker (register,
 * a request to one name, its answer; frames delivered on setImmediate, as socket reads arrive), once
 * through lib/client (`request()` and `handle()`) and once through a raw client that only does
 * JSON.stringify and JSON.parse per frame and resolves with the answer's message, as the bench's raw
 * drivers do. The difference is lib/client's cost per request, on both of its ends. Rounds alternate
 * between the two; figures are medians.
 *
 * A measuring instrument, not a broker: the bench's traffic scenarios are the real thing.
 * Usage: node dist/bench/client-cost.js [--requests N] [--in-flight K] [--payload BYTES] [--rounds R]
 */
import { parseArgs } from 'node:util';
import { Client, type WebSocketLike } from '../client/index.js';
import { makePayload } from './load/payload.js';
import { median } from './stats.js';

type Frame = { action: string; id?: string; dest?: string; ack?: string; message?: unknown };

/** The stand-in broker: names to sockets, delivery ids to the request's sender. */
class Exchange {
  readonly #names = new Map<string, Socket>();
  readonly #deliveries = new Map<string, { to: Socket; ack: string; from: string }>();
  #seq = 0;
  #outbox: Array<[Socket, string]> = [];
  #scheduled = false;

  receive(from: Socket, text: string): void {
    const frame = JSON.parse(text) as Frame;
    if (frame.action === 'register' && frame.id !== undefined) {
      this.#names.set(frame.id, from);
      from.name ??= frame.id;
      this.#deliver(from, JSON.stringify({ action: 'registered', id: frame.id }));
    } else if (frame.action === 'send' && frame.dest !== undefined && frame.ack !== undefined) {
      const to = this.#names.get(frame.dest);
      if (to === undefined) throw new Error(`no ${frame.dest}`);
      const id = `d${++this.#seq}`;
      this.#deliveries.set(id, { to: from, ack: frame.ack, from: frame.dest });
      this.#deliver(to, JSON.stringify({ action: 'message', from: from.name, message: frame.message, ack: id }));
    } else if (frame.action === 'answer' && frame.ack !== undefined) {
      const delivery = this.#deliveries.get(frame.ack);
      if (delivery === undefined) return;
      this.#deliveries.delete(frame.ack);
      this.#deliver(delivery.to, JSON.stringify({ action: 'answer', ack: delivery.ack, from: delivery.from, message: frame.message ?? null }));
    }
  }

  #deliver(to: Socket, text: string): void {
    this.#outbox.push([to, text]);
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      const batch = this.#outbox;
      this.#outbox = [];
      for (const [socket, data] of batch) socket.onmessage?.({ data });
    });
  }
}

/** A WebSocket (the part lib/client uses) connected to the exchange. */
class Socket implements WebSocketLike {
  readyState = 0;
  readonly protocol = 'switchboard.v1';
  name: string | undefined;
  onopen: ((event: never) => void) | null = null;
  onmessage: ((event: { data: unknown }) => void) | null = null;
  onclose: ((event: { code: number; reason: string }) => void) | null = null;
  onerror: ((event: never) => void) | null = null;

  constructor(readonly exchange: Exchange) {
    setImmediate(() => {
      this.readyState = 1;
      this.onopen?.(undefined as never);
    });
  }

  send(text: string): void {
    this.exchange.receive(this, text);
  }

  close(): void {
    this.readyState = 3;
  }
}

type Request = () => Promise<unknown>;

async function libClient(exchange: Exchange, payload: unknown): Promise<{ request: Request; close(): Promise<void> }> {
  const WebSocket = class extends Socket {
    constructor() {
      super(exchange);
    }
  };
  const responder = new Client('ws://exchange/', { name: 'responder', WebSocket, reconnect: false });
  responder.handle((message) => message);
  const requester = new Client('ws://exchange/', { name: 'requester', WebSocket, reconnect: false });
  await Promise.all([responder.ready, requester.ready]);
  return {
    request: () => requester.request('responder', payload),
    close: async () => {
      await Promise.all([responder.close(), requester.close()]);
    },
  };
}

async function rawClient(exchange: Exchange, payload: unknown): Promise<{ request: Request; close(): Promise<void> }> {
  const responder = new Socket(exchange);
  const requester = new Socket(exchange);
  await new Promise((resolve) => setImmediate(resolve));
  const pending = new Map<string, (message: unknown) => void>();
  let seq = 0;
  responder.onmessage = ({ data }) => {
    const frame = JSON.parse(data as string) as Frame;
    if (frame.action === 'message') responder.send(JSON.stringify({ action: 'answer', ack: frame.ack, message: frame.message }));
  };
  requester.onmessage = ({ data }) => {
    const frame = JSON.parse(data as string) as Frame;
    const waiting = frame.ack === undefined ? undefined : pending.get(frame.ack);
    if (waiting === undefined) return;
    pending.delete(frame.ack!);
    waiting(frame.message);
  };
  responder.send(JSON.stringify({ action: 'register', id: 'responder' }));
  requester.send(JSON.stringify({ action: 'register', id: 'requester' }));
  await new Promise((resolve) => setImmediate(resolve));
  return {
    request: () =>
      new Promise<unknown>((resolve) => {
        const ack = (++seq).toString(36);
        pending.set(ack, resolve);
        requester.send(JSON.stringify({ action: 'send', dest: 'responder', message: payload, ack }));
      }),
    close: async () => {},
  };
}

/** CPU time (user + system) per request, in µs, over `count` requests with `inFlight` at a time. */
async function measure(request: Request, count: number, inFlight: number): Promise<number> {
  let started = 0;
  const lane = async () => {
    while (started < count) {
      started++;
      await request();
    }
  };
  const before = process.cpuUsage();
  await Promise.all(Array.from({ length: inFlight }, lane));
  const used = process.cpuUsage(before);
  return (used.user + used.system) / count;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      requests: { type: 'string', default: '100000' },
      'in-flight': { type: 'string', default: '32' },
      payload: { type: 'string', default: '64' },
      rounds: { type: 'string', default: '3' },
    },
  });
  const [requests, inFlight, bytes, rounds] = [values.requests, values['in-flight'], values.payload, values.rounds].map(Number);
  if (![requests, inFlight, bytes, rounds].every((n) => Number.isInteger(n) && n > 0)) {
    console.error('usage: client-cost [--requests N] [--in-flight K] [--payload BYTES] [--rounds R] (positive integers)');
    process.exitCode = 2;
    return;
  }
  const payload = makePayload(bytes);
  const figures = { raw: [] as number[], client: [] as number[] };
  for (let round = 0; round < rounds; round++) {
    for (const [kind, make] of [['raw', rawClient], ['client', libClient]] as const) {
      const ends = await make(new Exchange(), payload);
      await measure(ends.request, Math.ceil(requests / 10), inFlight); // warm-up
      figures[kind].push(await measure(ends.request, requests, inFlight));
      await ends.close();
    }
  }
  const raw = median(figures.raw);
  const client = median(figures.client);
  console.log(`client cost: ${requests} requests per round, ${inFlight} in flight, ${bytes} B messages, median of ${rounds} rounds`);
  console.log(`  raw client (JSON.stringify + JSON.parse per frame)  ${raw.toFixed(1)} µs CPU per request (stand-in broker included)`);
  console.log(`  lib/client (request() and handle())                 ${client.toFixed(1)} µs CPU per request (stand-in broker included)`);
  console.log(`  lib/client's own cost                               ${(client - raw).toFixed(1)} µs per request, both ends`);
}

await main();
