/**
 * The floor, second kind: a WebSocket relay that parses every frame with JSON.parse and writes every
 * frame with JSON.stringify, in switchboard's frame shapes, and does nothing else: no validation, no
 * correlation table, no deadlines. Answers carry their destination (`dest`), so the relay keeps no state
 * beyond the name table.
 */
import { WebSocketServer, type WebSocket } from 'ws';
import { LOOPBACK, drive, listening } from './driver.js';

interface Frame {
  action?: string;
  id?: string;
  dest?: string | string[];
  message?: unknown;
  ack?: string;
}

drive(async () => {
  const peers = new Map<string, WebSocket>();
  const wss = new WebSocketServer({ host: LOOPBACK, port: 0, perMessageDeflate: false, clientTracking: false, maxPayload: 2 << 20 });
  wss.on('connection', (ws) => {
    let name: string | undefined;
    ws.on('error', () => ws.terminate());
    ws.on('message', (data: Buffer, isBinary) => {
      if (isBinary) return;
      let frame: Frame;
      try {
        frame = JSON.parse(data.toString()) as Frame;
      } catch {
        return;
      }
      switch (frame.action) {
        case 'register':
          if (typeof frame.id !== 'string') return;
          name = frame.id;
          peers.set(name, ws);
          ws.send(JSON.stringify({ action: 'registered', id: name }));
          return;
        case 'send': {
          const out = JSON.stringify({ action: 'message', message: frame.message, from: name, ack: frame.ack });
          if (typeof frame.dest === 'string') peers.get(frame.dest)?.send(out);
          else if (Array.isArray(frame.dest)) for (const dest of frame.dest) peers.get(dest)?.send(out);
          return;
        }
        case 'answer':
          if (typeof frame.dest !== 'string') return;
          peers.get(frame.dest)?.send(JSON.stringify({ action: 'answer', ack: frame.ack, from: name, message: frame.message }));
          return;
        default:
          return;
      }
    });
    ws.on('close', () => {
      if (name !== undefined && peers.get(name) === ws) peers.delete(name);
    });
  });
  return listening(wss);
});
