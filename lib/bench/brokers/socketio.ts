/**
 * socket.io 4 as a request/answer relay, the way its users write one: a requester calls
 * `emitWithAck('request', dests, message, gather)`; the relay asks each destination with
 * `timeout(...).emitWithAck('request', from, message)` and acknowledges the requester with the first
 * answer (or, gathering, with every answer). WebSocket transport only (no long-polling), its other
 * defaults kept (no per-message deflate, its own heartbeat). socket.io parses and re-encodes every packet.
 */
import { createServer } from 'node:http';
import { Server, type Socket } from 'socket.io';
import { LOOPBACK, drive } from './driver.js';

/** The relay's deadline for a destination's answer, as the load generator's own. */
const ANSWER_TIMEOUT_MS = 10_000;

type Ack = (result: { answers?: unknown[]; error?: string }) => void;

drive(async () => {
  const peers = new Map<string, Socket>();
  const http = createServer();
  const io = new Server(http, { transports: ['websocket'], serveClient: false, maxHttpBufferSize: 2 << 20 });
  io.on('connection', (socket) => {
    let name: string | undefined;
    socket.on('register', (id: string, ack: (id: string) => void) => {
      name = id;
      peers.set(id, socket);
      ack(id);
    });
    socket.on('request', (dests: string[], message: unknown, gather: boolean, ack: Ack) => {
      const asked: Promise<unknown>[] = [];
      for (const dest of dests) {
        const peer = peers.get(dest);
        if (peer !== undefined) asked.push(peer.timeout(ANSWER_TIMEOUT_MS).emitWithAck('request', name, message));
      }
      if (asked.length === 0) return ack({ error: 'no responders' });
      const outcome = gather ? Promise.all(asked) : Promise.any(asked).then((answer) => [answer]);
      outcome.then(
        (answers) => ack({ answers }),
        () => ack({ error: 'no answer' }),
      );
    });
    socket.on('disconnect', () => {
      if (name !== undefined && peers.get(name) === socket) peers.delete(name);
    });
  });
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(0, LOOPBACK, resolve);
  });
  const address = http.address();
  return {
    port: typeof address === 'object' && address !== null ? address.port : 0,
    close: () => new Promise<void>((resolve) => io.close(() => resolve())),
  };
});
