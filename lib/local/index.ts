/**
 * Local mode (README.md in this directory): the processes of one app on one machine talk by name with
 * no broker to start. The public way in is `connectLocal` of the Node entry point (lib/client/node.ts,
 * also exported by lib/index.ts); this module is what it loads on first use.
 */
export { connectLocal, LocalClient, LOCAL_RECONNECT, MAX_SLOTS, type LocalOptions } from './client.js';
export { LOCAL_BROKER_DEFAULTS, type HostBrokerOptions } from './host.js';
export { MAX_HELD_FRAMES, type InnerWebSocketConstructor } from './socket.js';
export type { LockKind } from './locks.js';
