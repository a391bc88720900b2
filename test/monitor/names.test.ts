/**
 * One name's view, `/v1/names/<name>` (lib/monitor/introspect.ts), over real HTTP: its holder or its
 * pool's members, its deliveries in flight, its requests by outcome and the time to its answers, its
 * mailbox; the broker's per-name table (lib/broker/metrics.ts) keeps at most 1000 names, least recently
 * used out first, and never reaches /metrics. Also the traffic each connection's row counts.
 */
import t from 'tap';
import { BrokerMetrics, MAX_NAME_STATS, NAME_STATS_EVICTED } from '../../lib/broker/metrics.js';
import { readyClient, rejection, until } from '../fixtures/clients.js';
import { call, scrape, startMonitored } from '../fixtures/monitor.js';
import { Peer } from '../fixtures/peer.js';

t.test('a name: its holders, in flight, requests by outcome and the time to its answers', async (t) => {
  const { url, monitor, broker } = await startMonitored(t, { durableNames: ['jobs.*'] });
  const calc = await readyClient(t, url, { name: 'calc' });
  calc.handle((message) => message);
  const flaky = await readyClient(t, url, { name: 'flaky' });
  flaky.handle(() => {
    throw Object.assign(new Error('no'), { code: 'refused' });
  });
  const members = [];
  for (let i = 0; i < 2; i++) {
    const member = await readyClient(t, url, { name: { name: 'pool', shared: true } });
    member.handle((message) => message);
    members.push(member);
  }
  const sleeper = await readyClient(t, url, { name: 'sleeper' });
  sleeper.handle(() => new Promise(() => {})); // never answers
  const asker = await readyClient(t, url, { name: 'asker' });

  for (let i = 0; i < 3; i++) await asker.request('calc', i);
  await rejection(asker.request('flaky', 1));
  for (let i = 0; i < 4; i++) await asker.request('pool', i);
  t.equal((await rejection(asker.request('sleeper', 1, { timeout: 100 }), 5000)).code, 'timeout');
  const gathered = await asker.gather(['calc', 'flaky'], 'both');
  t.equal(gathered.length, 2);
  const held = asker.request('sleeper', 'held', { timeout: 60_000 });
  held.catch(() => {});
  await until(() => broker.stats().pending === 1, 'one request pending');

  const viewOf = async (name: string) => (await call(monitor, `/v1/names/${encodeURIComponent(name)}`)).json;
  const calcView = await viewOf('calc');
  const calcId = [...broker.sessions].find((s) => s.names.has('calc'))!.id;
  t.match(calcView, {
    name: 'calc',
    held: true,
    shared: false,
    holders: [{ id: calcId, dialect: 'extended', identity: 'anonymous', remoteAddress: '127.0.0.1', inFlight: 0, connectedAt: String }],
    inFlight: 0,
    mailbox: null,
    requests: { total: 4, outcomes: { answer: 3, gathered: 1, error_answer: 0, timeout: 0 }, latency: { count: 4, p50Ms: Number, p99Ms: Number, meanMs: Number } },
  });
  t.ok(calcView.requests.latency.p50Ms <= calcView.requests.latency.p99Ms, 'p50 <= p99');
  t.match((await viewOf('flaky')).requests, { total: 2, outcomes: { error_answer: 1, gathered: 1 } }, 'a gather counts for each name it asked');
  const pool = await viewOf('pool');
  t.match(pool, { shared: true, requests: { total: 4, outcomes: { answer: 4 } } });
  t.same(pool.holders.map((h: { id: string }) => h.id).sort(), [...broker.sessions].filter((s) => s.names.has('pool')).map((s) => s.id).sort(), 'both members');
  const sleeping = await viewOf('sleeper');
  t.match(sleeping, { inFlight: 1, holders: [{ inFlight: 1 }], requests: { total: 1, outcomes: { timeout: 1 }, latency: { count: 0, p50Ms: null, p99Ms: null, meanMs: null } } }, 'a timeout is no answer: no latency');

  // A durable name while nobody holds it: its mailbox, and no holder.
  const away = await Peer.connect(url);
  away.send({ action: 'register', id: 'jobs.nightly', durable: true });
  await away.next((f) => f.action === 'registered');
  await away.close();
  await until(() => broker.mailboxes.size === 1, 'the mailbox of jobs.nightly');
  await asker.send('jobs.nightly', { run: 1 });
  t.match(await viewOf('jobs.nightly'), { held: false, holders: [], mailbox: { depth: 1, bytes: Number, oldestAgeMs: Number }, requests: null });

  t.match(await call(monitor, '/v1/names/nobody'), { status: 404, json: { error: 'not_found', message: /"nobody"/ } }, 'a name the broker knows nothing of');
  t.match(await call(monitor, '/v1/names/a%2Fb'), { status: 404, json: { message: /"a\/b"/ } }, 'decoded after the split');
  t.match(await call(monitor, '/v1/names/%E0%A4%A'), { status: 400, json: { error: 'bad_request' } });
  t.match(await call(monitor, '/v1/names/calc', { method: 'POST' }), { status: 405 });

  // Names never become labels: the per-name table stays out of /metrics.
  const named: string[] = [];
  for (const family of (await scrape(monitor)).values()) {
    for (const sample of family.samples) {
      if (Object.values(sample.labels).some((v) => ['calc', 'flaky', 'pool', 'sleeper'].includes(v))) named.push(sample.name);
    }
  }
  t.same(named, [], 'no sample of /metrics has a name as a label');
});

t.test('the per-name table keeps at most 1000 names: a new name in a full table makes the 100 least recently used go', async (t) => {
  const metrics = new BrokerMetrics();
  const start = performance.now();
  for (let i = 0; i < MAX_NAME_STATS; i++) metrics.outcome('answer', start, [`name-${i}`]);
  t.equal(metrics.byName.size, MAX_NAME_STATS, 'full');
  metrics.outcome('timeout', start, 'name-0'); // used again: no longer among the least recently used
  metrics.outcome('answer', start, 'one-more');
  t.equal(metrics.byName.size, MAX_NAME_STATS - NAME_STATS_EVICTED + 1, 'bounded, with room made at once');
  t.ok(metrics.byName.has('name-0'), 'a name used again stays');
  t.same([1, 100].map((i) => metrics.byName.has(`name-${i}`)), [false, false], 'the least recently used went');
  t.ok(metrics.byName.has('name-101') && metrics.byName.has('one-more'), 'the rest stay');
  t.same({ ...metrics.byName.get('name-0')!.requests }, { ...metrics.byName.get('name-101')!.requests, timeout: 1 });
  metrics.outcome('answer', start, ['__proto__', 'constructor']);
  t.equal(metrics.byName.get('__proto__')?.requests.answer, 1, 'any name is a key');
  t.equal(metrics.requests.answer, MAX_NAME_STATS + 2, 'the broker-wide counters count every request once');
});

t.test('each connection counts the frames and bytes it sent and received', async (t) => {
  const { url, monitor } = await startMonitored(t);
  const peer = await Peer.named(url, 'talker');
  const rowOf = async () => (await call(monitor, '/v1/connections')).json.connections.find((c: { names: string[] }) => c.names.includes('talker'));
  const before = (await rowOf()).traffic;
  t.match(before, { framesIn: Number, framesOut: Number, bytesIn: Number, bytesOut: Number });
  t.ok(before.framesIn >= 1 && before.framesOut >= 1, 'its register and the answer');
  peer.send({ action: 'subscribe', topic: 'news', ref: 'x' });
  await peer.next((f) => f.action === 'subscribed');
  const frame = JSON.stringify({ action: 'subscribe', topic: 'news', ref: 'x' });
  const after = (await rowOf()).traffic;
  t.equal(after.framesIn, before.framesIn + 1, 'one frame in');
  t.equal(after.bytesIn, before.bytesIn + Buffer.byteLength(frame), 'its bytes');
  t.equal(after.framesOut, before.framesOut + 1, 'one frame out');
  t.ok(after.bytesOut > before.bytesOut);
  await peer.close();
});
