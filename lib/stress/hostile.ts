/**
 * A hostile client for the stress run, in its own process, attacking as fast as its socket takes data:
 *
 * - `garbage`: invalid JSON on one connection; when the broker closes it (the bad-frame budget), it
 *   reconnects at once and goes on, as a real attacker would.
 * - `send-flood`: valid sends to a name it holds on a second connection that reads and discards them.
 * - `request-flood`: valid requests to its own responder, which answers each after 200 ms, so the
 *   flooder runs into the pending-request cap and keeps going with the refusals.
 * - `deep-nesting`: three connections each send a 400,000-deep array (800 KB, under maxMessageBytes)
 *   outside `message` (in `ack`, in `dest`, in an unknown field, as the whole frame) every 520 ms: as
 *   many bad frames as the budget (20 per 10 s) lets a connection send for ever without being closed.
 *   Parsed whole, each costs the broker ~230 ms; bounded by a scan first, a few ms ([SB-4.0-4]).
 */
import WebSocket from 'ws';
import { reply, serveParent } from './child.js';

const [url, mode] = process.argv.slice(2);
/** Bytes the flooder lets ws queue before it waits; the kernel's socket buffers come on top. */
const HIGH_WATER = 256 * 1024;
/**
 * Frames written per turn of this process's event loop. Loopback socket buffers take megabytes before
 * `bufferedAmount` moves, so without a cap one turn would write for seconds and never hear "stop".
 */
const BURST = 500;

const counts = { framesSent: 0, framesReceived: 0, connections: 0, closes: {} as Record<string, number> };
let stopping = false;

function connect(name?: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, ['switchboard.v1'], { perMessageDeflate: false });
    counts.connections++;
    ws.on('error', () => {});
    ws.on('message', () => counts.framesReceived++);
    ws.once('close', (code) => (counts.closes[code] = (counts.closes[code] ?? 0) + 1));
    ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused with HTTP ${res.statusCode}`)));
    ws.once('open', () => {
      if (name === undefined) return resolve(ws);
      ws.send(JSON.stringify({ action: 'register', id: name }));
      ws.once('message', () => resolve(ws));
    });
    ws.once('close', () => reject(new Error('closed before it was ready')));
  });
}

/** Send `frame()` as fast as the connection takes it, until it closes or the run stops. */
function flood(ws: WebSocket, frame: () => string): Promise<void> {
  return new Promise((resolve) => {
    const pump = () => {
      for (let n = 0; n < BURST && !stopping && ws.readyState === WebSocket.OPEN && ws.bufferedAmount < HIGH_WATER; n++) {
        ws.send(frame());
        counts.framesSent++;
      }
      if (stopping || ws.readyState !== WebSocket.OPEN) return resolve();
      setImmediate(pump);
    };
    pump();
  });
}

async function garbage(): Promise<void> {
  const text = '{"action":"send","dest": this is not json';
  while (!stopping) {
    const ws = await connect().catch(() => undefined);
    if (ws === undefined) {
      await new Promise((resolve) => setTimeout(resolve, 5)); // refused (e.g. 429): try again
      continue;
    }
    await flood(ws, () => text);
  }
}

async function sendFlood(): Promise<void> {
  await connect('hostile-sink');
  const flooder = await connect('hostile-flooder');
  const frame = JSON.stringify({ action: 'send', dest: 'hostile-sink', message: { filler: 'x'.repeat(64) } });
  await flood(flooder, () => frame);
}

async function requestFlood(): Promise<void> {
  const responder = await connect('hostile-slow');
  responder.on('message', (data) => {
    const frame = JSON.parse(data.toString()) as { action: string; ack?: string };
    if (frame.action !== 'message' || frame.ack === undefined) return;
    setTimeout(() => {
      if (responder.readyState === WebSocket.OPEN) responder.send(JSON.stringify({ action: 'answer', ack: frame.ack, message: 'slowly' }));
    }, 200);
  });
  const requester = await connect('hostile-requester');
  let n = 0;
  await flood(requester, () => JSON.stringify({ action: 'send', dest: 'hostile-slow', message: 'work', ack: `h${++n}`, timeout: 1000 }));
}

const DEEP_CONNECTIONS = 3;
const DEEP_DEPTH = 400_000;
/** Just over badFrameWindowMs / badFrameBudget (10,000 / 20): never more than the budget in a window. */
const DEEP_INTERVAL_MS = 520;

async function deepNesting(): Promise<void> {
  const nest = '['.repeat(DEEP_DEPTH) + ']'.repeat(DEEP_DEPTH);
  const frames = [
    `{"action":"answer","ack":${nest},"message":1}`,
    `{"action":"send","dest":${nest},"message":1,"ref":"deep"}`,
    `{"action":"send","dest":"nobody","message":1,"ref":"deep","extra":${nest}}`,
    nest,
  ];
  const attacker = async (index: number) => {
    await new Promise((resolve) => setTimeout(resolve, (index * DEEP_INTERVAL_MS) / DEEP_CONNECTIONS)); // spread over the interval
    let k = index;
    while (!stopping) {
      const ws = await connect().catch(() => undefined);
      if (ws === undefined) {
        await new Promise((resolve) => setTimeout(resolve, 5));
        continue;
      }
      while (!stopping && ws.readyState === WebSocket.OPEN) {
        ws.send(frames[k++ % frames.length]);
        counts.framesSent++;
        await new Promise((resolve) => setTimeout(resolve, DEEP_INTERVAL_MS));
      }
      ws.close();
    }
  };
  await Promise.all(Array.from({ length: DEEP_CONNECTIONS }, (_, i) => attacker(i)));
}

const attacks: Record<string, () => Promise<void>> = {
  garbage,
  'send-flood': sendFlood,
  'request-flood': requestFlood,
  'deep-nesting': deepNesting,
};
const attack = attacks[mode];
if (attack === undefined) throw new Error(`unknown attack ${mode}`);

let running: Promise<void> | undefined;
serveParent(async (message) => {
  if (message.type === 'start') {
    running = attack();
    reply({ type: 'started' });
  } else if (message.type === 'stop') {
    stopping = true;
    await Promise.race([running, new Promise((resolve) => setTimeout(resolve, 1000))]);
    reply({ type: 'stopped', ...counts });
    setTimeout(() => process.exit(0), 100);
  }
});
reply({ type: 'ready' });
