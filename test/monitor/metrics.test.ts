/**
 * The monitor's `/metrics` (lib/monitor/prometheus.ts), scraped and read with a strict Prometheus text
 * parser: the naming and cardinality rules, and counters that move as traffic of each kind and each
 * request outcome flows.
 */
import t from 'tap';
import { createRequire } from 'node:module';
import { tokenPolicy, sha256 } from '../../lib/broker/index.js';
import { DURATION_BUCKETS, REQUEST_OUTCOMES } from '../../lib/broker/metrics.js';
import { drained, NOTHING_HELD } from '../fixtures/broker.js';
import { until } from '../fixtures/clients.js';
import { scrape, startMonitored } from '../fixtures/monitor.js';
import { Peer } from '../fixtures/peer.js';
import { value, type Family } from '../fixtures/prometheus.js';

const { version } = createRequire(import.meta.url)('../../package.json') as { version: string };

/** Label names a switchboard metric may carry: closed sets only, never a name, topic or identity. */
const CLOSED_LABELS = new Set(['dialect', 'action', 'outcome', 'code', 'le', 'version', 'node']);

const EXPECTED = [
  'switchboard_build_info',
  'switchboard_connections',
  'switchboard_names',
  'switchboard_subscriptions',
  'switchboard_pending_requests',
  'switchboard_deliveries_in_flight',
  'switchboard_mailboxes',
  'switchboard_mailbox_messages',
  'switchboard_mailbox_bytes',
  'switchboard_frames_received_total',
  'switchboard_frames_sent_total',
  'switchboard_received_bytes_total',
  'switchboard_sent_bytes_total',
  'switchboard_bad_frames_total',
  'switchboard_slow_consumer_closes_total',
  'switchboard_auth_failures_total',
  'switchboard_late_answers_total',
  'switchboard_internal_errors_total',
  'switchboard_requests_total',
  'switchboard_connections_closed_total',
  'switchboard_request_duration_seconds',
  'switchboard_event_loop_lag_p50_seconds',
  'switchboard_event_loop_lag_p99_seconds',
  'switchboard_event_loop_lag_max_seconds',
];

function seriesOf(families: Map<string, Family>): number {
  let n = 0;
  for (const family of families.values()) if (family.name.startsWith('switchboard_')) n += family.samples.length;
  return n;
}

t.test('the exposition follows the naming rules and its cardinality does not grow with names or topics', async (t) => {
  const { broker, url, monitor } = await startMonitored(t);
  const families = await scrape(monitor);
  const own = [...families.values()].filter((f) => f.name.startsWith('switchboard_'));
  t.same(own.map((f) => f.name).sort(), [...EXPECTED].sort(), 'the families of lib/monitor/README.md');
  for (const family of own) {
    t.ok(family.help !== undefined && family.help.length > 0, `${family.name} has HELP`);
    t.not(family.type, 'untyped', `${family.name} has a TYPE`);
    t.equal(family.name.endsWith('_total'), family.type === 'counter', `${family.name}: _total exactly on counters`);
    for (const sample of family.samples) {
      for (const label of Object.keys(sample.labels)) t.ok(CLOSED_LABELS.has(label), `${family.name}: label ${label} is a closed set`);
    }
  }
  t.equal(value(families, 'switchboard_build_info', { version, node: process.version }), 1, 'build info');
  t.ok(families.has('process_cpu_user_seconds_total') && families.has('nodejs_heap_size_used_bytes'), "prom-client's process metrics");
  const histogram = families.get('switchboard_request_duration_seconds');
  t.equal(histogram?.type, 'histogram');
  for (const outcome of REQUEST_OUTCOMES) {
    const les = histogram?.samples.filter((s) => s.labels.outcome === outcome && s.name.endsWith('_bucket')).map((s) => s.labels.le);
    t.same(les, [...DURATION_BUCKETS.map(String), '+Inf'], `${outcome}: buckets from 0.5 ms to 300 s, and +Inf`);
  }

  const before = seriesOf(families);
  const peers = await Promise.all(Array.from({ length: 20 }, (_, i) => Peer.named(url, `svc-${i}`)));
  for (const [i, peer] of peers.entries()) peer.send({ action: 'subscribe', topic: `topic.${i}`, ref: 's' });
  await Promise.all(peers.map((peer) => peer.next((f) => f.action === 'subscribed')));
  const after = await scrape(monitor);
  t.equal(value(after, 'switchboard_names'), 20);
  t.equal(value(after, 'switchboard_subscriptions'), 20);
  t.equal(seriesOf(after), before, '20 names and 20 topics add no series');
  for (const family of after.values()) {
    for (const sample of family.samples) {
      const labelled = Object.values(sample.labels).join(' ');
      t.notMatch(labelled, /svc-|topic\./, `${sample.name} carries no name or topic`);
    }
  }
  await Promise.all(peers.map((peer) => peer.close()));
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('requests by outcome and the duration histogram move with every outcome', async (t) => {
  const { broker, url, monitor } = await startMonitored(t);
  const sender = await Peer.named(url, 'sender');
  const worker = await Peer.named(url, 'worker');
  let families = await scrape(monitor);
  const counts = (f: Map<string, Family>, outcome: string) => ({
    requests: value(f, 'switchboard_requests_total', { outcome }),
    durations: value(f, 'switchboard_request_duration_seconds_count', { outcome }),
    inf: value(f, 'switchboard_request_duration_seconds_bucket', { outcome, le: '+Inf' }),
  });
  /** After `produce`, the outcome's counters went up by one, and no other outcome's did. */
  const moved = async (outcome: string, produce: () => Promise<void>) => {
    const previous = families;
    await produce();
    const deadline = Date.now() + 3000;
    do families = await scrape(monitor);
    while (counts(families, outcome).requests === counts(previous, outcome).requests && Date.now() < deadline);
    for (const other of REQUEST_OUTCOMES) {
      const [was, now] = [counts(previous, other), counts(families, other)];
      const step = other === outcome ? 1 : 0;
      const expected = { requests: was.requests + step, durations: was.durations + step, inf: was.inf + step };
      t.same(now, expected, `${outcome}: ${other} +${step}`);
    }
  };
  const answered = (ack: string) => sender.next((f) => f.ack === ack && (f.action === 'answer' || f.action === 'error' || f.action === 'gathered'));

  await moved('answer', async () => {
    sender.send({ action: 'send', dest: 'worker', message: 1, ack: 'a1' });
    const m = await worker.next((f) => f.action === 'message');
    worker.send({ action: 'answer', ack: m.ack as string, message: 2 });
    await answered('a1');
  });
  t.ok(value(families, 'switchboard_request_duration_seconds_sum', { outcome: 'answer' }) > 0, 'the duration is summed');
  await moved('error_answer', async () => {
    sender.send({ action: 'send', dest: 'worker', message: 1, ack: 'a2' });
    const m = await worker.next((f) => f.action === 'message');
    worker.send({ action: 'answer', ack: m.ack as string, error: { code: 'nope', message: 'no' } });
    await answered('a2');
  });
  await moved('gathered', async () => {
    sender.send({ action: 'send', dest: ['worker'], message: 1, ack: 'a3', gather: true });
    const m = await worker.next((f) => f.action === 'message');
    worker.send({ action: 'answer', ack: m.ack as string, message: 3 });
    await answered('a3');
  });
  await moved('no_responders', async () => {
    sender.send({ action: 'send', dest: 'nobody', message: 1, ack: 'a4' });
    t.match(await answered('a4'), { code: 'no_responders' });
  });
  let lateId = '';
  await moved('timeout', async () => {
    sender.send({ action: 'send', dest: 'worker', message: 1, ack: 'a5', timeout: 50 });
    lateId = (await worker.next((f) => f.action === 'message')).ack as string;
    t.match(await answered('a5'), { code: 'timeout' });
  });
  t.equal(value(families, 'switchboard_late_answers_total'), 0);
  await worker.next((f) => f.action === 'cancel' && f.ack === lateId);
  worker.send({ action: 'answer', ack: lateId, message: 'too late' });
  await until(() => broker.stats().lateAnswers === 1, 'the late answer counted');
  t.equal(value(await scrape(monitor), 'switchboard_late_answers_total'), 1, 'a late answer is counted');
  await moved('cancelled', async () => {
    sender.send({ action: 'send', dest: 'worker', message: 1, ack: 'a6' });
    await worker.next((f) => f.action === 'message');
    sender.send({ action: 'cancel', ack: 'a6' });
    await answered('a6');
  });
  await moved('responder_gone', async () => {
    const leaving = await Peer.named(url, 'leaving');
    sender.send({ action: 'send', dest: 'leaving', message: 1, ack: 'a7' });
    await leaving.next((f) => f.action === 'message');
    await leaving.close();
    await answered('a7');
  });
  await moved('sender_gone', async () => {
    const gone = await Peer.named(url, 'gone');
    gone.send({ action: 'send', dest: 'worker', message: 1, ack: 'a8' });
    await worker.next((f) => f.action === 'message');
    await gone.close();
  });
  await sender.close();
  await worker.close();
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('connections by dialect, frames, bytes, bad frames, closes and the holding gauges follow the traffic', async (t) => {
  const { broker, url, monitor } = await startMonitored(t, { durableNames: ['inbox.*'] });
  const zero = await scrape(monitor);
  t.same(
    [value(zero, 'switchboard_connections', { dialect: 'extended' }), value(zero, 'switchboard_connections', { dialect: 'legacy' })],
    [0, 0],
  );
  const a = await Peer.named(url, 'a');
  const b = await Peer.named(url, 'b');
  const old = await Peer.named(url, 'old', { extended: false });
  a.send({ action: 'subscribe', topic: 'news', ref: 's1' });
  await a.next((f) => f.action === 'subscribed');
  const offline = await Peer.named(url, 'inbox.1');
  await offline.close();
  await until(() => broker.mailboxes.size === 1, 'the mailbox of inbox.1');
  a.send({ action: 'send', dest: 'inbox.1', message: 'queued', ref: 'q' });
  await a.next((f) => f.action === 'sent');
  a.send({ action: 'send', dest: 'b', message: 'hold', ack: 'pending' });
  await b.next((f) => f.action === 'message');
  a.send('this is not JSON');
  await a.next((f) => f.action === 'error' && f.code === 'bad_frame');

  const families = await scrape(monitor);
  const stats = broker.stats();
  t.equal(value(families, 'switchboard_connections', { dialect: 'extended' }), 2);
  t.equal(value(families, 'switchboard_connections', { dialect: 'legacy' }), 1);
  t.equal(value(families, 'switchboard_names'), 3);
  t.equal(value(families, 'switchboard_subscriptions'), 1);
  t.equal(value(families, 'switchboard_pending_requests'), 1);
  t.equal(value(families, 'switchboard_deliveries_in_flight'), 1);
  t.equal(value(families, 'switchboard_mailboxes'), 1);
  t.equal(value(families, 'switchboard_mailbox_messages'), 1);
  t.equal(value(families, 'switchboard_mailbox_bytes'), JSON.stringify('queued').length);
  t.equal(value(families, 'switchboard_frames_received_total', { action: 'register' }), 4);
  t.equal(value(families, 'switchboard_frames_received_total', { action: 'send' }), 2);
  t.equal(value(families, 'switchboard_frames_received_total', { action: 'subscribe' }), 1);
  t.equal(value(families, 'switchboard_frames_sent_total', { action: 'registered' }), 4);
  t.equal(value(families, 'switchboard_frames_sent_total', { action: 'message' }), 1);
  t.equal(value(families, 'switchboard_frames_sent_total', { action: 'error' }), 1);
  t.equal(value(families, 'switchboard_bad_frames_total'), 1);
  t.equal(value(families, 'switchboard_received_bytes_total'), broker.metrics.bytesIn);
  t.ok(broker.metrics.bytesIn > 'this is not JSON'.length, 'bytes in counted');
  t.equal(value(families, 'switchboard_sent_bytes_total'), broker.metrics.bytesOut);
  t.equal(value(families, 'switchboard_connections_closed_total', { code: '1005' }), 1, "inbox.1's close (ws closes without a code: 1005)");
  t.equal(stats.framesIn, 7);

  await a.close();
  await b.close();
  await old.close();
  t.same(await drained(broker, 2000, { ...NOTHING_HELD, queued: 1 }), { ...NOTHING_HELD, queued: 1 }, 'the mailbox keeps its message');
  const end = await scrape(monitor);
  t.equal(value(end, 'switchboard_connections_closed_total', { code: '1005' }), 4, 'every close by its code');
  t.equal(value(end, 'switchboard_requests_total', { outcome: 'sender_gone' }), 1, "the pending request ended with a's close");
  const odd = await Peer.connect(url);
  odd.ws.close(4321, 'my own code');
  await odd.closed();
  await until(() => broker.stats().connections === 0, 'the odd close handled');
  const folded = await scrape(monitor);
  t.equal(value(folded, 'switchboard_connections_closed_total', { code: 'other' }), 1, "a client's own close code counts as other");
});

t.test('refused tokens and slow consumers are counted', async (t) => {
  const policy = tokenPolicy([
    { id: 'app', tokenSha256: sha256('app-token').toString('hex'), permissions: { register: ['*'], send: ['*'] } },
    { id: 'ops', tokenSha256: sha256('ops-token').toString('hex'), permissions: { monitor: ['read'] } },
  ]);
  const { broker, url, monitor } = await startMonitored(t, { auth: policy, limits: { maxBufferedBytes: 64 * 1024 } });
  const intruder = await Peer.connect(url);
  intruder.send({ action: 'auth', token: 'wrong' });
  t.equal((await intruder.closed()).code, 1008);
  t.equal(value(await scrape(monitor, 'ops-token'), 'switchboard_auth_failures_total'), 1);

  const login = async (name: string) => {
    const peer = await Peer.connect(url);
    peer.send({ action: 'auth', token: 'app-token' });
    await peer.next((f) => f.action === 'authenticated');
    peer.send({ action: 'register', id: name });
    await peer.next((f) => f.action === 'registered');
    return peer;
  };
  const sender = await login('sender');
  const slow = await login('slow');
  (slow.ws as unknown as { _socket: { pause(): void } })._socket.pause();
  const chunk = 'x'.repeat(16 * 1024);
  for (let i = 0; i < 400; i++) sender.send({ action: 'send', dest: 'slow', message: chunk });
  await until(() => broker.metrics.slowConsumerCloses === 1, 'the slow reader closed', 5000);
  t.equal(value(await scrape(monitor, 'ops-token'), 'switchboard_slow_consumer_closes_total'), 1);
  slow.ws.terminate();
  await sender.close();
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('event-loop lag is reported in seconds over the time between two scrapes', async (t) => {
  const { monitor } = await startMonitored(t);
  await scrape(monitor);
  // A window starts at the event-loop timer's first tick after a scrape (node's reset() forgets the last one).
  await new Promise((resolve) => setTimeout(resolve, 50));
  const busyUntil = Date.now() + 150;
  while (Date.now() < busyUntil); // block the loop
  await new Promise((resolve) => setTimeout(resolve, 30));
  const families = await scrape(monitor);
  const max = value(families, 'switchboard_event_loop_lag_max_seconds');
  t.ok(max >= 0.1 && max < 10, `a 150 ms block shows as ${max} s`);
  t.ok(value(families, 'switchboard_event_loop_lag_p99_seconds') <= max);
  t.ok(value(families, 'switchboard_event_loop_lag_p50_seconds') >= 0);
});
