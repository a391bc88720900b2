/**
 * Faults of a cluster (issue 14, protocol.md section 16): broker nodes as `switchboard serve --cluster`
 * processes on a real redis-server, killed with SIGKILL, paused with SIGSTOP; Redis killed and
 * restarted; nodes started before Redis. Each fault has one clear outcome, and the figures each test
 * measured are printed as comments.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { sha256 } from '../../lib/broker/index.js';
import { built, freePort, spawnBroker } from '../fixtures/broker-process.js';
import { spawnNode } from '../fixtures/cluster.js';
import { client, within } from '../fixtures/clients.js';
import { Peer, type Frame } from '../fixtures/peer.js';
import { startRedis } from '../fixtures/redis.js';
import { createClient } from 'redis';

const skip = built();

let prefixes = 0;
const prefix = () => `faults${process.pid}-${++prefixes}:`;
const message = (f: Frame) => f.action === 'message';

async function peer(t: Test, url: string, name?: string): Promise<Peer> {
  const made = name === undefined ? await Peer.connect(url, { timeoutMs: 5000 }) : await Peer.named(url, name, { timeoutMs: 5000 });
  t.teardown(() => made.ws.terminate());
  return made;
}

/** Register `name` on `url`, again every 100 ms while refused; resolves with the peer and when it got it. */
async function registerWhenFree(t: Test, url: string, name: string, withinMs: number): Promise<{ peer: Peer; at: number }> {
  const deadline = performance.now() + withinMs;
  const p = await peer(t, url);
  for (let attempt = 0; ; attempt++) {
    p.send({ action: 'register', id: name, ref: `r${attempt}` });
    const reply = await p.next((f) => f.ref === `r${attempt}`, 2000);
    if (reply.action === 'registered') return { peer: p, at: performance.now() };
    if (performance.now() > deadline) throw new Error(`"${name}" not free within ${withinMs} ms: ${JSON.stringify(reply)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

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
  t.ok(freeMs <= 3000 + 300, `"calc" free ${freeMs.toFixed(0)} ms after the kill (lease 3000 ms)`);
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

t.test('Redis killed and restarted: no request outlives its deadline, traffic is back within 2 s of Redis [SB-16-2]', { skip }, async (t) => {
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
  const ask = async (timeout: number) => {
    const ack = `q${++n}`;
    const sentAt = performance.now();
    web.send({ action: 'send', dest: 'calc', message: n, ack, timeout });
    const outcome = await web.next((f) => f.ack === ack, timeout + 1000);
    return { outcome, ms: performance.now() - sentAt };
  };
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
  const ask = async (timeout: number) => {
    const ack = `q${++n}`;
    web.send({ action: 'send', dest: 'calc', message: n, ack, timeout });
    return web.next((f) => f.ack === ack, timeout + 1000);
  };
  t.match(await ask(1000), { action: 'answer' }, 'traffic flows before the fault');
  const admin = createClient({ url: redis.url });
  await admin.connect();
  t.teardown(() => admin.close());
  const killed = Number(await admin.sendCommand(['CLIENT', 'KILL', 'TYPE', 'pubsub'])) + Number(await admin.sendCommand(['CLIENT', 'KILL', 'TYPE', 'normal', 'SKIPME', 'yes']));
  t.ok(killed >= 4, `${killed} connections of the nodes killed`);
  const killedAt = performance.now();
  let answered: number | undefined;
  while (performance.now() - killedAt < 5000) {
    const outcome = await ask(300);
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
