/**
 * The switchboard package: the broker, and the protocol it speaks.
 */
export * from './broker/index.js';
export * as protocol from './protocol/index.js';
