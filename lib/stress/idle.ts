/**
 * Idle registered connections for the stress run: this process opens `count` connections to the
 * broker, spread over the given loopback source addresses (the broker limits connections per remote
 * address), registers a name on each, reports, and then holds them without a word until told to stop.
 */
import WebSocket from 'ws';
import { reply, serveParent } from './child.js';

const [url, index, countText, addressList] = process.argv.slice(2);
const count = Number(countText);
const addresses = addressList.split(',');
const IN_FLIGHT = 64;

const sockets: WebSocket[] = [];
let failed = 0;
let firstError: string | undefined;

function open(i: number): Promise<void> {
  return new Promise((resolve) => {
    const name = `idle-${index}-${i}`;
    const ws = new WebSocket(url, ['switchboard.v1'], { perMessageDeflate: false, localAddress: addresses[i % addresses.length] });
    let settled = false;
    const fail = (why: string) => {
      if (settled) return;
      settled = true;
      failed++;
      firstError ??= why;
      ws.terminate();
      resolve();
    };
    const timer = setTimeout(() => fail('no registered within 20 s'), 20_000);
    ws.on('error', (error) => fail(error.message));
    ws.once('unexpected-response', (_req, res) => fail(`HTTP ${res.statusCode}`));
    ws.once('open', () => ws.send(JSON.stringify({ action: 'register', id: name })));
    ws.once('message', (data) => {
      clearTimeout(timer);
      if ((JSON.parse(data.toString()) as { action: string }).action !== 'registered') return fail(data.toString());
      settled = true;
      sockets.push(ws);
      resolve();
    });
  });
}

serveParent(async (message) => {
  if (message.type === 'open') {
    let next = 0;
    await Promise.all(
      Array.from({ length: IN_FLIGHT }, async () => {
        while (next < count) await open(next++);
      }),
    );
    reply({ type: 'opened', opened: sockets.length, failed, firstError });
  } else if (message.type === 'stop') {
    for (const ws of sockets) ws.terminate();
    setTimeout(() => process.exit(0), 100);
  }
});
reply({ type: 'ready' });
