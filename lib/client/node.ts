/**
 * The client for Node: the core with the `ws` package as its WebSocket (Node 20 has no global
 * WebSocket). `Client` and `WSMsgBroker` here are the core classes with that default; everything else
 * is re-exported unchanged.
 */
import WebSocket from 'ws';
import { Client as CoreClient, WSMsgBroker as CoreWSMsgBroker } from './index.js';
import type { ClientOptions, WSMsgBrokerOptions, WebSocketConstructor } from './index.js';

export * from './index.js';

/**
 * ws writes every frame with its own system call. The frames a client sends in one turn of the event
 * loop (a burst of requests, the answers to a batch of received requests) go out together instead:
 * the socket is corked at the first send of a turn and uncorked when the turn ends.
 */
class BatchingWebSocket extends WebSocket {
  #corked = false;

  override send(data: unknown, ...rest: unknown[]): void {
    const socket = (this as unknown as { _socket?: { cork(): void; uncork(): void } })._socket;
    if (socket !== undefined && !this.#corked) {
      this.#corked = true;
      socket.cork();
      setImmediate(() => {
        this.#corked = false;
        socket.uncork();
      });
    }
    (super.send as (...args: unknown[]) => void)(data, ...rest);
  }
}

const NodeWebSocket = BatchingWebSocket as unknown as WebSocketConstructor;

export class Client extends CoreClient {
  constructor(url: string | readonly string[], options: ClientOptions = {}) {
    super(url, { WebSocket: NodeWebSocket, ...options });
  }
}

export class WSMsgBroker extends CoreWSMsgBroker {
  constructor(id: string, host: string, port: number | string, path?: string, options: WSMsgBrokerOptions = {}) {
    super(id, host, port, path, { WebSocket: NodeWebSocket, ...options });
  }
}
