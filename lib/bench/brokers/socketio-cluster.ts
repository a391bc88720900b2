/**
 * One node of a socket.io 4 relay cluster on Redis (`@socket.io/redis-adapter`), written the way its
 * users write cross-server request/answer: a connection joins a room named after it; a request goes to
 * the room of each destination with `io.to(dest).timeout(...).emitWithAck(...)`, which the adapter
 * carries to whichever server holds the socket and waits for every server's reply (it asks Redis how
 * many servers there are); the first answer is acknowledged to the requester. Argument: the Redis URL.
 */
import { createServer } from 'node:http';
import { createAdapter } from '@socket.io/redis-adapter';
import { createClient } from 'redis';
import { Server } from 'socket.io';
import { LOOPBACK, drive } from './driver.js';

const ANSWER_TIMEOUT_MS = 10_000;

type Ack = (result: { answers?: unknown[]; error?: string }) => void;

drive(async () => {
  const url = process.argv[2] ?? 'redis://127.0.0.1:6379';
  const pub = createClient({ url });
  const sub = pub.duplicate();
  pub.on('error', () => {});
  sub.on('error', () => {});
  await Promise.all([pub.connect(), sub.connect()]);
  const http = createServer();
  const io = new Server(http, { transports: ['websocket'], serveClient: false, maxHttpBufferSize: 2 << 20, adapter: createAdapter(pub, sub) });
  io.on('connection', (socket) => {
    let name: string | undefined;
    socket.on('register', (id: string, ack: (id: string) => void) => {
      name = id;
      void socket.join(id);
      ack(id);
    });
    socket.on('request', (dests: string[], message: unknown, gather: boolean, ack: Ack) => {
      const asked = dests.map((dest) => io.to(dest).timeout(ANSWER_TIMEOUT_MS).emitWithAck('request', name, message) as Promise<unknown[]>);
      Promise.all(asked).then(
        (replies) => {
          const answers = replies.flat();
          if (answers.length === 0) return ack({ error: 'no responders' });
          ack({ answers: gather ? answers : [answers[0]] });
        },
        () => ack({ error: 'no answer' }),
      );
    });
  });
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(0, LOOPBACK, resolve);
  });
  const address = http.address();
  return {
    port: typeof address === 'object' && address !== null ? address.port : 0,
    close: async () => {
      await new Promise<void>((resolve) => io.close(() => resolve()));
      await Promise.allSettled([pub.close(), sub.close()]);
    },
  };
});
