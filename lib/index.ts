/**
 * The switchboard package: the broker, the protocol it speaks, and local mode (lib/local/README.md).
 */
export * from './broker/index.js';
export * as protocol from './protocol/index.js';
export { connectLocal, type LocalClient, type LocalOptions, type LockKind } from './client/node.js';
