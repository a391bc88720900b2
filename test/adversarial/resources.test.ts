/**
 * Resource attacks against the broker's limits (robustness.md, "Resource limits"; protocol.md sections
 * 2, 8 and 9): an address that spends its connection quota and dies in every hostile way, peers that
 * never answer pings, readers that stop reading while they hold requests, and a ping flood from a peer
 * that never reads its pongs (ws itself cuts a connection with 60 pongs unsent, before the broker's
 * send-buffer cap could see them). Limits are lowered per test so that each is exceeded quickly.
 */
import t from 'tap';
import type { Broker } from '../../lib/broker/index.js';
import { drained, NOTHING_HELD, startBroker } from '../fixtures/broker.js';
import { Peer } from '../fixtures/peer.js';
import { closePayload, encodeFrame, OPCODE, RawPeer, upgrade } from '../fixtures/raw.js';
import { startVictim } from '../fixtures/victim.js';

/** Resolves with the close code of the next connection the broker lets go, or rejects at the deadline. */
function nextDisconnect(broker: Broker, timeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      broker.off('disconnect', onDisconnect);
      reject(new Error(`no connection was dropped within ${timeoutMs} ms`));
    }, timeoutMs);
    const onDisconnect = (_info: unknown, code: number) => {
      clearTimeout(timer);
      broker.off('disconnect', onDisconnect);
      resolve(code);
    };
    broker.on('disconnect', onDisconnect);
  });
}

t.test('an address that spends its connection quota gets 429; its connections free their places however they die [SB-9-2]', async (t) => {
  const { broker, url, port } = await startBroker(t, { limits: { maxConnectionsPerAddress: 10 } });
  const victim = await startVictim(url); // from 127.0.0.1
  const attacker = { protocol: 'switchboard.v1', localAddress: '127.0.0.2' };
  for (let round = 0; round < 2; round++) {
    const peers = await Promise.all(Array.from({ length: 10 }, () => RawPeer.open(port, attacker)));
    const refused = await upgrade(port, attacker);
    refused.socket.destroy();
    t.equal(refused.status, 429, `round ${round}: the eleventh from the attacker's address gets 429`);
    await victim.check(t, `while the attacker holds its quota (round ${round})`);
    const bystander = await Peer.connect(url);
    t.pass('another address still connects');
    await bystander.close();
    // die in every way: protocol error, binary frame, TCP reset, invalid close code, orderly close
    const deaths: Array<(p: RawPeer) => Promise<unknown>> = [
      (p) => p.frame({ opcode: OPCODE.text, payload: 'x', mask: false }),
      (p) => p.frame({ opcode: OPCODE.binary, payload: 'x' }).then(() => p.answerClose()),
      async (p) => p.destroy(),
      (p) => p.frame({ opcode: OPCODE.close, payload: closePayload(1005) }),
      (p) => p.frame({ opcode: OPCODE.close, payload: closePayload(1000) }),
    ];
    await Promise.all(peers.map((p, i) => deaths[i % deaths.length](p)));
    t.same(await drained(broker, 3000, { connections: 2, names: 2, pending: 0, deliveries: 0 }), { connections: 2, names: 2, pending: 0, deliveries: 0 }, 'every attacker connection is gone');
    for (const p of peers) p.destroy();
  }
  await victim.close();
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('a peer that never answers pings is dropped within two intervals; one that keeps sending frames stays [SB-2-7] [SB-6-9] [SB-4.2-4]', async (t) => {
  const heartbeatMs = 200;
  const { broker, url, port } = await startBroker(t, { limits: { heartbeatMs } });
  const released: string[] = [];
  broker.on('unregistered', (name) => released.push(name));
  const sender = await Peer.named(url, 'sender');
  const silent = await RawPeer.open(port); // a raw peer: it never answers a ping
  await silent.text('{"action":"register","id":"silent"}');
  await silent.json(0);
  const chatty = await RawPeer.open(port);
  await chatty.text('{"action":"register","id":"chatty"}');
  await chatty.json(0);
  const chatter = setInterval(() => void chatty.text('{"action":"register","id":"chatty"}'), heartbeatMs / 5);
  t.teardown(() => clearInterval(chatter));

  sender.send({ action: 'send', dest: 'silent', message: 'are you there?', ack: 'r1', timeout: 10_000 });
  const started = Date.now();
  t.match(await sender.next((f) => f.ack === 'r1', 5000), { action: 'error', code: 'responder_gone' }, 'the request it held ends for its sender');
  const elapsed = Date.now() - started;
  // two intervals, and generous slack for a busy machine: what matters is that it ends by the heartbeat,
  // long before the request's 10 s deadline (the default interval is 30 s)
  t.ok(elapsed <= 2 * heartbeatMs + 2000, `dropped ${elapsed} ms after the request (two intervals: ${2 * heartbeatMs} ms)`);
  t.same(released, ['silent'], 'its name was released exactly once');
  const successor = await Peer.named(url, 'silent');
  t.pass('the name can be taken again');

  await new Promise((resolve) => setTimeout(resolve, 4 * heartbeatMs));
  clearInterval(chatter);
  t.notOk(chatty.socket.destroyed, 'a peer that never pongs but keeps sending frames stays');
  t.notOk(released.includes('chatty'));
  silent.destroy();
  chatty.destroy();
  await sender.close();
  await successor.close();
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('a responder that stops reading is dropped as a slow consumer and its requests end for their senders [SB-8-1] [SB-6-9]', async (t) => {
  const { broker, url, port } = await startBroker(t, { limits: { maxBufferedBytes: 1024 * 1024 } });
  const sender = await Peer.named(url, 'sender');
  const healthy = await Peer.named(url, 'healthy');
  let healthyGot = 0;
  healthy.ws.on('message', () => healthyGot++);
  const slow = await RawPeer.open(port);
  await slow.text('{"action":"register","id":"slowpoke"}');
  await slow.json(0);
  for (let i = 0; i < 3; i++) sender.send({ action: 'send', dest: 'slowpoke', message: i, ack: `r${i}`, timeout: 30_000 });
  await slow.json(3); // it received the three requests, then stops reading
  slow.socket.pause();
  const dropped = nextDisconnect(broker, 10_000);
  const chunk = 'x'.repeat(16 * 1024);
  const total = 1000; // 16 MiB to each: more than loopback's socket buffers hold, so the broker's own buffer grows
  for (let i = 0; i < total; i++) sender.send({ action: 'send', dest: ['slowpoke', 'healthy'], message: chunk });
  const code = await dropped.catch((error: Error) => error.message);
  t.ok(code === 4008 || code === 1006, `the slow reader was dropped (close ${code})`);
  const outcomes = await Promise.all([0, 1, 2].map((i) => sender.next((f) => f.ack === `r${i}`, 3000).catch(() => undefined)));
  t.same(outcomes.map((o) => o?.code), ['responder_gone', 'responder_gone', 'responder_gone'], 'its requests ended as if it had disconnected');
  const deadline = Date.now() + 10_000;
  while (healthyGot < total + 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
  t.equal(healthyGot, total, 'the healthy reader got every message');
  t.equal(healthy.ws.readyState, healthy.ws.OPEN, 'the healthy reader is still connected');
  t.equal(sender.ws.readyState, sender.ws.OPEN, 'the sender was never blocked or closed');
  slow.destroy();
  await sender.close();
  await healthy.close();
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('a healthy reader is not dropped for a burst the broker holds back itself: 20 senders, 20 MiB, default cap [SB-8-1]', async (t) => {
  // The cap is for readers that do not read. This reader reads at full speed; the burst is large only
  // because many senders write to it in the same moment.
  const { broker, url } = await startBroker(t);
  const codes: number[] = [];
  broker.on('disconnect', (_info, code) => codes.push(code));
  const reader = await Peer.named(url, 'reader');
  let got = 0;
  reader.ws.on('message', () => got++);
  const senders = await Promise.all(Array.from({ length: 20 }, (_, i) => Peer.named(url, `burst-${i}`)));
  const frame = JSON.stringify({ action: 'send', dest: 'reader', message: 'x'.repeat(64 * 1024) });
  for (let k = 0; k < 16; k++) for (const s of senders) s.ws.send(frame);
  const deadline = Date.now() + 10_000;
  while (got < 320 && reader.ws.readyState === reader.ws.OPEN && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
  t.equal(got, 320, 'the reader got all 320 messages');
  t.same(codes, [], 'nobody was dropped');
  await Promise.all([reader, ...senders].map((p) => (p.ws.readyState === p.ws.OPEN ? p.close() : undefined)));
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('a ping flood from a peer that never reads its pongs is cut (ws allows 60 unsent pongs), the victim unaffected', async (t) => {
  const { broker, url, port } = await startBroker(t);
  const victim = await startVictim(url);
  const flooder = await RawPeer.open(port);
  flooder.socket.pause(); // never read: every pong stays in the broker's buffers
  const dropped = nextDisconnect(broker, 10_000);
  const ping = encodeFrame({ opcode: OPCODE.ping, payload: Buffer.alloc(125, 0x61) });
  const batch = Buffer.concat(Array.from({ length: 1000 }, () => ping));
  let written = 0;
  let settled = false;
  void dropped.finally(() => (settled = true)).catch(() => {});
  // 32 MiB of pings at most: far more pong data than loopback's socket buffers hold
  while (!settled && written < 32 * 1024 * 1024 && !flooder.socket.destroyed) {
    await flooder.write(batch);
    written += batch.length;
  }
  const code = await dropped.catch((error: Error) => error.message);
  t.equal(code, 1006, `the ping flooder was cut after ${(written / 1024 / 1024).toFixed(1)} MiB of pings`);
  await victim.check(t, 'during and after the ping flood');
  flooder.destroy();
  await victim.close();
  t.same(await drained(broker), NOTHING_HELD);
});
