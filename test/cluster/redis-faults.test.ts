/**
 * Faults of a cluster's Redis (issue 14, protocol.md section 16): Redis killed and restarted, its
 * connections dropped with CLIENT KILL, and nodes started before it, with broker nodes as `switchboard
 * serve --cluster` processes. No request outlives its deadline, no name is held twice, and traffic is
 * back within 2 s of Redis; the figures each test measured are in its assertions' names.
 */
import t, { type Test } from 'tap';
import { built, freePort } from '../fixtures/broker-process.js';
import { clusterPrefix as prefix, peerOn as peer, registerWhenFree, spawnNode } from '../fixtures/cluster.js';
import type { Frame } from '../fixtures/peer.js';
import { startRedis } from '../fixtures/redis.js';
import { createClient } from 'redis';

const skip = built();

const message = (f: Frame) => f.action === 'message';

/** Two node processes on a new Redis: `web` on the first asks `calc` on the second, which echoes. */
async function echoAcrossNodes(t: Test) {
  const redis = await startRedis(t);
  const cluster = prefix();
  const [one, two] = await Promise.all([spawnNode(t, await freePort(), redis.url, cluster), spawnNode(t, await freePort(), redis.url, cluster)]);
  const web = await peer(t, one.url, 'web');
  const calc = await peer(t, two.url, 'calc');
  calc.ws.on('message', (data) => {
    const frame = JSON.parse(data.toString()) as Frame;
    if (frame.action === 'message') calc.send({ action: 'answer', ack: frame.ack, message: frame.message });
  });
  let n = 0;
  /** One request with deadline `timeout`: its outcome, and how long it took. */
  const ask = async (timeout: number) => {
    const ack = `q${++n}`;
    const sentAt = performance.now();
    web.send({ action: 'send', dest: 'calc', message: n, ack, timeout });
    const outcome = await web.next((f) => f.ack === ack, timeout + 1000);
    return { outcome, ms: performance.now() - sentAt };
  };
  return { redis, web, ask };
}

t.test('Redis killed and restarted: no request outlives its deadline, traffic is back within 2 s of Redis [SB-16-2]', { skip }, async (t) => {
  const { redis, ask } = await echoAcrossNodes(t);
  t.match((await ask(1000)).outcome, { action: 'answer' }, 'traffic flows before the fault');
  await redis.kill9();
  const during = await ask(500);
  t.ok(during.ms <= 500 + 300, `a request during the outage ends in ${during.ms.toFixed(0)} ms (${String(during.outcome.code ?? during.outcome.action)}), deadline 500 ms`);
  await redis.restart();
  const backAt = performance.now();
  let answered: number | undefined;
  while (performance.now() - backAt < 5000) {
    const { outcome } = await ask(300);
    if (outcome.action === 'answer') {
      answered = performance.now() - backAt;
      break;
    }
  }
  t.ok(answered !== undefined && answered <= 2000, `answered again ${answered?.toFixed(0)} ms after Redis returned (at most 2000)`);
});

t.test('nodes started before Redis: names and requests work within 2 s of Redis starting [SB-16-2]', { skip }, async (t) => {
  const redis = await startRedis(t);
  await redis.kill9();
  const cluster = prefix();
  const [one, two] = await Promise.all([spawnNode(t, await freePort(), redis.url, cluster), spawnNode(t, await freePort(), redis.url, cluster)]);
  const probe = await peer(t, one.url);
  probe.send({ action: 'register', id: 'early', ref: 'e' });
  t.match(await probe.next((f) => f.ref === 'e'), { action: 'error', code: 'unavailable' }, 'no name while the cluster cannot be reached');
  await redis.restart();
  const upAt = performance.now();
  const { peer: calc } = await registerWhenFree(t, two.url, 'calc', 5000);
  const { peer: web } = await registerWhenFree(t, one.url, 'web', 5000); // each node comes back on its own reconnect
  web.send({ action: 'send', dest: 'calc', message: 1, ack: 'q1' });
  const delivered = await calc.next(message);
  calc.send({ action: 'answer', ack: delivered.ack, message: 'up' });
  t.match(await web.next((f) => f.ack === 'q1'), { action: 'answer', message: 'up' });
  const ms = performance.now() - upAt;
  t.ok(ms <= 2000, `a cross-node request answered ${ms.toFixed(0)} ms after Redis started (at most 2000)`);
});

t.test('Redis drops the nodes\' connections (CLIENT KILL): they reconnect, resubscribe, and traffic is back within 2 s [SB-16-2]', { skip }, async (t) => {
  const { redis, web, ask } = await echoAcrossNodes(t);
  t.match((await ask(1000)).outcome, { action: 'answer' }, 'traffic flows before the fault');
  const admin = createClient({ url: redis.url });
  await admin.connect();
  t.teardown(() => admin.close());
  const killed = Number(await admin.sendCommand(['CLIENT', 'KILL', 'TYPE', 'pubsub'])) + Number(await admin.sendCommand(['CLIENT', 'KILL', 'TYPE', 'normal', 'SKIPME', 'yes']));
  t.ok(killed >= 4, `${killed} connections of the nodes killed`);
  const killedAt = performance.now();
  let answered: number | undefined;
  while (performance.now() - killedAt < 5000) {
    const { outcome } = await ask(300);
    t.ok(['answer', 'error'].includes(outcome.action as string), `one outcome: ${String(outcome.code ?? outcome.action)}`);
    if (outcome.action === 'answer') {
      answered = performance.now() - killedAt;
      break;
    }
  }
  t.ok(answered !== undefined && answered <= 2000, `answered again ${answered?.toFixed(0)} ms after the kill (at most 2000)`);
  web.send({ action: 'register', id: 'calc', ref: 'again' });
  t.match(await web.next((f) => f.ref === 'again'), { action: 'error', code: 'name_taken' }, 'the name still has its one holder');
});
