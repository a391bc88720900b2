/**
 * socket.io 4 driven by its own client (socket.io-client, WebSocket transport only, no reconnection):
 * a requester's `timeout(...).emitWithAck('request', dests, message, gather)` resolves with the first
 * answer (or every answer); a responder acknowledges each request with its message.
 */
import { io, type Socket } from 'socket.io-client';
import { CONNECT_TIMEOUT_MS, REQUEST_TIMEOUT_MS, within, type Adapter, type Closeable, type Target } from './adapter.js';

export function socketioClient(target: Target): Adapter {
  const url = `ws://${target.host}:${target.port}`;
  const connect = (name: string, localAddress?: string) =>
    within(
      new Promise<Socket>((resolve, reject) => {
        const socket = io(url, { transports: ['websocket'], reconnection: false, forceNew: true, ...(localAddress === undefined ? {} : { localAddress }) });
        socket.once('connect_error', reject);
        socket.once('connect', () => {
          socket.emitWithAck('register', name).then(() => resolve(socket), reject);
        });
      }),
      CONNECT_TIMEOUT_MS,
      `connect ${name}`,
    );
  const closer = (socket: Socket): Closeable => ({
    close: async () => {
      socket.disconnect();
    },
  });
  return {
    driver: 'socket.io-client',
    async requester(name) {
      const socket = await connect(name);
      return {
        async request(dests, message, gather) {
          const outcome = (await socket.timeout(REQUEST_TIMEOUT_MS).emitWithAck('request', dests, message, gather)) as { answers?: unknown[]; error?: string };
          if (outcome.answers === undefined) throw new Error(outcome.error ?? 'no answer');
          return gather ? outcome.answers : outcome.answers[0];
        },
        close: closer(socket).close,
      };
    },
    async responder(name) {
      const socket = await connect(name);
      socket.on('request', (_from: string, message: unknown, ack: (answer: unknown) => void) => ack(message));
      return closer(socket);
    },
    async idle(name, localAddress) {
      return closer(await connect(name, localAddress));
    },
  };
}
