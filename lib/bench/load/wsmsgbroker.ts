/**
 * wsmsgbroker 1.7.2 driven by its own client, with its defaults (ws 1.x, which offers permessage-deflate).
 * Its client has no request timeout and never forgets a callback; the harness bounds the run by time.
 */
import { createRequire } from 'node:module';
import { CONNECT_TIMEOUT_MS, within, type Adapter, type Closeable, type Target } from './adapter.js';

const require = createRequire(import.meta.url);

interface WSMsgBrokerClient {
  on(event: string, listener: (...args: never[]) => void): void;
  once(event: string, listener: (...args: never[]) => void): void;
  send(message: unknown, dest: string | string[], callback?: (from: string, answer: unknown) => void): void;
  close(): void;
  conn: { readyState: number };
}

type ClientConstructor = new (id: string, host: string, port: number, path: string) => WSMsgBrokerClient;

export function wsmsgbrokerClient(target: Target): Adapter {
  const WSMsgBroker = require('wsmsgbroker') as ClientConstructor;
  const connect = (name: string) =>
    within(
      new Promise<WSMsgBrokerClient>((resolve, reject) => {
        const client = new WSMsgBroker(name, target.host, target.port, '/');
        client.on('error', () => {}); // its client emits 'error' for frames it cannot place (e.g. a losing answer)
        client.once('registered', () => resolve(client));
        client.once('close', () => reject(new Error(`${name}: closed before registered`)));
      }),
      CONNECT_TIMEOUT_MS,
      `connect ${name}`,
    );
  const closer = (client: WSMsgBrokerClient): Closeable => ({
    close: () =>
      within(
        new Promise<void>((resolve) => {
          if (client.conn.readyState === 3) return resolve();
          client.once('close', () => resolve());
          client.close();
        }),
        2000,
        'close',
      ).catch(() => {}),
  });
  return {
    driver: 'wsmsgbroker client',
    async requester(name) {
      const client = await connect(name);
      return {
        request: (dests, message, gather) =>
          gather
            ? Promise.reject(new Error('wsmsgbroker has no gather'))
            : new Promise<unknown>((resolve) => client.send(message, dests.length === 1 ? dests[0] : [...dests], (_from, answer) => resolve(answer))),
        close: closer(client).close,
      };
    },
    async responder(name) {
      const client = await connect(name);
      client.on('message', (message: unknown, response?: { send(answer: unknown): void }) => response?.send(message));
      return closer(client);
    },
    async idle(name) {
      return closer(await connect(name));
    },
  };
}
