/**
 * The dashboard's snapshot stream, `/v1/stream` (lib/monitor/stream.ts, snapshot.ts), over real HTTP:
 * the history and then a snapshot a second with what the broker holds, its requests by outcome and the
 * points of the charts; access; the bound on streams; a reader that does not keep up is dropped rather
 * than buffered for; the ticker stops when nobody watches; and the quantiles read from the buckets.
 */
import t, { type Test } from 'tap';
import { connect, type Socket } from 'node:net';
import { createServer } from 'node:http';
import { sha256, tokenPolicy } from '../../lib/broker/index.js';
import { DURATION_BUCKETS } from '../../lib/broker/metrics.js';
import { quantile } from '../../lib/monitor/snapshot.js';
import { SnapshotStreams } from '../../lib/monitor/stream.js';
import { readyClient, rejection, until } from '../fixtures/clients.js';
import { call, startMonitored } from '../fixtures/monitor.js';
import { openStream, type StreamEvent } from '../fixtures/sse.js';

t.test('the stream sends its history, then a snapshot a second: what the broker holds, requests by outcome, rates and latency', async (t) => {
  const { url, monitor, broker } = await startMonitored(t);
  const calc = await readyClient(t, url, { name: 'calc' });
  calc.handle((message) => message);
  const flaky = await readyClient(t, url, { name: 'flaky' });
  flaky.handle(() => {
    throw Object.assign(new Error('no'), { code: 'refused' });
  });
  const asker = await readyClient(t, url, { name: 'asker' });
  await asker.subscribe('news', () => {});

  const stream = await openStream(t, monitor);
  t.equal(stream.status, 200);
  t.match(stream.headers.get('content-type'), /^text\/event-stream/);
  t.same(await stream.next(), { type: 'history', data: { points: [] } }, 'a fresh ticker has no history yet');
  const first = await stream.next('snapshot');
  t.match(first.data, {
    t: Number,
    stats: { connections: 3, names: 3, subscriptions: 1, pending: 0, deliveries: 0, mailboxes: 0, queued: 0, queuedBytes: 0 },
    totals: { answer: 0, error_answer: 0, timeout: 0 },
    point: null,
    nodes: null,
  });

  for (let i = 0; i < 5; i++) await asker.request('calc', i);
  for (let i = 0; i < 2; i++) await rejection(asker.request('flaky', i));
  const seen: StreamEvent[] = [];
  const moved = await stream.until((e) => e.data.totals?.answer === 5 && e.data.totals?.error_answer === 2, 'the totals move', 5000, seen);
  t.same(moved.data.stats, { ...first.data.stats }, 'nothing more is held');
  const points = seen.map((e) => e.data.point).filter((p) => p !== null);
  t.ok(points.length > 0, 'snapshots carry points');
  const answered = points.filter((p) => (p.rates.answer ?? 0) > 0);
  t.ok(answered.length > 0, 'a point has answers per second');
  t.ok(answered.every((p) => typeof p.p50Ms === 'number' && typeof p.p99Ms === 'number' && p.p50Ms <= p.p99Ms), 'with p50 <= p99 where requests were answered');
  t.ok(points.some((p) => (p.rates.error_answer ?? 0) > 0), 'and error answers per second');
  t.ok(points.every((p) => Object.keys(p.rates).every((o) => p.rates[o] > 0)), 'only the outcomes that moved');

  const again = await openStream(t, monitor);
  const history = await again.next('history');
  const times = history.data.points.map((p: { t: number }) => p.t);
  t.same(times.slice(0, points.length), points.map((p) => p.t), 'a new stream gets the points so far');
  t.equal((await again.next()).type, 'snapshot', 'and the latest snapshot at once');
  again.close();
  stream.close();
  t.equal(broker.stats().connections, 3);
});

t.test('the stream needs the monitor read permission; loopback only without an auth policy', async (t) => {
  const identity = (id: string, token: string, monitor: string[]) => ({ id, tokenSha256: sha256(token).toString('hex'), permissions: { monitor } });
  const { monitor } = await startMonitored(t, { auth: tokenPolicy([identity('viewer', 'viewer-token', ['read']), identity('nobody', 'nobody-token', [])]) });
  t.match(await openStream(t, monitor), { status: 401, refusal: { error: 'unauthorized' } });
  t.match(await openStream(t, monitor, 'nobody-token'), { status: 403, refusal: { error: 'forbidden' } });
  const stream = await openStream(t, monitor, 'viewer-token');
  t.equal(stream.status, 200);
  t.equal((await stream.next('snapshot')).type, 'snapshot');
  stream.close();
});

t.test('at most 16 streams at once: the next is refused with 503 until one closes', async (t) => {
  const { monitor } = await startMonitored(t);
  const streams = [];
  for (let i = 0; i < 16; i++) {
    const stream = await openStream(t, monitor);
    t.equal(stream.status, 200);
    streams.push(stream);
  }
  const refused = await openStream(t, monitor);
  t.match(refused, { status: 503, refusal: { error: 'unavailable', message: /at most 16 streams/ } });
  t.equal(refused.headers.get('retry-after'), '5');
  t.equal((await call(monitor, '/v1/server')).status, 200, 'the other views still answer');
  streams[0].close();
  let reopened;
  const deadline = Date.now() + 5000;
  do {
    if (Date.now() > deadline) throw new Error('no stream slot came free within 5 s');
    reopened = await openStream(t, monitor);
  } while (reopened.status === 503);
  t.equal(reopened.status, 200, 'a closed stream frees its slot');
  for (const stream of [...streams, reopened]) stream.close();
});

t.test('the broker\'s close ends every stream at once', async (t) => {
  const { monitor, broker } = await startMonitored(t);
  const stream = await openStream(t, monitor);
  await stream.next('snapshot');
  const started = performance.now();
  await broker.close();
  await stream.ended;
  t.ok(performance.now() - started < 5000, 'the close does not wait for the stream');
});

/** A stream server over SnapshotStreams alone, with the given tick and bounds. */
async function streamServer(t: Test, streams: SnapshotStreams): Promise<number> {
  const server = createServer((_req, res) => {
    if (!streams.open(res)) res.writeHead(503).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    streams.close();
    server.closeAllConnections();
    return new Promise((resolve) => server.close(resolve));
  });
  return (server.address() as { port: number }).port;
}

t.test('a reader that does not keep up is dropped once its unsent bytes pass the bound, and nothing grows', async (t) => {
  const big = 'x'.repeat(256 * 1024);
  let ticks = 0;
  const streams = new SnapshotStreams(
    () => ({ snapshot: { n: ++ticks, big }, point: null }),
    () => {},
    { intervalMs: 5, maxBufferedBytes: 1024 * 1024 },
  );
  const port = await streamServer(t, streams);
  const slow: Socket = connect({ host: '127.0.0.1', port });
  t.teardown(() => slow.destroy());
  await new Promise<void>((resolve) => slow.once('connect', resolve));
  slow.write('GET /v1/stream HTTP/1.1\r\nhost: x\r\n\r\n');
  slow.pause(); // reads nothing: the kernel's buffers fill, then the response's own
  await until(() => streams.size === 1, 'the stream is open');
  await until(() => streams.dropped === 1, 'the slow reader is dropped', 20_000);
  await until(() => streams.size === 0, 'and forgotten');
  t.pass(`dropped after ${ticks} ticks of 256 KiB`);
});

t.test('history holds the last points only; the ticker stops after the last stream leaves, and starts anew', async (t) => {
  let n = 0;
  let stops = 0;
  const streams = new SnapshotStreams(
    () => ({ snapshot: { n: ++n }, point: { n } }),
    () => stops++,
    { intervalMs: 5, historyPoints: 10, lingerMs: 50 },
  );
  const port = await streamServer(t, streams);
  const monitor = `http://127.0.0.1:${port}`;
  const first = await openStream(t, monitor);
  await first.until((e) => e.type === 'snapshot' && e.data.n >= 15, 'fifteen ticks');
  const second = await openStream(t, monitor);
  const history = (await second.next('history')).data.points as { n: number }[];
  t.equal(history.length, 10, 'ten points kept');
  t.same(history.map((p) => p.n), Array.from({ length: 10 }, (_, i) => history[0].n + i), 'the latest, in order');
  first.close();
  second.close();
  await until(() => stops === 1, 'the ticker stops after the linger');
  const ticks = n;
  await new Promise((resolve) => setTimeout(resolve, 50));
  t.equal(n, ticks, 'no tick while nobody watches');
  const third = await openStream(t, monitor);
  t.same((await third.next('history')).data.points, [], 'a new start has no history');
  third.close();
});

t.test('quantiles read from the buckets, interpolated within the bucket', async (t) => {
  const counts = new Array<number>(DURATION_BUCKETS.length + 1).fill(0);
  t.equal(quantile(counts, 0.5), undefined, 'nothing observed');
  counts[0] = 10; // ten within 0.5 ms
  t.equal(quantile(counts, 0.5), 0.00025, 'half way into the first bucket');
  counts[2] = 10; // ten between 1 and 2.5 ms
  t.equal(quantile(counts, 0.5), 0.0005, 'the top of the first bucket');
  t.ok(Math.abs(quantile(counts, 0.75)! - 0.00175) < 1e-12, 'half way between 1 ms and 2.5 ms');
  counts[DURATION_BUCKETS.length] = 1000; // beyond the largest bound
  t.equal(quantile(counts, 0.99), 300, 'the +Inf bucket reads as the largest bound');
});
