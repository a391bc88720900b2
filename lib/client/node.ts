/**
 * The client for Node: the core with the `ws` package as its WebSocket (Node 20 has no global
 * WebSocket). `Client` and `WSMsgBroker` here are the core classes with that default; everything else
 * is re-exported unchanged.
 */
import WebSocket from 'ws';
import { Client as CoreClient, WSMsgBroker as CoreWSMsgBroker } from './index.js';
import type { ClientOptions, WSMsgBrokerOptions, WebSocketConstructor } from './index.js';

export * from './index.js';

const NodeWebSocket = WebSocket as unknown as WebSocketConstructor;

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
