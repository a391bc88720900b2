/**
 * The broker's public API.
 */
export { Broker, type BrokerEvents, type BrokerStats, type ConnectionInfo, type ListenAddress } from './broker.js';
export { DEFAULT_PORT, resolveOptions, type BrokerOptions, type ClusterAddress, type Logger } from './options.js';
export type { NameRegistry } from './name-registry.js';
export { loadAuthConfig, policyFromConfig, type AuthConfig } from './auth/config.js';
export { tokenPolicy, allowedByPatterns, sha256, type AuthPolicy, type Identity, type Permission, type Permissions } from './auth/policy.js';
export { HookError } from './hooks.js';
