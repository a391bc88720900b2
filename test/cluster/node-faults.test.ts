/**
 * Faults of a cluster's nodes (issue 14, protocol.md section 16): broker nodes as `switchboard serve
 * --cluster` processes on a real redis-server, killed with SIGKILL and paused with SIGSTOP. Each fault has
 * one clear outcome; the figures each test measured are in its assertions' names. Redis' own faults are
 * in redis-faults.test.ts.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { sha256 } from '../../lib/broker/index.js';
import { built, freePort, spawnBroker } from '../fixtures/broker-process.js';
import { clusterPrefix as prefix, peerOn as peer, registerWhenFree, spawnNode } from '../fixtures/cluster.js';
import { client, within } from '../fixtures/clients.js';
import type { Frame } from '../fixtures/peer.js';
import { startRedis } from '../fixtures/redis.js';

const skip = built();

const message = (f: Frame) => f.action === 'message';

t.test('kill -9 of a node: its deliveries end responder_gone, its senders\' requests are cancelled, its names come free [SB-16-3] [SB-16-4]', { skip }, async (t) => {
  const redis = await startRedis(t);
  const cluster = prefix();
  const [one, two] = await Promise.all([spawnNode(t, await freePort(), redis.url, cluster), spawnNode(t, await freePort(), redis.url, cluster)]);
  const web = await peer(t, one.url, 'web');
  const worker = await peer(t, one.url, 'worker');
  const calc = await peer(t, two.url, 'calc');
  const sender = await peer(t, two.url, 'sender');
  web.send({ action: 'send', dest: 'calc', message: 1, ack: 'q1', timeout: 20_000 });
  await calc.next(message);
  sender.send({ action: 'send', dest: 'worker', message: 2, ack: 'q2', timeout: 20_000 });
  const d2 = await worker.next(message);

  await two.kill();
  const killedAt = performance.now();
  const outcome = await web.next((f) => f.ack === 'q1', 5000);
  const outcomeMs = performance.now() - killedAt;
  t.match(outcome, { action: 'error', code: 'responder_gone' });
  t.ok(outcomeMs <= 3000, `responder_gone ${outcomeMs.toFixed(0)} ms after the kill (at most 3000)`);
  const cancel = await worker.next((f) => f.action === 'cancel', 5000);
  t.match(cancel, { ack: d2.ack, reason: 'sender_gone' });
  const { at } = await registerWhenFree(t, one.url, 'calc', 5000);
  const freeMs = at - killedAt;
  // The lease runs from its last renewal before the kill; then the 100 ms retries and their round trips.
  t.ok(freeMs <= 3000 + 500, `"calc" free ${freeMs.toFixed(0)} ms after the kill (lease 3000 ms)`);
  t.same((await web.quiet(200)).filter((f) => f.ack === 'q1'), [], 'one outcome');
});

t.test('kill -9 of a node: the same identity takes its names over at once [SB-16-3] [SB-4.1-6]', { skip }, async (t) => {
  const redis = await startRedis(t);
  const dir = mkdtempSync(join(tmpdir(), 'sb-auth-'));
  const auth = join(dir, 'auth.json');
  writeFileSync(auth, JSON.stringify({ identities: [{ id: 'svc', tokenSha256: sha256('secret').toString('hex'), permissions: { register: ['*'], send: ['*'] } }] }));
  const cluster = prefix();
  const args = ['--cluster', redis.url, '--cluster-prefix', cluster, '--auth', auth];
  const [one, two] = await Promise.all([spawnBroker(t, await freePort(), 10_000, args), spawnBroker(t, await freePort(), 10_000, args)]);
  const authed = async (url: string) => {
    const p = await peer(t, url);
    p.send({ action: 'auth', token: 'secret' });
    await p.next((f) => f.action === 'authenticated');
    return p;
  };
  const old = await authed(two.url);
  old.send({ action: 'register', id: 'calc' });
  await old.next((f) => f.action === 'registered');
  await two.kill();
  const killedAt = performance.now();
  const fresh = await authed(one.url);
  fresh.send({ action: 'register', id: 'calc', takeover: true });
  t.match(await fresh.next((f) => f.action === 'registered' || f.action === 'error'), { action: 'registered', id: 'calc' });
  t.comment(`taken over ${(performance.now() - killedAt).toFixed(0)} ms after the kill`);
});

t.test('a node paused past its lease closes its named connections when it resumes; its names were free meanwhile, never held twice [SB-16-3]', { skip }, async (t) => {
  const redis = await startRedis(t);
  const cluster = prefix();
  const lease = 1000;
  const [one, two] = await Promise.all([spawnNode(t, await freePort(), redis.url, cluster, lease), spawnNode(t, await freePort(), redis.url, cluster, lease)]);
  const stale = await peer(t, two.url, 'calc');
  const web = await peer(t, one.url, 'web');
  two.child.kill('SIGSTOP');
  const stoppedAt = performance.now();
  t.teardown(() => void two.child.kill('SIGCONT'));
  const { peer: holder, at } = await registerWhenFree(t, one.url, 'calc', 3000);
  t.comment(`"calc" free ${(at - stoppedAt).toFixed(0)} ms after the pause (lease ${lease} ms)`);
  web.send({ action: 'send', dest: 'calc', message: 'who?', ack: 'q1' });
  t.match(await holder.next(message), { message: 'who?' }, 'the new holder is reached');
  two.child.kill('SIGCONT');
  t.match(await stale.closed(3000), { code: 4011 }, 'the paused node closed its named connection (4011)');
  t.same(stale.received.filter(message), [], 'the old holder got no message after the pause');
  web.send({ action: 'send', dest: 'calc', message: 'again', ack: 'q2' });
  t.match(await holder.next(message), { message: 'again' }, 'the name has one holder');
});

t.test('kill -9 of a node: a lib/client with every node\'s URL fails over, takes its name back once the lease ends, and answers again [SB-16-3]', { skip }, async (t) => {
  const redis = await startRedis(t);
  const cluster = prefix();
  const [one, two] = await Promise.all([spawnNode(t, await freePort(), redis.url, cluster), spawnNode(t, await freePort(), redis.url, cluster)]);
  const calc = client(t, [two.url, one.url], { name: 'calc', reconnect: { initialDelayMs: 50, maxDelayMs: 200, maxAttempts: 100 } });
  calc.handle((message) => ({ echo: message }));
  await within(calc.ready, 5000, 'calc ready');
  const web = await peer(t, one.url, 'web');
  web.send({ action: 'send', dest: 'calc', message: 1, ack: 'q0' });
  t.match(await web.next((f) => f.ack === 'q0'), { action: 'answer', message: { echo: 1 } });
  await two.kill();
  const killedAt = performance.now();
  let answered: number | undefined;
  for (let i = 1; performance.now() - killedAt < 8000; i++) {
    web.send({ action: 'send', dest: 'calc', message: i, ack: `q${i}`, timeout: 500 });
    const outcome = await web.next((f) => f.ack === `q${i}`, 2000);
    if (outcome.action === 'answer') {
      answered = performance.now() - killedAt;
      break;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  t.ok(answered !== undefined && answered <= 3000 + 1000, `calc answers again from node one ${answered?.toFixed(0)} ms after the kill (lease 3000 ms)`);
});
