/**
 * The load generator: one process that connects the requesters and responders of one system (or a
 * share of the idle connections) and reports to the bench over IPC.
 *
 * Traffic: M responders echo; N requesters each keep K requests in flight, destinations in round robin.
 * Traffic starts once everyone is connected (`ready`); only requests that complete between the bench's
 * `window-start` and `window-end` count, and their latencies (call to answer) are kept. After
 * `window-end` no request starts; what is in flight gets a short drain, then everything closes.
 *
 * Idle: open and register the given names, `ready`, then wait for `stop`.
 *
 * The configuration is the JSON in argv[2]. Every loop ends by time: the bench's messages, or
 * `maxSeconds` after the start at the latest.
 */
import { performance } from 'node:perf_hooks';
import type { PayloadShape, SystemId } from '../scenarios.js';
import { makePayload } from './payload.js';
import { summarize } from '../stats.js';
import type { Adapter, Closeable, Requester, Target } from './adapter.js';

export interface TrafficConfig {
  mode: 'traffic';
  system: SystemId;
  host: string;
  port: number;
  requesters: number;
  responders: number;
  inFlight: number;
  payloadBytes: number;
  payloadShape: PayloadShape;
  dests: 1 | 2;
  gather: boolean;
  maxSeconds: number;
}

export interface IdleConfig {
  mode: 'idle';
  system: SystemId;
  host: string;
  port: number;
  names: string[];
  /** The loopback address each name connects from. */
  addresses: string[];
  concurrency: number;
  maxSeconds: number;
}

export type LoadConfig = TrafficConfig | IdleConfig;

const DRAIN_MS = 2000;
const MAX_SAMPLES = 4_000_000;
const ERROR_PAUSE_MS = 5;

async function adapterFor(system: SystemId, target: Target): Promise<Adapter> {
  switch (system) {
    case 'relay-inplace':
      return (await import('./raw.js')).relayInplace(target);
    case 'relay-prefix':
      return (await import('./raw.js')).relayPrefix(target);
    case 'relay-json':
      return (await import('./raw.js')).relayJson(target);
    case 'switchboard-raw':
      return (await import('./raw.js')).switchboardRaw(target);
    case 'switchboard':
    case 'switchboard-monitored':
    case 'switchboard-dashboard':
      return (await import('./switchboard.js')).switchboardClient(target);
    case 'wsmsgbroker':
      return (await import('./wsmsgbroker.js')).wsmsgbrokerClient(target);
    case 'nats':
      return (await import('./nats.js')).natsClient(target);
    case 'socketio':
      return (await import('./socketio.js')).socketioClient(target);
    default: {
      const unreachable: never = system;
      throw new Error(`no load adapter for ${String(unreachable)}`);
    }
  }
}

function send(message: Record<string, unknown>): void {
  process.send?.(message);
}

function messages(): { next(type: string): Promise<void> } {
  const seen = new Set<string>();
  const waiting = new Map<string, () => void>();
  process.on('message', (message: { type?: string }) => {
    const type = message.type ?? '';
    seen.add(type);
    waiting.get(type)?.();
  });
  return {
    next: (type) =>
      new Promise<void>((resolve) => {
        if (seen.has(type)) return resolve();
        waiting.set(type, resolve);
      }),
  };
}

async function closeAll(peers: Closeable[]): Promise<void> {
  await Promise.all(peers.map((peer) => peer.close().catch(() => {})));
}

async function traffic(config: TrafficConfig, inbox: ReturnType<typeof messages>): Promise<void> {
  const responderNames = Array.from({ length: config.responders }, (_, i) => `resp-${i}`);
  const target: Target = { host: config.host, port: config.port, responders: responderNames };
  const adapter = await adapterFor(config.system, target);
  const responders = await Promise.all(responderNames.map((name) => adapter.responder(name)));
  const requesters: Requester[] = [];
  try {
    for (const requester of await Promise.all(Array.from({ length: config.requesters }, (_, i) => adapter.requester(`req-${i}`)))) {
      requesters.push(requester);
    }
  } catch (error) {
    await closeAll(responders);
    throw error;
  }

  const payload = makePayload(config.payloadBytes, config.payloadShape);
  const samples = new Float64Array(MAX_SAMPLES);
  let count = 0;
  let errors = 0;
  let lastError = '';
  let measuring = false;
  let running = true;
  const hardStop = setTimeout(() => (running = false), config.maxSeconds * 1000);

  const lane = async (requester: Requester, start: number) => {
    for (let turn = start; running; turn++) {
      const first = turn % config.responders;
      const dests = config.dests === 1 ? [responderNames[first]] : [responderNames[first], responderNames[(first + 1) % config.responders]];
      const began = performance.now();
      try {
        await requester.request(dests, payload, config.gather);
        if (measuring) {
          if (count < MAX_SAMPLES) samples[count] = performance.now() - began;
          count++;
        }
      } catch (error) {
        if (!running) return;
        if (measuring) errors++;
        lastError = error instanceof Error ? error.message : String(error);
        await new Promise((resolve) => setTimeout(resolve, ERROR_PAUSE_MS));
      }
    }
  };
  const lanes = requesters.flatMap((requester, r) =>
    Array.from({ length: config.inFlight }, (_, k) => lane(requester, r * config.inFlight + k)),
  );
  send({ type: 'ready', driver: adapter.driver });

  await inbox.next('window-start');
  measuring = true;
  const windowStart = performance.now();
  await inbox.next('window-end');
  const windowMs = performance.now() - windowStart;
  measuring = false;
  running = false;
  clearTimeout(hardStop);
  send({
    type: 'result',
    count,
    errors,
    lastError,
    windowMs,
    latency: summarize(samples.subarray(0, Math.min(count, MAX_SAMPLES))),
  });

  let drainTimer: NodeJS.Timeout | undefined;
  await Promise.race([Promise.all(lanes), new Promise((resolve) => (drainTimer = setTimeout(resolve, DRAIN_MS)))]);
  clearTimeout(drainTimer);
  await closeAll([...requesters, ...responders]);
  send({ type: 'closed' });
}

async function idle(config: IdleConfig): Promise<void> {
  const adapter = await adapterFor(config.system, { host: config.host, port: config.port, responders: [] });
  const deadline = Date.now() + config.maxSeconds * 1000;
  let next = 0;
  let connected = 0;
  let failed = 0;
  let lastError = '';
  const held: Closeable[] = [];
  const worker = async () => {
    while (next < config.names.length && Date.now() < deadline) {
      const index = next++;
      try {
        held.push(await adapter.idle(config.names[index], config.addresses[index]));
        connected++;
        if (connected % 1000 === 0) send({ type: 'progress', connected });
      } catch (error) {
        failed++;
        lastError = error instanceof Error ? error.message : String(error);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(config.concurrency, config.names.length) }, worker));
  send({ type: 'ready', connected, failed, lastError, driver: adapter.driver });
  // Held until the bench says `stop` (see main), at most until the deadline. The kernel closes the
  // sockets as the process exits; a graceful close of thousands would only cost time.
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, deadline - Date.now())));
  void held;
}

function main(): void {
  const inbox = messages();
  process.on('disconnect', () => process.exit(0));
  process.on('message', (message: { type?: string }) => {
    if (message.type === 'stop') process.exit(0);
  });
  const config = JSON.parse(process.argv[2] ?? '{}') as LoadConfig;
  const hardExit = setTimeout(() => process.exit(3), (config.maxSeconds + 30) * 1000);
  hardExit.unref();
  (config.mode === 'idle' ? idle(config) : traffic(config, inbox)).then(
    () => process.exit(0),
    (error: unknown) => {
      send({ type: 'error', message: error instanceof Error ? error.message : String(error) });
      setTimeout(() => process.exit(1), 100);
    },
  );
}

main();
