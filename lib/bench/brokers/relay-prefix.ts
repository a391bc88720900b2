/**
 * The floor, first kind: a WebSocket relay that routes on a text prefix and never parses the body.
 *
 * Wire (text frames): `@name` registers (answered with `@name`); `dest[,dest]\n<body>` is delivered to
 * each destination as `from\n<body>`. Nothing else: no correlation, no deadlines, no checks beyond the
 * lookup. The load generator carries its own correlation id at the start of the body.
 */
import { WebSocketServer, type WebSocket } from 'ws';
import { LOOPBACK, drive, listening } from './driver.js';

const NEWLINE = 10;

drive(async () => {
  const peers = new Map<string, WebSocket>();
  const wss = new WebSocketServer({ host: LOOPBACK, port: 0, perMessageDeflate: false, clientTracking: false, maxPayload: 2 << 20 });
  wss.on('connection', (ws) => {
    let name: string | undefined;
    let prefix = Buffer.alloc(0);
    ws.on('error', () => ws.terminate());
    ws.on('message', (data: Buffer, isBinary) => {
      if (isBinary) return;
      if (data[0] === 64 /* @ */) {
        name = data.toString('latin1', 1);
        prefix = Buffer.from(name, 'latin1');
        peers.set(name, ws);
        ws.send(data, { binary: false });
        return;
      }
      const newline = data.indexOf(NEWLINE);
      if (newline === -1 || name === undefined) return;
      const out = Buffer.concat([prefix, data.subarray(newline)]);
      const dests = data.toString('latin1', 0, newline);
      if (dests.indexOf(',') === -1) {
        peers.get(dests)?.send(out, { binary: false });
        return;
      }
      for (const dest of dests.split(',')) peers.get(dest)?.send(out, { binary: false });
    });
    ws.on('close', () => {
      if (name !== undefined && peers.get(name) === ws) peers.delete(name);
    });
  });
  return listening(wss);
});
