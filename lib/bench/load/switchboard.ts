/**
 * switchboard driven as a user would drive it: lib/client's `Client`, `request()` with a timeout, and
 * `handle()` whose return value is the answer.
 */
import WebSocket from 'ws';
import { Client, type WebSocketConstructor } from '../../client/node.js';
import { CONNECT_TIMEOUT_MS, REQUEST_TIMEOUT_MS, within, type Adapter, type Closeable, type Target } from './adapter.js';

export function switchboardClient(target: Target): Adapter {
  const url = `ws://${target.host}:${target.port}/`;
  const connect = async (name: string, localAddress?: string): Promise<Client> => {
    const client = new Client(url, {
      name,
      reconnect: false,
      connectTimeoutMs: CONNECT_TIMEOUT_MS,
      requestTimeoutMs: REQUEST_TIMEOUT_MS,
      ...(localAddress === undefined ? {} : { WebSocket: boundTo(localAddress) }),
    });
    client.on('error', () => {});
    try {
      await within(client.ready, CONNECT_TIMEOUT_MS + 1000, `connect ${name}`);
    } catch (error) {
      void client.close();
      throw error;
    }
    return client;
  };
  const closer = (client: Client): Closeable => ({ close: () => within(client.close(), 2000, 'close').catch(() => {}) });
  return {
    driver: 'lib/client',
    async requester(name) {
      const client = await connect(name);
      return {
        request: async (dests, message, gather) => {
          const dest = dests.length === 1 ? dests[0] : [...dests];
          if (gather) return client.gather(dest, message, { timeout: REQUEST_TIMEOUT_MS });
          return (await client.request(dest, message, { timeout: REQUEST_TIMEOUT_MS })).message;
        },
        close: closer(client).close,
      };
    },
    async responder(name) {
      const client = await connect(name);
      client.handle((message) => message);
      return closer(client);
    },
    async idle(name, localAddress) {
      return closer(await connect(name, localAddress));
    },
  };
}

/** The `ws` WebSocket, its connections made from `localAddress` (the client takes the constructor as an option). */
function boundTo(localAddress: string): WebSocketConstructor {
  class Bound extends WebSocket {
    constructor(url: string, protocols?: string | string[]) {
      super(url, protocols, { localAddress });
    }
  }
  return Bound as unknown as WebSocketConstructor;
}
