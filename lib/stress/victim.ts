/**
 * The victim: one requester and one responder on their own connections, doing sequential
 * request/answer through the broker. `measure` runs for a while and reports the round-trip latencies
 * and every request that did not end in its own answer within a second.
 */
import WebSocket from 'ws';
import { quantile, reply, serveParent } from './child.js';

const url = process.argv[2];
const REQUEST_DEADLINE_MS = 1000;

function open(name: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, ['switchboard.v1'], { perMessageDeflate: false });
    ws.once('error', reject);
    ws.once('open', () => {
      ws.send(JSON.stringify({ action: 'register', id: name }));
      ws.once('message', (data) => {
        const frame = JSON.parse(data.toString()) as { action: string };
        if (frame.action === 'registered') resolve(ws);
        else reject(new Error(`victim could not register ${name}: ${data.toString()}`));
      });
    });
  });
}

const responder = await open('victim-responder');
const requester = await open('victim-requester');
responder.on('message', (data) => {
  const frame = JSON.parse(data.toString()) as { action: string; ack?: string; message?: unknown };
  if (frame.action === 'message' && frame.ack !== undefined) {
    responder.send(JSON.stringify({ action: 'answer', ack: frame.ack, message: frame.message }));
  }
});

let sequence = 0;
let waiting: ((frame: { action: string; ack?: string; message?: unknown }) => void) | undefined;
requester.on('message', (data) => waiting?.(JSON.parse(data.toString()) as { action: string; ack?: string; message?: unknown }));
const closed = { requester: false, responder: false };
requester.once('close', () => (closed.requester = true));
responder.once('close', () => (closed.responder = true));

/** One request; resolves with its latency in ms, or with a string saying how it failed. */
function roundTrip(): Promise<number | string> {
  const n = ++sequence;
  const ack = `v${n}`;
  const started = performance.now();
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      waiting = undefined;
      resolve(`request ${ack}: no answer within ${REQUEST_DEADLINE_MS} ms`);
    }, REQUEST_DEADLINE_MS);
    waiting = (frame) => {
      if (frame.ack !== ack) return;
      clearTimeout(timer);
      waiting = undefined;
      if (frame.action === 'answer' && frame.message === n) resolve(performance.now() - started);
      else resolve(`request ${ack}: ${JSON.stringify(frame)}`);
    };
    if (requester.readyState !== WebSocket.OPEN) {
      clearTimeout(timer);
      resolve(`request ${ack}: the requester's connection is closed`);
      return;
    }
    requester.send(JSON.stringify({ action: 'send', dest: 'victim-responder', message: n, ack, timeout: REQUEST_DEADLINE_MS }));
  });
}

serveParent(async (message) => {
  if (message.type === 'measure') {
    const until = performance.now() + (message.ms as number);
    const latencies: number[] = [];
    const failures: string[] = [];
    while (performance.now() < until) {
      const result = await roundTrip();
      if (typeof result === 'number') latencies.push(result);
      else failures.push(result);
      if (closed.requester || closed.responder) break;
    }
    latencies.sort((a, b) => a - b);
    reply({
      type: 'measured',
      count: latencies.length,
      failures: failures.length,
      firstFailures: failures.slice(0, 3),
      closed: closed.requester || closed.responder,
      p50: quantile(latencies, 0.5),
      p99: quantile(latencies, 0.99),
      max: latencies.at(-1) ?? Number.NaN,
    });
  } else if (message.type === 'stop') {
    requester.close();
    responder.close();
    setTimeout(() => process.exit(0), 200).unref();
  }
});
reply({ type: 'ready' });
