/**
 * Exactly one outcome per request while a cluster is hit by one fault after another (issue 14, item 5;
 * protocol.md section 16): three `switchboard serve --cluster` processes on a real redis-server with AOF;
 * requesters and a pool of responders spread over the nodes, each going to the next node's URL when its
 * connection drops; meanwhile a node is killed with SIGKILL and started again, another is paused with
 * SIGSTOP past its lease, and Redis is killed and started again. Every request whose connection stayed
 * open past its deadline got exactly one outcome (an answer or an error), no request got two, and traffic
 * is answered again after the last fault. The figures are printed as comments.
 */
import t from 'tap';
import WebSocket from 'ws';
import { built, freePort, type BrokerProcess } from '../fixtures/broker-process.js';
import { clusterPrefix, spawnNode } from '../fixtures/cluster.js';
import { startRedis } from '../fixtures/redis.js';

type Frame = Record<string, unknown>;

const LEASE_MS = 1500;
const TIMEOUT_MS = 2000;
/** A request whose connection stayed open this long after it was sent must have had its outcome. */
const OWED_AFTER_MS = TIMEOUT_MS + 1500;

interface Sent {
  readonly at: number;
  readonly socket: WebSocket;
  outcomes: number;
  closedAt?: number;
  answeredAt?: number;
  /** The error code of its (first) error outcome. */
  code?: string;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A pool member that answers every request with its message, and registers again wherever it can after a drop. */
function responder(urls: readonly string[], first: number, stopped: () => boolean): void {
  let next = first;
  const run = () => {
    if (stopped()) return;
    const ws = new WebSocket(urls[next++ % urls.length], ['switchboard.v1']);
    ws.on('open', () => ws.send(JSON.stringify({ action: 'register', id: 'svc', shared: true })));
    ws.on('message', (data) => {
      const frame = JSON.parse(String(data)) as Frame;
      if (frame.action === 'message' && typeof frame.ack === 'string') ws.send(JSON.stringify({ action: 'answer', ack: frame.ack, message: frame.message }));
      if (frame.action === 'error' && frame.ack === undefined) ws.close(); // refused (unavailable): try the next node
    });
    ws.on('error', () => {});
    ws.on('close', () => setTimeout(run, 100));
  };
  run();
}

/** When the requesters stop sending (performance.now()); set once the last fault is injected. */
interface End {
  at: number;
}

/** One request at a time from a connection named `name`, to the next node's URL after a drop, until `end`. */
async function requester(urls: readonly string[], first: number, name: string, end: End, sent: Map<string, Sent>): Promise<void> {
  let next = first;
  let n = 0;
  while (performance.now() < end.at) {
    const ws = new WebSocket(urls[next++ % urls.length], ['switchboard.v1']);
    let wake = () => {};
    let registered = false;
    ws.on('message', (data) => {
      const frame = JSON.parse(String(data)) as Frame;
      if (frame.action === 'registered') registered = true;
      const request = typeof frame.ack === 'string' ? sent.get(frame.ack) : undefined;
      if (request !== undefined && request.socket === ws && (frame.action === 'answer' || frame.action === 'error')) {
        request.outcomes++;
        if (frame.action === 'answer') request.answeredAt = performance.now();
        else request.code ??= String(frame.code);
      }
      wake();
    });
    ws.on('error', () => {});
    const closed = new Promise<void>((resolve) => ws.once('close', () => resolve()));
    ws.once('close', () => {
      for (const request of sent.values()) if (request.socket === ws) request.closedAt ??= performance.now();
      wake();
    });
    const event = (ms: number) => Promise.race([new Promise<void>((resolve) => (wake = resolve)), sleep(ms), closed]);
    ws.once('open', () => ws.send(JSON.stringify({ action: 'register', id: name })));
    const openUntil = performance.now() + 2000;
    while (!registered && ws.readyState <= WebSocket.OPEN && performance.now() < openUntil) await event(100);
    while (registered && ws.readyState === WebSocket.OPEN && performance.now() < end.at) {
      const ack = `${name}-${++n}`;
      const request: Sent = { at: performance.now(), socket: ws, outcomes: 0 };
      sent.set(ack, request);
      ws.send(JSON.stringify({ action: 'send', dest: 'svc', message: n, ack, timeout: TIMEOUT_MS }));
      while (request.outcomes === 0 && ws.readyState === WebSocket.OPEN && performance.now() - request.at < OWED_AFTER_MS) await event(OWED_AFTER_MS);
      if (request.outcomes === 0) break; // no outcome in time on an open connection: counted below; start afresh
    }
    if (ws.readyState === WebSocket.OPEN) ws.close();
    await Promise.race([closed, sleep(500)]);
    ws.terminate();
  }
}

t.test('one outcome per request through kill -9 of a node, SIGSTOP past the lease and a Redis restart [SB-16-2] [SB-16-3] [SB-16-4]', { skip: built() }, async (t) => {
  const redis = await startRedis(t, { appendonly: true });
  const prefix = clusterPrefix();
  const ports = await Promise.all([0, 1, 2].map(() => freePort()));
  const nodes: BrokerProcess[] = await Promise.all(ports.map((port) => spawnNode(t, port, redis.url, prefix, LEASE_MS)));
  const urls = nodes.map((node) => node.url);
  let stopped = false;
  t.teardown(() => void (stopped = true));
  responder(urls, 1, () => stopped);
  responder(urls, 2, () => stopped);
  await sleep(500);

  const sent = new Map<string, Sent>();
  const start = performance.now();
  const end: End = { at: Infinity };
  const lanes = [0, 1, 2, 0].map((first, i) => requester(urls, first, `req${i}`, end, sent));
  const faults: string[] = [];
  // Each fault a while after the one before has taken effect, whatever the machine's speed.
  const after = async (ms: number, what: string, act: () => Promise<unknown> | void) => {
    await sleep(ms);
    await act();
    faults.push(`${what} at ${((performance.now() - start) / 1000).toFixed(1)} s`);
  };
  const schedule = (async () => {
    await after(2000, 'kill -9 of node 1', () => nodes[1].kill());
    await after(2000, 'node 1 started again', async () => (nodes[1] = await spawnNode(t, ports[1], redis.url, prefix, LEASE_MS)));
    await after(2000, 'SIGSTOP of node 2', () => void nodes[2].child.kill('SIGSTOP'));
    await after(2500, 'SIGCONT of node 2', () => void nodes[2].child.kill('SIGCONT'));
    await after(2000, 'kill -9 of Redis', () => redis.kill9());
    await after(1000, 'Redis started again', () => redis.restart());
    end.at = performance.now() + 4000;
  })();
  await Promise.all([schedule, ...lanes]);
  await sleep(OWED_AFTER_MS); // outcomes still on their way
  stopped = true;

  const requests = [...sent.values()];
  const twice = requests.filter((r) => r.outcomes > 1);
  const owed = requests.filter((r) => r.outcomes === 0 && (r.closedAt === undefined || r.closedAt - r.at >= OWED_AFTER_MS));
  const answered = requests.filter((r) => r.answeredAt !== undefined);
  const excused = requests.filter((r) => r.outcomes === 0).length - owed.length;
  t.comment(`faults: ${faults.join('; ')}`);
  const codes = new Map<string, number>();
  for (const r of requests) if (r.code !== undefined) codes.set(r.code, (codes.get(r.code) ?? 0) + 1);
  const errors = [...codes].map(([code, count]) => `${count} ${code}`).join(', ');
  t.comment(`${requests.length} requests: ${answered.length} answered; errors: ${errors || 'none'}; ${excused} without an outcome on a connection that closed before its deadline`);
  t.equal(faults.length, 6, 'every fault was injected');
  t.ok(requests.length > 100, `${requests.length} requests sent`);
  t.same(twice.length, 0, 'no request had two outcomes');
  t.same(owed.length, 0, 'every request whose connection stayed open past its deadline had its outcome');
  const last = answered.filter((r) => (r.answeredAt as number) > end.at - 2000).length;
  t.ok(last > 0, `${last} requests answered in the last 2 s, after every fault`);
});
