/**
 * The monitor's JSON introspection (lib/monitor/introspect.ts) against a known set of clients, names,
 * topics and mailboxes; the connection list's sort, paging and filter; and the operator's kicks (4010).
 */
import t from 'tap';
import { createRequire } from 'node:module';
import { CLOSE_CODES } from '../../lib/protocol/index.js';
import { drained, NOTHING_HELD } from '../fixtures/broker.js';
import { until } from '../fixtures/clients.js';
import { call, startMonitored, type Monitored } from '../fixtures/monitor.js';
import { Peer } from '../fixtures/peer.js';

const { version } = createRequire(import.meta.url)('../../package.json') as { version: string };

/** A known broker: four clients, a pool, subscriptions, a pending request and a mailbox with two messages. */
async function knownSet(m: Monitored) {
  const { url, broker } = m;
  const alice = await Peer.named(url, 'alice');
  alice.send({ action: 'register', id: 'alice.backup' });
  await alice.next((f) => f.action === 'registered' && f.id === 'alice.backup');
  const pool = await Promise.all(
    ['p1', 'p2'].map(async () => {
      const member = await Peer.connect(url);
      member.send({ action: 'register', id: 'pool', shared: true });
      await member.next((f) => f.action === 'registered');
      return member;
    }),
  );
  const old = await Peer.named(url, 'legacy-one', { extended: false });
  for (const [peer, topic] of [[alice, 'news'], [pool[0], 'news'], [pool[0], 'news.uk']] as const) {
    peer.send({ action: 'subscribe', topic, ref: topic });
    await peer.next((f) => f.action === 'subscribed');
  }
  const away = await Peer.connect(url);
  away.send({ action: 'register', id: 'away', durable: true });
  await away.next((f) => f.action === 'registered');
  await away.close();
  await until(() => broker.mailboxes.size === 1, 'the mailbox of "away"');
  for (const message of ['one', 'two!']) {
    alice.send({ action: 'send', dest: 'away', message, ref: message });
    await alice.next((f) => f.action === 'sent' && f.ref === message);
  }
  alice.send({ action: 'send', dest: 'pool', message: 'work', ack: 'job' });
  const worker = await Promise.race(pool.map((member) => member.next((f) => f.action === 'message').then(() => member)));
  return { alice, pool, old, worker, all: [alice, ...pool, old] };
}

function idOf(m: Monitored, name: string): string {
  for (const session of m.broker.sessions) if (session.names.has(name)) return session.id;
  throw new Error(`nobody holds ${name}`);
}

t.test('server, connections, names, topics and mailboxes list the known set', async (t) => {
  const m = await startMonitored(t);
  const { monitor, broker } = m;
  const known = await knownSet(m);

  const server = (await call(monitor, '/v1/server')).json;
  t.match(server.server, { version, url: m.url, node: process.version, uptimeSeconds: Number });
  t.ok(Date.parse(server.server.startedAt) <= Date.now(), 'startedAt is a date');
  t.same(server.stats, broker.stats());
  t.same(server.limits, { ...broker.limits });

  const connections = (await call(monitor, '/v1/connections')).json;
  t.match(connections, { total: 4, offset: 0, limit: 1024 });
  const alice = idOf(m, 'alice');
  const worker = [...broker.sessions].find((s) => broker.pending.inFlight(s) === 1)!;
  const p2 = [...broker.sessions].find((s) => s.names.has('pool') && s !== worker)!;
  t.same(
    connections.connections.map((c: { names: string[] }) => c.names),
    [['alice', 'alice.backup'], ['pool'], ['pool'], ['legacy-one']],
    'oldest first',
  );
  t.match(connections.connections[0], {
    id: alice,
    dialect: 'extended',
    remoteAddress: '127.0.0.1',
    identity: 'anonymous',
    subscriptions: 1,
    pending: 1,
    inFlight: 0,
    bufferedBytes: 0,
  });
  t.ok(Date.parse(connections.connections[0].connectedAt) <= Date.now(), 'connectedAt is a date');
  t.match(connections.connections[3], { dialect: 'legacy', names: ['legacy-one'], subscriptions: 0 });

  const names = (await call(monitor, '/v1/names')).json;
  t.same(names, {
    names: [
      { name: 'alice', shared: false, holders: [alice], inFlight: 0 },
      { name: 'alice.backup', shared: false, holders: [alice], inFlight: 0 },
      { name: 'legacy-one', shared: false, holders: [idOf(m, 'legacy-one')], inFlight: 0 },
      { name: 'pool', shared: true, holders: (broker.names.entry('pool') as { members: { id: string }[] }).members.map((s) => s.id), inFlight: 1 },
    ],
  });
  t.same(new Set(names.names[3].holders), new Set([worker.id, p2.id]));

  t.same((await call(monitor, '/v1/topics')).json, {
    topics: [
      { topic: 'news', subscribers: 2 },
      { topic: 'news.uk', subscribers: 1 },
    ],
  });
  const mailboxes = (await call(monitor, '/v1/mailboxes')).json;
  t.match(mailboxes, { mailboxes: [{ name: 'away', depth: 2, bytes: '"one"'.length + '"two!"'.length, oldestAgeMs: Number }] });
  t.ok(mailboxes.mailboxes[0].oldestAgeMs >= 0);

  for (const peer of known.all) await peer.close();
  t.same(await drained(broker, 2000, { ...NOTHING_HELD, queued: 2 }), { ...NOTHING_HELD, queued: 2 });
});

t.test('connections sort, page and filter by a name they hold; bad queries name every problem', async (t) => {
  const m = await startMonitored(t);
  const { monitor } = m;
  const known = await knownSet(m);
  const list = async (query: string) => (await call(monitor, `/v1/connections?${query}`)).json;
  const namesOf = (body: { connections: { names: string[] }[] }) => body.connections.map((c) => c.names.join('+'));

  t.same(namesOf(await list('sort=names')), ['alice+alice.backup', 'pool', 'pool', 'legacy-one'], 'counts sort largest first');
  t.same(namesOf(await list('sort=names&order=asc')).at(-1), 'alice+alice.backup');
  t.same(namesOf(await list('sort=connected&order=desc')), ['legacy-one', 'pool', 'pool', 'alice+alice.backup']);
  t.same(namesOf(await list('sort=pending&limit=1')), ['alice+alice.backup'], 'the one with a pending request');
  const byId = (await list('sort=id')).connections.map((c: { id: string }) => c.id);
  t.same(byId, [...byId].sort());
  t.same((await list('sort=buffered')).total, 4);

  const page = await list('limit=2&offset=1');
  t.match(page, { total: 4, offset: 1, limit: 2 });
  t.same(namesOf(page), ['pool', 'pool']);
  t.same((await list('offset=10')).connections, []);
  const pool = await list('name=pool');
  t.equal(pool.total, 2);
  t.same(namesOf(pool), ['pool', 'pool']);
  t.same((await list('name=nobody')).total, 0);

  const bad = await call(monitor, '/v1/connections?sort=age&order=up&limit=0&offset=-1&color=red');
  t.equal(bad.status, 400);
  t.match(bad.json, { error: 'bad_request' });
  for (const problem of ['unknown parameter "color"', 'sort must be one of', 'order must be asc or desc', 'limit must be', 'offset must be']) {
    t.ok(bad.json.message.includes(problem), problem);
  }
  t.equal((await call(monitor, '/v1/connections?limit=10001')).status, 400, 'limit is at most 10,000');

  for (const peer of known.all) await peer.close();
});

t.test('kicks close connections with 4010: one by id, or every holder of a name', async (t) => {
  const m = await startMonitored(t);
  const { monitor, broker } = m;
  const known = await knownSet(m);
  const codes: Array<[number, string]> = [];
  broker.on('disconnect', (_info, code, reason) => codes.push([code, reason]));

  const alice = idOf(m, 'alice');
  t.same((await call(monitor, `/v1/connections/${alice}/kick`, { method: 'POST' })).json, { kicked: [alice] });
  t.same(await known.alice.closed(), { code: CLOSE_CODES.kicked, reason: 'kicked by an operator' });
  t.equal(CLOSE_CODES.kicked, 4010);
  t.match(await call(monitor, `/v1/connections/${alice}/kick`, { method: 'POST' }), { status: 404, json: { error: 'not_found' } });

  const members = (broker.names.entry('pool') as { members: { id: string }[] }).members.map((s) => s.id);
  t.same((await call(monitor, '/v1/names/pool/kick', { method: 'POST' })).json, { kicked: members });
  for (const member of known.pool) t.equal((await member.closed()).code, 4010);
  t.match(await call(monitor, '/v1/names/pool/kick', { method: 'POST' }), { status: 404 });
  t.match(await call(monitor, '/v1/names/a%2Fb/kick', { method: 'POST' }), { status: 404, json: { message: /"a\/b"/ } }, 'decoded after the split');

  t.same((await call(monitor, '/v1/names/legacy-one/kick', { method: 'POST' })).json, { kicked: [idOf(m, 'legacy-one')] });
  t.equal((await known.old.closed()).code, 4010, 'a legacy client is kicked alike');
  await until(() => codes.length === 4, 'four disconnects');
  t.same(codes, Array(4).fill([4010, 'kicked by an operator']));
  t.same(await drained(broker, 2000, { ...NOTHING_HELD, queued: 2 }), { ...NOTHING_HELD, queued: 2 });
});
