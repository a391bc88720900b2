/**
 * The floor, strictest kind: a WebSocket relay that never parses a frame and never copies one. A frame
 * starts with a routing field of fixed width, `{"peer":"<destinations, padded with spaces>",...`; the
 * relay reads the destinations, writes the sender's own name over them in place, and forwards the very
 * buffer it received (every destination gets the same one). The frames stay JSON, so the load generator
 * decodes and encodes them as it does every system's. Registration is the text `@name`, echoed.
 *
 * Nothing else: no correlation, no deadlines, no checks beyond the lookup; the load generator carries
 * its own correlation id (`ack`) and counts the answers of a gather itself.
 */
import { WebSocketServer, type WebSocket } from 'ws';
import { LOOPBACK, drive, listening } from './driver.js';

/** `{"peer":"`: the routing field's value starts right after it. */
export const ROUTE_OFFSET = 9;
/** Bytes of the routing field's value: destinations (comma-separated) or the sender's name, space-padded. */
export const ROUTE_WIDTH = 32;
const AT = 0x40;
const QUOTE = 0x22;
const COMMA = 0x2c;

drive(async () => {
  const peers = new Map<string, WebSocket>();
  const wss = new WebSocketServer({ host: LOOPBACK, port: 0, perMessageDeflate: false, clientTracking: false, maxPayload: 2 << 20 });
  wss.on('connection', (ws) => {
    let name: string | undefined;
    let route = Buffer.alloc(0);
    ws.on('error', () => ws.terminate());
    ws.on('message', (data: Buffer, isBinary) => {
      if (isBinary) return;
      if (data[0] === AT) {
        name = data.toString('latin1', 1);
        route = Buffer.from(name.padEnd(ROUTE_WIDTH, ' '), 'latin1');
        peers.set(name, ws);
        ws.send(data, { binary: false });
        return;
      }
      const end = ROUTE_OFFSET + ROUTE_WIDTH;
      if (name === undefined || data.length <= end || data[end] !== QUOTE) return;
      let last = end;
      while (last > ROUTE_OFFSET && data[last - 1] === 0x20) last--;
      const comma = data.indexOf(COMMA, ROUTE_OFFSET);
      if (comma === -1 || comma >= last) {
        const peer = peers.get(data.toString('latin1', ROUTE_OFFSET, last));
        route.copy(data, ROUTE_OFFSET);
        peer?.send(data, { binary: false });
        return;
      }
      const dests = data.toString('latin1', ROUTE_OFFSET, last).split(',');
      route.copy(data, ROUTE_OFFSET);
      for (const dest of dests) peers.get(dest)?.send(data, { binary: false });
    });
    ws.on('close', () => {
      if (name !== undefined && peers.get(name) === ws) peers.delete(name);
    });
  });
  return listening(wss);
});
