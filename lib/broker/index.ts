/**
 * The broker's public API.
 */
export { Broker, type BrokerEvents, type BrokerStats, type ConnectionInfo, type ListenAddress } from './broker.js';
export { DEFAULT_PORT, type BrokerOptions, type Logger } from './options.js';
export type { NameRegistry } from './names.js';
