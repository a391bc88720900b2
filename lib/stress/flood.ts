/**
 * The memory floods of the stress run (issue 12, items 6 and 11), each in its own process against a
 * broker of its own, run once to the end on `start` and reported with `done`:
 *
 * - `slow-reader`: one sender writes 6,000 messages of 16 KiB to two names: a reader that registered
 *   and then stopped reading (its socket paused: the kernel's buffers fill, then the broker's), and a
 *   healthy reader. The broker must close the slow one (4008) by four times `maxBufferedBytes`.
 * - `refused-flood`: one client sends 200,000 requests to a responder that reads but never answers;
 *   `maxPendingPerConnection` are admitted, the rest refused with `limit_exceeded`.
 * - `mailbox-flood`: a durable name goes offline; one client sends it 300 messages of 1,000,000 bytes
 *   with `ref`; `maxMailboxBytes` of them are queued (after a 1-byte probe that shows the mailbox is
 *   open), the rest refused with `mailbox_full`.
 *
 * The flooder writes as fast as its socket takes data, and reads every reply.
 */
import WebSocket from 'ws';
import { reply, serveParent } from './child.js';

const [url, mode] = process.argv.slice(2);
/** Bytes the flooder lets ws queue before it waits for the socket to drain. */
const HIGH_WATER = 1024 * 1024;

const SLOW_READER = { messages: 6000, bytes: 16 * 1024 } as const;
const REFUSED_FLOOD = { requests: 200_000, timeoutMs: 120_000 } as const;
const MAILBOX_FLOOD = { messages: 300, bytes: 1_000_000 } as const;

type Frame = { action: string; code?: string; limit?: string; ref?: string; queued?: string[] };

interface Connection {
  ws: WebSocket;
  frames: number;
  closed: Promise<number>;
}

function connect(name: string | undefined, onFrame?: (frame: Frame) => void, extra: object = {}): Promise<Connection> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, ['switchboard.v1'], { perMessageDeflate: false });
    const connection: Connection = { ws, frames: 0, closed: new Promise((done) => ws.once('close', (code) => done(code))) };
    const timer = setTimeout(() => reject(new Error(`${name ?? 'a connection'}: not ready within 10 s`)), 10_000);
    ws.on('error', () => {});
    ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused with HTTP ${res.statusCode}`)));
    ws.once('open', () => {
      if (name === undefined) {
        clearTimeout(timer);
        return resolve(connection);
      }
      ws.send(JSON.stringify({ action: 'register', id: name, ...extra }));
    });
    ws.on('message', (data) => {
      connection.frames++;
      const frame = JSON.parse(data.toString()) as Frame;
      if (connection.frames === 1 && name !== undefined) {
        clearTimeout(timer);
        if (frame.action !== 'registered') return reject(new Error(`${name}: ${data.toString().slice(0, 200)}`));
        return resolve(connection);
      }
      onFrame?.(frame);
    });
  });
}

/**
 * Write `count` frames made by `frame(i)` as fast as the socket takes them, as a client in a hurry
 * does: it yields to its event loop every BURST frames (so it reads the replies as they come, as any
 * client does between writes) and waits while ws holds more than HIGH_WATER unsent.
 */
async function write(connection: Connection, count: number, frame: (i: number) => string): Promise<void> {
  const { ws } = connection;
  const BURST = 256;
  for (let i = 0; i < count && ws.readyState === WebSocket.OPEN; i++) {
    ws.send(frame(i));
    if (i % BURST === BURST - 1) await new Promise((resolve) => setImmediate(resolve));
    while (ws.readyState === WebSocket.OPEN && ws.bufferedAmount > HIGH_WATER) await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

/** Resolves when `done()` holds, or with false once `connection` has closed or after `timeoutMs`. */
async function until(done: () => boolean, connection: Connection, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline || connection.ws.readyState !== WebSocket.OPEN) return done();
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  return true;
}

async function slowReader(): Promise<Record<string, unknown>> {
  let healthyGot = 0;
  await connect('mem-healthy', () => healthyGot++);
  const slow = await connect('mem-slow');
  slow.ws.pause(); // stops reading its socket: what the broker writes piles up in the kernel, then in the broker
  const sender = await connect('mem-sender');
  const body = JSON.stringify('x'.repeat(SLOW_READER.bytes));
  const frame = `{"action":"send","dest":["mem-slow","mem-healthy"],"message":${body}}`;
  const started = Date.now();
  await write(sender, SLOW_READER.messages, () => frame);
  const complete = await until(() => healthyGot >= SLOW_READER.messages, sender, 60_000);
  return { sent: SLOW_READER.messages, healthyGot, complete, ms: Date.now() - started, senderOpen: sender.ws.readyState === WebSocket.OPEN };
}

async function refusedFlood(): Promise<Record<string, unknown>> {
  let delivered = 0;
  await connect('mem-hole', () => delivered++); // reads every request, answers none
  let refused = 0;
  let other = 0;
  const requester = await connect('mem-requester', (frame) => {
    if (frame.action === 'error' && frame.code === 'limit_exceeded' && frame.limit === 'maxPendingPerConnection') refused++;
    else other++;
  });
  const started = Date.now();
  const frame = (i: number) => `{"action":"send","dest":"mem-hole","message":${i},"ack":"r${i}","timeout":${REFUSED_FLOOD.timeoutMs}}`;
  await write(requester, REFUSED_FLOOD.requests, frame);
  const complete = await until(() => refused + delivered >= REFUSED_FLOOD.requests, requester, 60_000);
  const requesterOpen = requester.ws.readyState === WebSocket.OPEN;
  return { sent: REFUSED_FLOOD.requests, delivered, refused, other, complete, requesterOpen, ms: Date.now() - started };
}

async function mailboxFlood(): Promise<Record<string, unknown>> {
  const box = await connect('mem-box', undefined, { durable: true });
  box.ws.close(1000);
  await box.closed;
  const outcomes = { queued: 0, mailboxFull: 0, other: 0, firstOther: [] as string[], probe: undefined as Frame | undefined };
  const writer = await connect('mem-writer', (frame) => {
    if (frame.ref === 'probe') outcomes.probe = frame;
    else if (frame.action === 'sent' && frame.queued?.includes('mem-box') === true) outcomes.queued++;
    else if (frame.action === 'error' && frame.code === 'mailbox_full') outcomes.mailboxFull++;
    else if (++outcomes.other <= 3) outcomes.firstOther.push(JSON.stringify(frame).slice(0, 200));
  });
  // Once the broker has handled the close, the name has a mailbox: a 1-byte probe is reported queued.
  const deadline = Date.now() + 10_000;
  while (outcomes.probe?.queued?.includes('mem-box') !== true) {
    if (Date.now() > deadline) throw new Error(`mem-box has no mailbox 10 s after its holder left: ${JSON.stringify(outcomes.probe)}`);
    outcomes.probe = undefined;
    writer.ws.send('{"action":"send","dest":"mem-box","ref":"probe","message":0}');
    await until(() => outcomes.probe !== undefined, writer, 5000);
  }
  const filler = 'x'.repeat(MAILBOX_FLOOD.bytes - 2);
  const started = Date.now();
  const before = writer.frames;
  await write(writer, MAILBOX_FLOOD.messages, (i) => `{"action":"send","dest":"mem-box","ref":"m${i}","message":"${filler}"}`);
  const complete = await until(() => writer.frames - before >= MAILBOX_FLOOD.messages, writer, 60_000);
  const { queued, mailboxFull, other, firstOther } = outcomes;
  return { sent: MAILBOX_FLOOD.messages, queued, mailboxFull, other, firstOther, complete, ms: Date.now() - started };
}

const floods: Record<string, () => Promise<Record<string, unknown>>> = {
  'slow-reader': slowReader,
  'refused-flood': refusedFlood,
  'mailbox-flood': mailboxFlood,
};
const flood = floods[mode];
if (flood === undefined) throw new Error(`unknown flood ${mode}`);

serveParent(async (message) => {
  if (message.type === 'start') {
    reply({ type: 'done', ...(await flood()) });
  } else if (message.type === 'stop') {
    process.exit(0);
  }
});
reply({ type: 'ready' });
