/**
 * wsmsgbroker 1.7.2's server, unchanged except that it listens on loopback only: its constructor binds
 * every interface, so this builds the same object (its prototype, its maps, its ws 1.x server with ws
 * 1.x defaults, permessage-deflate included) with a host.
 */
import { EventEmitter } from 'node:events';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { LOOPBACK, drive } from './driver.js';

const require = createRequire(import.meta.url);

drive(async () => {
  const wsmsgbroker = require('wsmsgbroker');
  // wsmsgbroker's own ws (1.x), not ours.
  const WebSocket = require(require.resolve('ws', { paths: [dirname(require.resolve('wsmsgbroker'))] }));
  const server = Object.create(wsmsgbroker.Server.prototype);
  EventEmitter.call(server);
  Object.assign(server, { ttl: 1000 * 60 * 60, id2ws: {}, ws2id: {}, ack2ws: {}, ws2ack: {}, ack2timeout: {} });
  server.on('error', () => {}); // it emits 'error' and 'warn' for unknown destinations; without a listener it would throw
  server.on('warn', () => {});
  await new Promise<void>((resolve, reject) => {
    server.wss = new WebSocket.Server({ host: LOOPBACK, port: 0, path: '/' }, resolve);
    server.wss.once('error', reject);
  });
  server.wss.on('connection', (ws: { on(event: string, listener: () => void): void }) => {
    ws.on('error', () => {});
    server._connectionHandler(ws);
    server.emit('connection');
  });
  return {
    port: server.wss._server.address().port as number,
    close: async () => server.close(),
  };
});
