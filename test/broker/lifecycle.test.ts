/**
 * The broker's lifecycle and transport policies: origins, connection limits, heartbeat, slow consumers,
 * TLS, graceful shutdown (protocol.md sections 2, 8, 9).
 */
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { Broker } from '../../lib/broker/index.js';
import { drained, NOTHING_HELD, startBroker } from '../fixtures/broker.js';
import { Peer } from '../fixtures/peer.js';

function upgradeStatus(url: string, headers: Record<string, string> = {}, localAddress?: string): Promise<number> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, { headers, localAddress });
    ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
    ws.on('open', () => {
      ws.close();
      resolve(101);
    });
    ws.on('error', () => {});
  });
}

t.test('an origin not on the allowed list gets HTTP 403 before the upgrade; programs without Origin pass [SB-2-5]', async (t) => {
  const { broker, url } = await startBroker(t, { allowedOrigins: ['https://app.example'] });
  t.equal(await upgradeStatus(url, { Origin: 'https://evil.example' }), 403);
  t.equal(await upgradeStatus(url, { Origin: 'https://app.example' }), 101);
  t.equal(await upgradeStatus(url), 101);
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('connections beyond the limits get 503 (overall) and 429 (per address) before the upgrade [SB-9-2]', async (t) => {
  const { broker, url } = await startBroker(t, { limits: { maxConnections: 3, maxConnectionsPerAddress: 2 } });
  const a = await Peer.connect(url);
  const b = await Peer.connect(url);
  t.equal(await upgradeStatus(url), 429, 'a third from 127.0.0.1');
  const c = new WebSocket(url, { localAddress: '127.0.0.2' });
  await new Promise((resolve) => c.once('open', resolve));
  t.equal(await upgradeStatus(url, {}, '127.0.0.3'), 503, 'a fourth overall');
  await a.close();
  const again = await Peer.connect(url);
  t.equal(again.ws.readyState, WebSocket.OPEN, 'a freed place can be taken again');
  c.close();
  for (const p of [b, again]) await p.close();
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('a peer that stops answering pings is dropped within two intervals; its names and requests end [SB-2-7]', async (t) => {
  const { broker, url } = await startBroker(t, { limits: { heartbeatMs: 100 } });
  const sender = await Peer.named(url, 'sender');
  const mute = new WebSocket(url, ['switchboard.v1'], { autoPong: false });
  mute.on('error', () => {});
  await new Promise((resolve) => mute.once('open', resolve));
  mute.send(JSON.stringify({ action: 'register', id: 'mute' }));
  await new Promise((resolve) => mute.once('message', resolve));
  sender.send({ action: 'send', dest: 'mute', message: 1, ack: 'r1' });
  const started = Date.now();
  t.match(await sender.next((f) => f.action === 'error', 1000), { code: 'responder_gone', ack: 'r1' });
  t.ok(Date.now() - started <= 2 * 100 + 100, `dropped after ${Date.now() - started} ms`);
  const alive = await Peer.named(url, 'alive');
  await new Promise((resolve) => setTimeout(resolve, 350));
  t.equal(alive.ws.readyState, WebSocket.OPEN, 'a peer that answers pings stays');
  await sender.close();
  await alive.close();
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('a reader that stops reading is closed as a slow consumer; senders and other readers go on [SB-8-1]', async (t) => {
  const { broker, url } = await startBroker(t, { limits: { maxBufferedBytes: 1024 * 1024 } });
  const codes: number[] = [];
  broker.on('disconnect', (_info, code) => codes.push(code));
  const sender = await Peer.named(url, 'sender');
  const healthy = await Peer.named(url, 'healthy');
  const slow = await Peer.named(url, 'slow');
  (slow.ws as unknown as { _socket: { pause(): void } })._socket.pause();
  const chunk = 'x'.repeat(16 * 1024);
  let received = 0;
  healthy.ws.on('message', () => received++);
  const total = 400; // 6.4 MiB to each: far over the slow reader's cap, a burst for the healthy one
  for (let i = 0; i < total; i++) sender.send({ action: 'send', dest: ['slow', 'healthy'], message: chunk });
  const deadline = Date.now() + 5000;
  while ((received < total || codes.length === 0) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  t.equal(received, total, 'the healthy reader got every message of the burst');
  t.ok(codes.includes(4008) || codes.includes(1006), `the slow reader was dropped (${codes})`);
  t.equal(healthy.ws.readyState, WebSocket.OPEN, 'a healthy reader does not trip the cap');
  t.equal(sender.ws.readyState, WebSocket.OPEN);
  slow.ws.terminate();
  await sender.close();
  await healthy.close();
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('wss:// with a certificate and key', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sb-tls-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost',
    '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
  const tls = { cert: readFileSync(join(dir, 'cert.pem')), key: readFileSync(join(dir, 'key.pem')) };
  const { broker, url } = await startBroker(t, { tls });
  t.match(url, /^wss:\/\//);
  const ws = new WebSocket(url, ['switchboard.v1'], { ca: tls.cert, rejectUnauthorized: false });
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  ws.send(JSON.stringify({ action: 'register', id: 'secure' }));
  const frame = await new Promise<string>((resolve) => ws.once('message', (d) => resolve(d.toString())));
  t.same(JSON.parse(frame), { action: 'registered', id: 'secure' });
  ws.close();
  t.same(await drained(broker), NOTHING_HELD);
});

t.test('shutdown: 503 to new connections, shutting_down to new requests, pending ones answered or ended, then 1001 [SB-2-6]', async (t) => {
  const broker = new Broker({ host: '127.0.0.1', port: 0, shutdownGraceMs: 300 });
  const { url } = await broker.listen();
  const sender = await Peer.named(url, 'sender');
  const slowpoke = await Peer.named(url, 'slowpoke');
  const silent = await Peer.named(url, 'silent');
  sender.send({ action: 'send', dest: 'slowpoke', message: 1, ack: 'answered' });
  sender.send({ action: 'send', dest: 'silent', message: 1, ack: 'ended' });
  const m = await slowpoke.next((f) => f.action === 'message');
  await silent.next((f) => f.action === 'message');
  const closing = broker.close();
  t.equal(await upgradeStatus(url), 503);
  sender.send({ action: 'send', dest: 'slowpoke', message: 2, ack: 'late' });
  t.match(await sender.next((f) => f.ack === 'late'), { action: 'error', code: 'shutting_down' });
  slowpoke.send({ action: 'answer', ack: m.ack as string, message: 'just in time' });
  t.match(await sender.next((f) => f.ack === 'answered'), { action: 'answer', message: 'just in time' });
  t.match(await sender.next((f) => f.ack === 'ended'), { action: 'error', code: 'shutting_down' });
  for (const p of [sender, slowpoke, silent]) t.equal((await p.closed()).code, 1001);
  await closing;
  t.same(await drained(broker), NOTHING_HELD);
});
