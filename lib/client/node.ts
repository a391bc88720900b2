/**
 * The client for Node: the core with the `ws` package as its WebSocket (Node 20 has no global
 * WebSocket). `Client` and `WSMsgBroker` here are the core classes with that default; everything else
 * is re-exported unchanged.
 */
import WebSocket from 'ws';
import { Client as CoreClient, WSMsgBroker as CoreWSMsgBroker } from './index.js';
import type { ClientOptions, WSMsgBrokerOptions, WebSocketConstructor } from './index.js';
import type { InnerWebSocketConstructor, LocalClient, LocalOptions } from '../local/index.js';

export * from './index.js';

/**
 * ws writes every frame with its own system call. The frames a client sends while it handles one event
 * (the requests a burst of calls makes, the answers to the requests of one received chunk) go out
 * together instead: the socket is corked at the first send and uncorked on process.nextTick, when the
 * code that handles the event (or the run of promise callbacks it started) returns. Measured against uncorking on
 * setImmediate, at the end of the whole turn of the event loop: the same requests/s with 32 in flight,
 * and a lone request no longer waits for every other socket's events of the turn.
 */
class BatchingWebSocket extends WebSocket {
  #corked = false;

  override send(data: unknown, ...rest: unknown[]): void {
    const socket = (this as unknown as { _socket?: { cork(): void; uncork(): void } })._socket;
    if (socket !== undefined && !this.#corked) {
      this.#corked = true;
      socket.cork();
      process.nextTick(() => {
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

export type { LocalClient, LocalOptions, LockKind } from '../local/index.js';

/**
 * Local mode (lib/local/README.md): a ready client of `app`, whose processes on this machine talk by
 * name with no broker to start; the first one hosts it, and another takes over when the host dies. The
 * broker's code is loaded on first use, so a program that never calls this does not load it.
 */
export async function connectLocal(app: string, options: LocalOptions = {}): Promise<LocalClient> {
  const local = await import('../local/index.js');
  return local.connectLocal(app, options, BatchingWebSocket as unknown as InnerWebSocketConstructor);
}
